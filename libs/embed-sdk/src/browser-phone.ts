import JsSIP from 'jssip';
import type {
  CallReport,
  EventDataMap,
  EventEnvelope,
  VoiceCommandAnswer,
  VoiceCommandRequest,
  VoiceTransferAnswer,
  VoiceTransferRequest,
} from '@callgate/contracts';
import {
  CallModel,
  calloutError,
  causeOfStatus,
  type EndCause,
  type EndedBy,
  isTransferId,
  TRANSFER_HEADER,
} from '@callgate/call-core';
import {
  CallDriver,
  isUnrelayedTransferPlaceholder,
  SipError,
  type JsSipCallOptions,
  type JsSipSession,
  type SipCallEnd,
  type SipLogger,
} from '@callgate/sip/driver';

/** What a tab's in-page phone does for the gateway (served by the connection, see {@link PhoneHost}). */
export interface VoiceHandlers {
  /** Runs a call command the gateway relayed; resolves with that command's acknowledgement. */
  command(request: VoiceCommandRequest): Promise<VoiceCommandAnswer>;
  stop(reason: string): Promise<void>;
  /** REFER the call's customer to `target` (a transfer); resolves with the outcome. */
  transfer(request: VoiceTransferRequest): Promise<VoiceTransferAnswer>;
}

/**
 * What the phone needs of the tab's connection to the gateway (CallgateClient is one): the voice
 * events, the `voice.*` requests to serve, and the `call.report` command. The phone depends on
 * this, not on the client, so the client → phone dependency is the only one.
 */
export interface PhoneHost {
  on(type: 'voice.sip', handler: (e: EventEnvelope<'voice.sip'>) => void): () => void;
  on(type: 'voice.changed', handler: (e: EventEnvelope<'voice.changed'>) => void): () => void;
  on(type: 'transfer.response', handler: (e: EventEnvelope<'transfer.response'>) => void): () => void;
  on(type: 'closed', handler: (e: { reason: string }) => void): () => void;
  serveVoice(handlers: VoiceHandlers): void;
  command(
    name: 'call.report',
    payload: CallReport,
  ): Promise<{ ok: true } | { ok: false; code: string; message: string }>;
}

/** The part of JsSIP's UA the phone uses (its calls are driven by the shared CallDriver). */
interface UserAgent {
  start(): void;
  /** JsSIP's runtime configuration change (used for `authorization_user` and `password`). */
  set(parameter: 'authorization_user' | 'password', value: string): boolean;
  stop(): void;
  unregister(options?: { all?: boolean }): void;
  isRegistered(): boolean;
  call(target: string, options: JsSipCallOptions): JsSipSession;
  on(
    event: 'newRTCSession',
    listener: (e: {
      session: JsSipSession;
      originator: 'local' | 'remote';
      request?: { getHeader(name: string): string | undefined; body?: string | null };
    }) => void,
  ): void;
  on(event: 'registered' | 'unregistered' | 'disconnected', listener: () => void): void;
  on(event: 'registrationFailed', listener: (e: { cause?: string }) => void): void;
}

type Credentials = EventDataMap['voice.sip'];

const LOG = '[callgate]';

/** Media that never connected (the driver's ICE watchdog) or stopped (JsSIP's RTP timeout). */
function mediaFailed(end: SipCallEnd): boolean {
  return end.cause === 'iceFailed' || end.cause === 'rtpTimeout';
}

/** The driver's log lines on the page's console (SIP details at debug are left out). */
const pageLogger: SipLogger = {
  debug: () => undefined,
  info: (message, fields) => console.info(`[callgate] ${message}`, fields ?? ''),
  warn: (message, fields) => console.warn(`[callgate] ${message}`, fields ?? ''),
  error: (message, fields) => console.error(`[callgate] ${message}`, fields ?? ''),
};

/** What a relayed command fails with when the SIP exchange did (a refused re-INVITE, an ended call). */
function sipFailure(what: string, error: unknown): VoiceCommandAnswer {
  if (error instanceof SipError && error.code === 'CALL_TERMINATED')
    return { ok: false, code: 'NOT_IN_A_CALL', message: `${what}: the call ended` };
  if (error instanceof SipError && error.code === 'REQUEST_FAILED')
    return {
      ok: false,
      code: 'INTERNAL_ERROR',
      message: `${what} failed: the other side refused it${error.statusCode ? ` (SIP ${error.statusCode})` : ''}`,
    };
  return { ok: false, code: 'NOT_IN_A_CALL', message: `${what}: ${(error as Error).message}` };
}

