import JsSIP from 'jssip';
import type {
  CallReport,
  EventDataMap,
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
import type { CallgateClient } from './client.js';

/**
 * How long an answered call's ICE may take to connect before the phone hangs up (MEDIA_FAILED);
 * the gateway's own legs use the same bound (libs/sip ICE_CONNECT_TIMEOUT_MS).
 */
const ICE_CONNECT_TIMEOUT_MS = 12_000;

/** The part of a JsSIP RTCSession the phone uses (JsSIP ships no types worth trusting). */
interface Session {
  direction: 'incoming' | 'outgoing';
  remote_identity: { uri: { user: string | null } };
  connection: RTCPeerConnection | null | undefined;
  answer(options: { mediaConstraints: MediaStreamConstraints; pcConfig?: RTCConfiguration }): void;
  terminate(options?: { status_code?: number }): void;
  hold(): boolean;
  unhold(): boolean;
  isOnHold(): { local: boolean; remote: boolean };
  mute(options: { audio: boolean }): void;
  unmute(options: { audio: boolean }): void;
  isMuted(): { audio: boolean };
  sendDTMF(tones: string, options: { transportType: 'INFO' | 'RFC2833' }): void;
  refer(target: string, options: { eventHandlers: ReferHandlers }): unknown;
  isEnded(): boolean;
  on(event: string, listener: (e: SessionEvent) => void): void;
}

/** What JsSIP tells about a REFER we sent (its 202, then the NOTIFYs of the customer's new call). */
interface ReferHandlers {
  requestSucceeded?: () => void;
  requestFailed?: (e: { response?: { status_code?: number } | null }) => void;
  accepted?: () => void;
  failed?: (e: { status_line?: { status_code?: number } }) => void;
}

interface SessionEvent {
  originator?: 'local' | 'remote' | 'system';
  cause?: string;
  message?: { status_code?: number } | null;
  peerconnection?: RTCPeerConnection;
}

interface UserAgent {
  start(): void;
  /** JsSIP's runtime configuration change (used for `authorization_user` and `password`). */
  set(parameter: 'authorization_user' | 'password', value: string): boolean;
  stop(): void;
  unregister(options?: { all?: boolean }): void;
  isRegistered(): boolean;
  call(
    target: string,
    options: { mediaConstraints: MediaStreamConstraints; pcConfig?: RTCConfiguration },
  ): Session;
  on(
    event: 'newRTCSession',
    listener: (e: {
      session: Session;
      originator: 'local' | 'remote';
      request?: { getHeader(name: string): string | undefined };
    }) => void,
  ): void;
  on(event: 'registered' | 'unregistered' | 'disconnected', listener: () => void): void;
  on(event: 'registrationFailed', listener: (e: { cause?: string }) => void): void;
}

type Credentials = EventDataMap['voice.sip'];
type Answer = { ok: true; [key: string]: unknown } | { ok: false; code: string; message: string };

const AUDIO: MediaStreamConstraints = { audio: true, video: false };

/**
 * The voice tab's phone (device mode 1): JsSIP in the page registers the agent's extension with
 * the SIP account the gateway hands to the voice tab only (`voice.sip`), carries the calls with
 * the microphone and the speaker, and reports every call event to the gateway, which fans it out
 * to the agent's other tabs and /events. The gateway relays call commands from anywhere to it.
 * The same call-core state machine as the gateway's server-side calls decides the events.
 */
export class BrowserPhone {
  private ua: UserAgent | undefined;
  private account: Credentials | undefined;
  private session: Session | undefined;
  private call: CallModel | undefined;
  private audioElement: HTMLMediaElement | undefined;
  /** transfers this agent accepted: a call they bring is answered at once (consent was given) */
  private readonly acceptedTransfers = new Set<string>();
  /** the call whose customer is being REFERred elsewhere, and what to do if it ends meanwhile */
  private referring: { call: CallModel; requestAccepted: boolean; ended: () => void } | undefined;

  constructor(private readonly client: CallgateClient) {
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
      command: (name, payload) => this.command(name, payload),
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
      if (originator === 'remote') this.incoming(session, request?.getHeader(TRANSFER_HEADER));
    });
    ua.on('registrationFailed', (e) =>
      console.warn('[callgate] the in-page phone could not register:', e.cause),
    );
    this.ua = ua;
    ua.start();
  }

  /** The microphone, and the ICE servers and policy of the account (`pbx.iceServers`). */
  private media(): { mediaConstraints: MediaStreamConstraints; pcConfig: RTCConfiguration } {
    const account = this.account;
    return {
      mediaConstraints: AUDIO,
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
    if (this.session && !this.session.isEnded()) this.session.terminate();
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

  private incoming(session: Session, transferHeader: string | undefined): void {
    if (this.call && !this.call.ended) {
      session.terminate({ status_code: 486 });
      return;
    }
    const phone = session.remote_identity.uri.user ?? '';
    const call = new CallModel(crypto.randomUUID(), 'inbound', phone);
    this.track(session, call);
    const transferId = isTransferId(transferHeader) ? transferHeader : undefined;
    this.report({
      type: 'call.ringing',
      callId: call.callId,
      data: { phone, ...(transferId ? { transferId } : {}) },
    });
    if (transferId && this.acceptedTransfers.delete(transferId)) {
      // A transfer this agent already accepted: no second consent, the phone answers by itself.
      session.answer(this.media());
    }
    session.on('failed', (e) => {
      this.finish(
        call,
        e.originator === 'remote' ? 'CUSTOMER_CANCELLED' : 'AGENT_REJECTED',
        e.originator === 'remote' ? 'customer' : 'agent',
      );
    });
  }

  private dial(number: string, transactionId: string | undefined, callerNumber?: string): Answer {
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
    this.track(session, call);
    let rang = false;
    session.on('progress', () => {
      if (rang || call.ended) return;
      rang = true;
      this.report({ type: 'callout.customerRinging', callId: call.callId, ...tx, data: { number } });
    });
    session.on('failed', (e) => {
      const sipCode = e.message?.status_code;
      this.report({
        type: 'callout.failed',
        callId: call.callId,
        ...tx,
        data: calloutError('customer', sipCode),
      });
      this.finish(call, causeOfStatus(sipCode), 'customer');
    });
    return { ok: true, callId: call.callId };
  }

  /** Events common to both directions: answer, remote audio, end. */
  private track(session: Session, call: CallModel): void {
    this.session = session;
    this.call = call;
    let iceTimer: ReturnType<typeof setTimeout> | undefined;
    let iceFailed = false;
    session.on('peerconnection', (e) => e.peerconnection && this.playRemote(e.peerconnection));
    if (session.connection) this.playRemote(session.connection);
    session.on('accepted', () => {
      if (call.ended) return;
      const event = call.transition('active');
      if (event === 'call.accepted' || event === 'call.customerAccepted') {
        this.report({ type: event, callId: call.callId, data: {} });
      }
      // Media that never connects (no candidate pair: a TURN server refusing us under 'relay')
      // would leave the call up and silent for ever: hang up and report MEDIA_FAILED.
      iceTimer = setTimeout(() => {
        const state = session.connection?.iceConnectionState;
        if (session.isEnded() || state === 'connected' || state === 'completed') return;
        console.warn(
          `[callgate] ICE did not connect within ${ICE_CONNECT_TIMEOUT_MS} ms (${state}): hanging up`,
        );
        iceFailed = true;
        session.terminate();
      }, ICE_CONNECT_TIMEOUT_MS);
    });
    session.on('ended', (e) => {
      clearTimeout(iceTimer);
      const referring = this.referring?.call === call ? this.referring : undefined;
      // A customer that accepted the REFER (202) and then hangs up has left for the target (the
      // transferee may end the old call itself, even before the NOTIFY of its new call's answer).
      if (referring?.requestAccepted) this.finish(call, 'TRANSFERRED', 'agent');
      else if (iceFailed || e.cause === JsSIP.C.causes.RTP_TIMEOUT)
        this.finish(call, 'MEDIA_FAILED', 'system');
      else this.finish(call, 'NORMAL_CLEARING', e.originator === 'remote' ? 'customer' : 'agent');
      referring?.ended();
    });
  }

  private finish(call: CallModel, cause: EndCause, by: EndedBy): void {
    if (call.ended) return;
    call.transition('ended');
    this.report({ type: 'call.ended', callId: call.callId, data: { cause, by, duration: call.duration } });
    if (this.call === call) {
      this.call = undefined;
      this.session = undefined;
    }
    if (this.referring?.call === call) this.referring = undefined;
  }

  /**
   * Transfer (browser mode): REFERs the customer to the target; the customer's side calls it.
   * When that call is answered (NOTIFY 200) this call ends with TRANSFERRED; when it fails, the
   * customer stays on this call. Real trunks must accept REFER for this (see the README).
   */
  private transfer(request: VoiceTransferRequest): Promise<VoiceTransferAnswer> {
    const call = this.call;
    const session = this.session;
    if (!call || !session || call.ended)
      return Promise.resolve({ ok: false, code: 'NOT_IN_A_CALL', message: 'no call' });
    if (call.callId !== request.callId)
      return Promise.resolve({
        ok: false,
        code: 'COULD_NOT_GET_CALL_INFO',
        message: `call ${request.callId} is not this phone's call`,
      });
    return new Promise((resolve) => {
      let settled = false;
      const settle = (answer: VoiceTransferAnswer): void => {
        if (settled) return;
        settled = true;
        if (this.referring === referring) this.referring = undefined;
        resolve(answer);
      };
      const failed = (sipCode: number | undefined): void =>
        settle({
          ok: false,
          code: 'TRANSFER_CALL_FAILED',
          message: `the customer's call to the target failed${sipCode ? ` (${sipCode})` : ''}`,
          ...(sipCode ? { sipCode } : {}),
        });
      const referring = {
        call,
        requestAccepted: false,
        // the call ended before the outcome's NOTIFY: a success once the customer took the REFER
        ended: (): void =>
          settle(
            referring.requestAccepted
              ? { ok: true, callId: call.callId }
              : { ok: false, code: 'NOT_IN_A_CALL', message: 'the call ended during the transfer' },
          ),
      };
      this.referring = referring;
      try {
        session.refer(request.target, {
          eventHandlers: {
            requestSucceeded: () => {
              referring.requestAccepted = true;
            },
            requestFailed: (e) => failed(e.response?.status_code ?? undefined),
            failed: (e) => failed(e.status_line?.status_code),
            accepted: () => {
              if (!session.isEnded()) session.terminate();
              this.finish(call, 'TRANSFERRED', 'agent');
              settle({ ok: true, callId: call.callId });
            },
          },
        });
      } catch (err) {
        settle({ ok: false, code: 'TRANSFER_CALL_FAILED', message: (err as Error).message });
      }
    });
  }

  /** A call command relayed by the gateway (from this tab, another tab, or REST). */
  private command(name: string, payload: Record<string, unknown>): Promise<Answer> {
    try {
      if (name === 'call.dial') {
        const tx = typeof payload.transactionId === 'string' ? payload.transactionId : undefined;
        const caller = typeof payload.callerNumber === 'string' ? payload.callerNumber : undefined;
        return Promise.resolve(this.dial(String(payload.number), tx, caller));
      }
      const call = this.call;
      const session = this.session;
      if (!call || !session || call.ended)
        return Promise.resolve({ ok: false, code: 'NOT_IN_A_CALL', message: 'no call' });
      const done = (extra: Record<string, unknown> = {}): Promise<Answer> =>
        Promise.resolve({ ok: true, callId: call.callId, ...extra });
      switch (name) {
        case 'call.answer':
          if (call.state !== 'ringing')
            return Promise.resolve({
              ok: false,
              code: 'NOT_IN_A_CALL',
              message: `the call is ${call.state}`,
            });
          session.answer(this.media());
          return done();
        case 'call.hangup':
          session.terminate();
          return done();
        case 'call.toggleHold': {
          const held = call.state === 'held';
          const event = call.transition(held ? 'active' : 'held');
          if (held) session.unhold();
          else session.hold();
          if (event === 'call.held' || event === 'call.unheld')
            this.report({ type: event, callId: call.callId, data: {} });
          return done({ held: !held });
        }
        case 'call.toggleMute': {
          const event = call.toggleMute();
          if (call.muted) session.mute({ audio: true });
          else session.unmute({ audio: true });
          this.report({ type: event, callId: call.callId, data: {} });
          return done({ muted: call.muted });
        }
        case 'call.dtmf':
          session.sendDTMF(String(payload.digits), { transportType: 'INFO' });
          return done();
        default:
          return Promise.resolve({ ok: false, code: 'UNKNOWN_COMMAND', message: name });
      }
    } catch (err) {
      return Promise.resolve({ ok: false, code: 'NOT_IN_A_CALL', message: (err as Error).message });
    }
  }

  private report(report: CallReport): void {
    void this.client.command('call.report', report).then((answer) => {
      if (!answer.ok)
        console.warn(`[callgate] the gateway refused the report ${report.type}: ${answer.code}`);
    });
  }

  /** Remote audio: the 3C `peer-video` element, else JS-PHONE's `audio_remote`, else one of ours. */
  private playRemote(pc: RTCPeerConnection): void {
    pc.addEventListener('track', (e) => {
      const element = this.element();
      element.srcObject = e.streams[0] ?? new MediaStream([e.track]);
      void element
        .play()
        .catch((err: unknown) => console.warn('[callgate] remote audio did not start:', err));
    });
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