/**
 * The voice tab's phone (device mode 1): JsSIP in the page registers the agent's extension with
 * the SIP account the gateway hands to the voice tab only (`voice.sip`), carries the calls with
 * the microphone and the speaker, and reports every call event to the gateway, which fans it out
 * to the agent's other tabs and /events. The gateway relays call commands from anywhere to it.
 * Each call is driven by libs/sip's CallDriver, as the gateway's own legs are (same SIP state
 * machine, same commands: hold and mute are reported only once done, a refused hold re-INVITE is
 * an error and leaves the call as it was); the same call-core state machine decides the events.
 */
export class BrowserPhone {
  private ua: UserAgent | undefined;
  private account: Credentials | undefined;
  private driver: CallDriver | undefined;
  private call: CallModel | undefined;
  private audioElement: HTMLMediaElement | undefined;
  /** transfers this agent accepted: a call they bring is answered at once (consent was given) */
  private readonly acceptedTransfers = new Set<string>();
  /** the call whose customer is being REFERred elsewhere: the REFER was accepted (202) */
  private referring: { call: CallModel; requestAccepted: boolean } | undefined;

  constructor(private readonly client: PhoneHost) {
    client.on('voice.sip', (e) => this.start(e.data));
    client.on('voice.changed', (e) => {
      if (!e.data.isEnable) void this.stop('voice moved to another tab');
    });
    client.on('closed', () => void this.stop('client closed'));
    client.on('transfer.response', (e) => {
      // the copy this agent gets as the target of a transfer it (or another of its tabs) accepted
      if (e.data.status === 'OK' && e.data.to === e.ipphone) this.acceptedTransfers.add(e.data.transferId);
    });
    client.serveVoice({
      command: (request) => this.command(request),
      stop: (reason) => this.stop(reason),
      transfer: (request) => this.transfer(request),
    });
  }

  get registered(): boolean {
    return this.ua?.isRegistered() ?? false;
  }

  /** Registers the extension (the gateway sent this tab the account). */
  private start(account: Credentials): void {
    if (this.ua && this.account?.user === account.user) {
      // Fresh short-lived credentials (`pbx.ephemeralAuth`): the running phone answers its next
      // challenge (registration refresh, new call) with them; no re-registration, no call dropped.
      if (account.password !== this.account.password || account.authUser !== this.account.authUser) {
        if (account.authUser !== undefined) this.ua.set('authorization_user', account.authUser);
        this.ua.set('password', account.password);
        this.account = account;
      }
      return;
    }
    void this.stop('new account');
    this.account = account;
    const socket = new JsSIP.WebSocketInterface(account.wsUri);
    const ua = new JsSIP.UA({
      sockets: [socket],
      uri: `sip:${account.user}@${account.sipDomain}`,
      password: account.password,
      ...(account.authUser === undefined ? {} : { authorization_user: account.authUser }),
      ...(account.realm === undefined ? {} : { realm: account.realm }),
      display_name: account.displayName,
      register: true,
      session_timers: false,
      user_agent: 'callgate-sdk (JsSIP)',
    }) as unknown as UserAgent;
    ua.on('newRTCSession', ({ session, originator, request }) => {
      if (originator !== 'remote') return;
      if (isUnrelayedTransferPlaceholder(request?.body ?? '')) {
        // a gateway's transfer placeholder no relay rewrote: refused before it rings, the gateway
        // then offers the customer's own media
        session.terminate({ status_code: 488 });
        return;
      }
      this.incoming(session, request?.getHeader(TRANSFER_HEADER));
    });
    ua.on('registrationFailed', (e) =>
      console.warn('[callgate] the in-page phone could not register:', e.cause),
    );
    this.ua = ua;
    ua.start();
  }

  /** The microphone, and the ICE servers and policy of the account (`pbx.iceServers`). */
  private media(): JsSipCallOptions {
    const account = this.account;
    return {
      mediaConstraints: { audio: true, video: false },
      pcConfig: {
        iceServers: account?.iceServers ?? [],
        ...(account?.iceTransportPolicy === undefined
          ? {}
          : { iceTransportPolicy: account.iceTransportPolicy }),
      },
    };
  }

  /** Unregisters and stops the user agent; a call in progress ends. Resolves once unregistered. */
  private async stop(reason: string): Promise<void> {
    const ua = this.ua;
    if (!ua) return;
    this.ua = undefined;
    this.account = undefined;
    if (this.driver) void this.driver.hangup();
    if (ua.isRegistered()) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 2000);
        ua.on('unregistered', () => {
          clearTimeout(timer);
          resolve();
        });
        ua.unregister();
      });
    }
    ua.stop();
    console.info(`[callgate] in-page phone stopped (${reason})`);
  }

  private incoming(session: JsSipSession, transferHeader: string | undefined): void {
    if (this.call && !this.call.ended) {
      session.terminate({ status_code: 486 });
      return;
    }
    const driver = new CallDriver(session, { logger: pageLogger });
    const phone = driver.remote.user;
    const call = new CallModel(crypto.randomUUID(), 'inbound', phone);
    this.track(driver, call);
    const transferId = isTransferId(transferHeader) ? transferHeader : undefined;
    this.report({
      type: 'call.ringing',
      callId: call.callId,
      data: { phone, ...(transferId ? { transferId } : {}) },
    });
    if (transferId && this.acceptedTransfers.delete(transferId)) {
      // A transfer this agent already accepted: no second consent, the phone answers by itself.
      void driver
        .answerWith(this.media())
        .catch((err: unknown) => console.warn(`${LOG} answer failed:`, err));
    }
    driver.on('failed', ({ by }) => {
      this.finish(
        call,
        by === 'remote' ? 'CUSTOMER_CANCELLED' : 'AGENT_REJECTED',
        by === 'remote' ? 'customer' : 'agent',
      );
    });
  }

  private dial(number: string, transactionId: string | undefined, callerNumber?: string): VoiceCommandAnswer {
    if (!this.ua || !this.account)
      return { ok: false, code: 'DEVICE_NOT_AVAILABLE', message: 'the in-page phone is not registered' };
    if (this.call && !this.call.ended)
      return { ok: false, code: 'CALLOUT_AGENT_BUSY', message: 'already in a call' };
    const call = new CallModel(crypto.randomUUID(), 'outbound', number, transactionId);
    call.transition('dialing');
    const tx = transactionId === undefined ? {} : { transactionId };
    this.report({ type: 'callout.started', callId: call.callId, ...tx, data: { number } });
    const session = this.ua.call(`sip:${number}@${this.account.sipDomain}`, {
      ...this.media(),
      // the callout service's number, set by the gateway: what the customer sees
      ...(callerNumber && /^\+?[0-9]{2,20}$/.test(callerNumber)
        ? { extraHeaders: [`P-Asserted-Identity: <sip:${callerNumber}@${this.account.sipDomain}>`] }
        : {}),
    });
    const driver = new CallDriver(session, { logger: pageLogger });
    this.track(driver, call);
    let rang = false;
    driver.on('progress', () => {
      if (rang || call.ended) return;
      rang = true;
      this.report({ type: 'callout.customerRinging', callId: call.callId, ...tx, data: { number } });
    });
    driver.on('failed', ({ statusCode }) => {
      this.report({
        type: 'callout.failed',
        callId: call.callId,
        ...tx,
        data: calloutError('customer', statusCode),
      });
      this.finish(call, causeOfStatus(statusCode), 'customer');
    });
    return { ok: true, callId: call.callId };
  }

  /** Events common to both directions: answer, remote audio, end. */
  private track(driver: CallDriver, call: CallModel): void {
    this.driver = driver;
    this.call = call;
    driver.on('remoteTrack', ({ track }) => this.playRemote(track));
    driver.on('accepted', () => {
      if (call.ended) return;
      const event = call.transition('active');
      if (event === 'call.accepted' || event === 'call.customerAccepted') {
        this.report({ type: event, callId: call.callId, data: {} });
      }
    });
    driver.on('ended', (end) => {
      const referring = this.referring?.call === call ? this.referring : undefined;
      // A customer that accepted the REFER (202) and then hangs up has left for the target (the
      // transferee may end the old call itself, even before the NOTIFY of its new call's answer).
      if (referring?.requestAccepted) this.finish(call, 'TRANSFERRED', 'agent');
      else if (mediaFailed(end)) this.finish(call, 'MEDIA_FAILED', 'system');
      else this.finish(call, 'NORMAL_CLEARING', end.by === 'remote' ? 'customer' : 'agent');
    });
  }

  private finish(call: CallModel, cause: EndCause, by: EndedBy): void {
    if (call.ended) return;
    call.transition('ended');
    this.report({ type: 'call.ended', callId: call.callId, data: { cause, by, duration: call.duration } });
    if (this.call === call) {
      this.call = undefined;
      this.driver = undefined;
    }
    if (this.referring?.call === call) this.referring = undefined;
  }

  /**
   * Transfer (browser mode): REFERs the customer to the target; the customer's side calls it.
   * When that call is answered (NOTIFY 200) this call ends with TRANSFERRED; when it fails, the
   * customer stays on this call. Real trunks must accept REFER for this (see the README).
   */
  private async transfer(request: VoiceTransferRequest): Promise<VoiceTransferAnswer> {
    const call = this.call;
    const driver = this.driver;
    if (!call || !driver || call.ended) return { ok: false, code: 'NOT_IN_A_CALL', message: 'no call' };
    if (call.callId !== request.callId)
      return {
        ok: false,
        code: 'COULD_NOT_GET_CALL_INFO',
        message: `call ${request.callId} is not this phone's call`,
      };
    const referring = { call, requestAccepted: false };
    this.referring = referring;
    const off = driver.on('referProgress', ({ stage }) => {
      if (stage === 'requestAccepted') referring.requestAccepted = true;
    });
    try {
      const result = await driver.refer(request.target);
      if (result.outcome === 'succeeded') {
        void driver.hangup();
        this.finish(call, 'TRANSFERRED', 'agent');
        return { ok: true, callId: call.callId };
      }
      // the call ended before the outcome's NOTIFY: a success once the customer took the REFER
      if (result.stage === 'callEnded')
        return referring.requestAccepted
          ? { ok: true, callId: call.callId }
          : { ok: false, code: 'NOT_IN_A_CALL', message: 'the call ended during the transfer' };
      const sipCode = result.statusCode;
      return {
        ok: false,
        code: 'TRANSFER_CALL_FAILED',
        message: `the customer's call to the target failed${sipCode ? ` (${sipCode})` : ''}`,
        ...(sipCode ? { sipCode } : {}),
      };
    } catch (err) {
      return { ok: false, code: 'TRANSFER_CALL_FAILED', message: (err as Error).message };
    } finally {
      off();
      if (this.referring === referring) this.referring = undefined;
    }
  }

  /** A call command relayed by the gateway (from this tab, another tab, or REST). */
  private async command(request: VoiceCommandRequest): Promise<VoiceCommandAnswer> {
    if (request.name === 'call.dial') {
      const { number, transactionId, callerNumber } = request.payload;
      if (typeof number !== 'string')
        return { ok: false, code: 'INVALID_PAYLOAD', message: 'call.dial needs a number' };
      return this.dial(number, transactionId, callerNumber);
    }
    const call = this.call;
    const driver = this.driver;
    if (!call || !driver || call.ended) return { ok: false, code: 'NOT_IN_A_CALL', message: 'no call' };
    const callId = call.callId;
    try {
      switch (request.name) {
        case 'call.answer':
          if (call.state !== 'ringing')
            return { ok: false, code: 'NOT_IN_A_CALL', message: `the call is ${call.state}` };
          // answered once the 2xx is sent; `accepted` reports it
          void driver
            .answerWith(this.media())
            .catch((err: unknown) => console.warn(`${LOG} answer failed:`, err));
          return { ok: true, callId };
        case 'call.hangup':
          void driver.hangup();
          return { ok: true, callId };
        case 'call.toggleHold': {
          if (call.state !== 'active' && call.state !== 'held')
            return { ok: false, code: 'NOT_IN_A_CALL', message: `the call is ${call.state}` };
          const held = call.state === 'held';
          // reported only once the peer accepted the re-INVITE; a refusal leaves the call as it was
          if (held) await driver.unhold();
          else await driver.hold();
          if (call.ended) return { ok: false, code: 'NOT_IN_A_CALL', message: 'the call ended' };
          const event = call.transition(held ? 'active' : 'held');
          if (event === 'call.held' || event === 'call.unheld')
            this.report({ type: event, callId, data: {} });
          return { ok: true, callId, held: !held };
        }
        case 'call.toggleMute': {
          if (call.state !== 'active' && call.state !== 'held')
            return { ok: false, code: 'NOT_IN_A_CALL', message: `the call is ${call.state}` };
          if (call.muted) driver.unmute();
          else driver.mute();
          const event = call.toggleMute();
          this.report({ type: event, callId, data: {} });
          return { ok: true, callId, muted: call.muted };
        }
        case 'call.dtmf':
          await driver.sendInfoDtmf(request.payload.digits);
          return { ok: true, callId };
      }
    } catch (err) {
      return sipFailure(request.name, err);
    }
  }

  private report(report: CallReport): void {
    void this.client.command('call.report', report).then((answer) => {
      if (!answer.ok)
        console.warn(`[callgate] the gateway refused the report ${report.type}: ${answer.code}`);
    });
  }

  /** Remote audio: the 3C `peer-video` element, else JS-PHONE's `audio_remote`, else one of ours. */
  private playRemote(track: MediaStreamTrack): void {
    const element = this.element();
    element.srcObject = new MediaStream([track]);
    void element.play().catch((err: unknown) => console.warn(`${LOG} remote audio did not start:`, err));
  }

  private element(): HTMLMediaElement {
    if (this.audioElement) return this.audioElement;
    const found = document.getElementById('peer-video') ?? document.getElementById('audio_remote');
    if (found instanceof HTMLMediaElement) {
      this.audioElement = found;
      return found;
    }
    const audio = document.createElement('audio');
    audio.id = 'callgate-remote-audio';
    audio.autoplay = true;
    audio.style.display = 'none';
    document.body.append(audio);
    this.audioElement = audio;
    return audio;
  }
}
