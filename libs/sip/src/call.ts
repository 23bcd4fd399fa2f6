import {
  isRejectStatus,
  translateCause,
  translateOriginator,
  type SipEndCause,
  type SipOriginator,
} from './causes.js';
import { TypedEmitter } from './emitter.js';
import { SipError } from './errors.js';
import {
  isResponse,
  type JsSipCallOptions,
  type JsSipIncomingRequest,
  type JsSipEndEvent,
  type JsSipSession,
  type JsSipSessionEvents,
} from './jssip.js';
import { type SipLogger } from './logger.js';
import { type PassThroughPeerConnection, withPeerConnection } from './passthrough-pc.js';
import type { SipUserAgent } from './user-agent.js';

/**
 * The state of a call.
 *
 * ```
 *  outgoing:  Calling ──1xx──▶ Ringing ──2xx──▶ Established ──BYE──▶ Terminated
 *                └─────────────2xx────────────────▲
 *  incoming:  Ringing ──answer()──▶ Answering ──2xx sent──▶ Established
 *
 *  every state but Terminated ──reject / CANCEL / failure──▶ Terminated
 * ```
 */
export enum SipCallState {
  Calling = 'calling',
  Ringing = 'ringing',
  Answering = 'answering',
  Established = 'established',
  Terminated = 'terminated',
}

const allowedTransitions: Record<SipCallState, readonly SipCallState[]> = {
  [SipCallState.Calling]: [SipCallState.Ringing, SipCallState.Established, SipCallState.Terminated],
  [SipCallState.Ringing]: [SipCallState.Answering, SipCallState.Established, SipCallState.Terminated],
  [SipCallState.Answering]: [SipCallState.Established, SipCallState.Terminated],
  [SipCallState.Established]: [SipCallState.Terminated],
  [SipCallState.Terminated]: [],
};

export type SipCallDirection = 'incoming' | 'outgoing';

/** The other party, from the From (incoming) or To (outgoing) header. */
export interface SipRemoteIdentity {
  /** The user part of the URI (e.g. "0901000001"); empty when the URI has none. */
  user: string;
  displayName: string | undefined;
  uri: string;
}

/** How a call ended (`ended`: it had been established) or failed (`failed`: it never was). */
export interface SipCallEnd {
  cause: SipEndCause;
  by: SipOriginator;
  /** The final SIP status when there was one: received, or sent by a local reject. */
  statusCode?: number;
}

export interface SipCallTermination extends SipCallEnd {
  /** True for `ended` (the call had been established), false for `failed`. */
  established: boolean;
}

export type SipReferResult =
  | { outcome: 'succeeded'; statusCode: number }
  | { outcome: 'failed'; stage: 'request' | 'notify' | 'callEnded'; statusCode?: number };

export type SipEmpty = Record<string, never>;

export interface SipCallEvents {
  stateChanged: { from: SipCallState; to: SipCallState };
  /** Outgoing: a 1xx arrived. Incoming: we sent 180. */
  progress: { statusCode: number; reason: string };
  /** A 2xx was received (outgoing) or sent (incoming). */
  accepted: SipEmpty;
  /** The ACK was sent (outgoing) or received (incoming). */
  confirmed: SipEmpty;
  ended: SipCallEnd;
  failed: SipCallEnd;
  hold: { by: 'local' | 'remote' };
  unhold: { by: 'local' | 'remote' };
  /** A DTMF digit received by SIP INFO (application/dtmf-relay). */
  dtmf: { digit: string; durationMs: number };
  /** The peer asks us to call someone (blind transfer). Call accept() or reject(). */
  refer: { refer: SipIncomingRefer };
  /** Progress of a REFER we sent: 202 received, or a NOTIFY with a provisional status. */
  referProgress: { stage: 'requestAccepted' | 'trying' | 'progress'; statusCode: number };
  remoteTrack: { track: MediaStreamTrack };
}

/** What a {@link SipCall} needs from the user agent that owns it. */
export interface SipCallContext {
  logger: SipLogger;
  pcConfig: RTCConfiguration;
  /** How long an answered call's ICE may take to connect before the call is ended (default {@link ICE_CONNECT_TIMEOUT_MS}). */
  iceConnectTimeoutMs?: number;
  /** Wraps a JsSIP session created on our behalf (a REFER we follow). */
  wrap(session: JsSipSession): SipCall;
}

export interface SipMediaOptions {
  /** The audio to send (a wrtc track). Give either this or `passThrough`. */
  mediaStream?: MediaStream;
  /**
   * Direct media: the leg does no media; its SDP is handed through this object (see
   * DirectMediaCall). No wrtc peer connection, socket or track is created for the leg.
   */
  passThrough?: PassThroughPeerConnection;
  extraHeaders?: string[];
  /**
   * Outgoing calls only: the user part of the From URI, e.g. the customer's number on a leg that
   * brings a transferred customer to another agent (the UA's own user otherwise). JsSIP then adds
   * a P-Preferred-Identity with the UA's real address.
   */
  fromUser?: string;
}

export interface SipDtmfOptions {
  /** Duration announced per digit (ms, 70..6000; default 100). */
  durationMs?: number;
  /** Pause after each digit's INFO was answered (ms; default 70). */
  gapMs?: number;
}

/**
 * How long an answered call's ICE may take to connect: beyond it the call is hung up and ends
 * `{cause: 'iceFailed', by: 'system'}`. JsSIP ends a call whose ICE state turns `failed`, but with
 * no candidate pair at all (a TURN server refusing the credentials with `iceTransportPolicy:
 * relay`) the state never gets there, and the call would stay up without media for ever.
 */
export const ICE_CONNECT_TIMEOUT_MS = 12_000;

/**
 * A call (JsSIP RTCSession) in the vocabulary of libs/sip: string states, typed events,
 * promises for commands, SIP statuses as numbers and causes as {@link SipEndCause}.
 * Created by {@link SipUserAgent} (incoming calls, {@link outgoing}, followed REFERs).
 */
export class SipCall extends TypedEmitter<SipCallEvents> {
  readonly direction: SipCallDirection;
  readonly remote: SipRemoteIdentity;
  /** Resolves once the call is over (never rejects). */
  readonly terminated: Promise<SipCallTermination>;

  private currentState: SipCallState;
  private termination: SipCallTermination | undefined;
  private resolveTerminated!: (termination: SipCallTermination) => void;
  private localStatusCode: number | undefined;
  private localStream: MediaStream | undefined;
  private pc: PassThroughPeerConnection | undefined;
  private readonly logger: SipLogger;
  private readonly watchedConnections = new WeakSet<RTCPeerConnection>();
  private iceTimer: ReturnType<typeof setTimeout> | undefined;
  /** Set when the ICE watchdog hung the call up: the ICE state it saw. */
  private iceFailure: string | undefined;

  constructor(
    private readonly session: JsSipSession,
    private readonly context: SipCallContext,
    mediaStream?: MediaStream,
    private readonly request?: JsSipIncomingRequest,
    passThrough?: PassThroughPeerConnection,
  ) {
    super();
    this.localStream = mediaStream;
    this.pc = passThrough;
    this.direction = session.direction;
    const identity = session.remote_identity;
    this.remote = {
      user: identity.uri.user ?? '',
      displayName: identity.display_name ?? undefined,
      uri: identity.uri.toString(),
    };
    this.currentState = this.direction === 'incoming' ? SipCallState.Ringing : SipCallState.Calling;
    this.logger = context.logger;
    this.terminated = new Promise((resolve) => {
      this.resolveTerminated = resolve;
    });
    this.bindSession();
  }

  /** JsSIP's session id (Call-ID plus tags): unique per call leg. */
  get id(): string {
    return this.session.id;
  }

  get state(): SipCallState {
    return this.currentState;
  }

  get isTerminated(): boolean {
    return this.currentState === SipCallState.Terminated;
  }

  /** How the call ended, once it has. */
  get end(): SipCallTermination | undefined {
    return this.termination;
  }

  get onHold(): { local: boolean; remote: boolean } {
    return this.session.isOnHold();
  }

  /** The stream we send (given to answer() or to the outgoing call). */
  get localMediaStream(): MediaStream | undefined {
    return this.localStream;
  }

  /** The pass-through peer connection of a direct-media leg (no media in this process). */
  get passThrough(): PassThroughPeerConnection | undefined {
    return this.pc;
  }

  /** Incoming calls: the SDP of the INVITE that started the call (undefined for an offerless INVITE). */
  get requestSdp(): string | undefined {
    const body = this.request?.body;
    return typeof body === 'string' && body.length > 0 ? body : undefined;
  }

  /** Incoming calls: a header of the INVITE that started the call (first value); undefined otherwise. */
  requestHeader(name: string): string | undefined {
    return this.request?.getHeader(name) ?? undefined;
  }

  /** The audio track received from the peer, once the peer connection has one. */
  get remoteAudioTrack(): MediaStreamTrack | undefined {
    const pc = this.session.connection;
    if (!pc) return undefined;
    for (const receiver of pc.getReceivers()) {
      if (receiver.track.kind === 'audio') return receiver.track;
    }
    return undefined;
  }

  /** Answers an incoming call; resolves when the 2xx is sent, rejects if the call ends first. */
  answer(options: SipMediaOptions): Promise<void> {
    if (this.direction !== 'incoming' || this.currentState !== SipCallState.Ringing) {
      return Promise.reject(SipError.invalidState('answer()', `${this.direction} ${this.currentState}`));
    }
    const invalid = invalidMediaOptions(options);
    if (invalid) return Promise.reject(SipError.invalidArgument(`answer(): ${invalid}`));
    this.localStream = options.mediaStream;
    this.pc = options.passThrough;
    const done = this.until('accepted', 'answer()');
    try {
      this.transition(SipCallState.Answering);
      const pc = options.passThrough;
      const media = this.mediaOptions(options);
      if (pc) withPeerConnection(pc, () => this.session.answer(media));
      else this.session.answer(media);
    } catch (error) {
      return Promise.reject(asSipError(error, 'answer()'));
    }
    return done;
  }

  /** Rejects an incoming call with a final status (300..699; default 486 Busy Here). */
  reject(statusCode = 486): void {
    if (!isRejectStatus(statusCode)) throw SipError.invalidArgument(`not a reject status: ${statusCode}`);
    if (this.direction !== 'incoming' || this.currentState !== SipCallState.Ringing) {
      throw SipError.invalidState('reject()', `${this.direction} ${this.currentState}`);
    }
    this.localStatusCode = statusCode;
    this.session.terminate({ status_code: statusCode });
  }

  /**
   * Ends the call whatever its state (BYE, CANCEL, or 480 for an unanswered incoming
   * call). Resolves when it is over; idempotent.
   */
  hangup(): Promise<SipCallTermination> {
    if (!this.isTerminated && !this.session.isEnded()) {
      if (this.direction === 'incoming' && this.currentState === SipCallState.Ringing)
        this.localStatusCode = 480;
      try {
        this.session.terminate();
      } catch (error) {
        this.logger.warn('terminate() failed', { error: String(error) });
      }
    }
    return this.terminated;
  }

  /** Puts the call on hold (re-INVITE a=sendonly); resolves when the peer has answered it. */
  hold(): Promise<void> {
    return this.reinvite('hold');
  }

  /** Takes the call off hold (re-INVITE a=sendrecv); resolves when the peer has answered it. */
  unhold(): Promise<void> {
    return this.reinvite('unhold');
  }

  /**
   * Sends a re-INVITE whose offer is the leg's current local description (for a pass-through leg:
   * what its source gives now). Resolves once the peer's answer is applied; rejects with
   * REQUEST_FAILED and the status (e.g. 488, 491) when the peer refuses it. Unlike JsSIP's own
   * renegotiate(), a refused re-INVITE leaves the call up with its previous session (RFC 3261
   * §14.1); a timeout or transport error still ends the call (JsSIP does).
   */
  reoffer(extraHeaders?: string[]): Promise<void> {
    if (this.currentState !== SipCallState.Established) {
      return Promise.reject(SipError.invalidState('reoffer()', this.currentState));
    }
    const session = this.session as unknown as JsSipReinviteInternals;
    if (!session.isReadyToReOffer()) {
      return Promise.reject(SipError.invalidState('reoffer() (an offer is in progress)', this.currentState));
    }
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (error?: SipError): void => {
        if (settled) return;
        settled = true;
        if (error) reject(error);
        else resolve();
      };
      try {
        session._sendReinvite({
          extraHeaders: extraHeaders ?? [],
          eventHandlers: {
            succeeded: () => settle(),
            failed: (response) => settle(SipError.requestFailed('re-INVITE', response?.status_code)),
          },
        });
      } catch (error) {
        settle(asSipError(error, 'reoffer()'));
        return;
      }
      void this.terminated.then(() => settle(SipError.callTerminated('reoffer()')));
    });
  }

  /**
   * Sends DTMF digits (0-9, A-D, *, #) by SIP INFO (application/dtmf-relay), one after
   * the other; resolves when every INFO was answered 2xx. RFC 2833 is not available
   * with wrtc.
   */
  async sendInfoDtmf(digits: string, options: SipDtmfOptions = {}): Promise<void> {
    if (!/^[0-9A-D#*]+$/i.test(digits)) throw SipError.invalidArgument(`invalid DTMF digits: '${digits}'`);
    const durationMs = options.durationMs ?? 100;
    const gapMs = options.gapMs ?? 70;
    for (const digit of digits.toUpperCase()) {
      if (this.currentState !== SipCallState.Established) {
        throw SipError.invalidState('sendInfoDtmf()', this.currentState);
      }
      await this.sendOneDtmf(digit, durationMs);
      await new Promise((resolve) => setTimeout(resolve, gapMs));
    }
  }

  /**
   * Sends a REFER (blind transfer) to `target` (a SIP URI or a user of our domain).
   * Resolves with the outcome reported by the peer's NOTIFYs (the final status of the
   * call it placed), or a failure at the REFER itself; never rejects once sent.
   */
  refer(target: string, options: { extraHeaders?: string[] } = {}): Promise<SipReferResult> {
    if (this.currentState !== SipCallState.Established) {
      return Promise.reject(SipError.invalidState('refer()', this.currentState));
    }
    return new Promise<SipReferResult>((resolve, reject) => {
      let settled = false;
      const settle = (result: SipReferResult): void => {
        if (settled) return;
        settled = true;
        resolve(result);
      };
      try {
        const sent = this.session.refer(target, {
          extraHeaders: options.extraHeaders,
          eventHandlers: {
            requestSucceeded: (e) =>
              this.safeEmit('referProgress', {
                stage: 'requestAccepted',
                statusCode: e.response.status_code,
              }),
            requestFailed: (e) =>
              settle({ outcome: 'failed', stage: 'request', statusCode: e.response?.status_code }),
            trying: (e) =>
              this.safeEmit('referProgress', { stage: 'trying', statusCode: e.status_line.status_code }),
            progress: (e) =>
              this.safeEmit('referProgress', { stage: 'progress', statusCode: e.status_line.status_code }),
            accepted: (e) => settle({ outcome: 'succeeded', statusCode: e.status_line.status_code }),
            failed: (e) =>
              settle({ outcome: 'failed', stage: 'notify', statusCode: e.status_line?.status_code }),
          },
        });
        if (sent === false) {
          settled = true;
          reject(SipError.invalidState('refer()', this.currentState));
          return;
        }
      } catch (error) {
        settled = true;
        reject(asSipError(error, 'refer()'));
        return;
      }
      void this.terminated.then(() => settle({ outcome: 'failed', stage: 'callEnded' }));
    });
  }

  override toString(): string {
    return `SipCall(${this.direction} ${this.remote.uri} ${this.currentState})`;
  }

  protected override onListenerError(event: keyof SipCallEvents, error: unknown): void {
    this.logger.error(`a '${String(event)}' listener threw`, { error: String(error) });
  }

  private mediaOptions(options: SipMediaOptions): JsSipCallOptions {
    return {
      ...(options.mediaStream === undefined ? {} : { mediaStream: options.mediaStream }),
      mediaConstraints: { audio: options.passThrough === undefined, video: false },
      pcConfig: this.context.pcConfig,
      extraHeaders: options.extraHeaders,
      ...(options.fromUser === undefined ? {} : { fromUserName: options.fromUser }),
    };
  }

  private reinvite(kind: 'hold' | 'unhold'): Promise<void> {
    if (this.currentState !== SipCallState.Established) {
      return Promise.reject(SipError.invalidState(`${kind}()`, this.currentState));
    }
    const held = this.session.isOnHold().local;
    if ((kind === 'hold') === held) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const done = (): void => {
        if (settled) return;
        settled = true;
        resolve();
      };
      try {
        const started = kind === 'hold' ? this.session.hold({}, done) : this.session.unhold({}, done);
        if (!started) {
          settled = true;
          reject(SipError.invalidState(`${kind}() (a re-INVITE is in progress)`, this.currentState));
          return;
        }
      } catch (error) {
        settled = true;
        reject(asSipError(error, `${kind}()`));
        return;
      }
      void this.terminated.then(() => {
        if (settled) return;
        settled = true;
        reject(SipError.callTerminated(`${kind}()`));
      });
    });
  }

  private sendOneDtmf(digit: string, durationMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const finish = (error?: SipError): void => {
        if (settled) return;
        settled = true;
        if (error) reject(error);
        else resolve();
      };
      let captured: JsSipSessionEvents['newDTMF']['dtmf'] | undefined;
      const capture = (e: JsSipSessionEvents['newDTMF']): void => {
        if (e.originator === 'local' && !captured) captured = e.dtmf;
      };
      this.session.on('newDTMF', capture);
      try {
        this.session.sendDTMF(digit, { transportType: 'INFO', duration: durationMs, interToneGap: 50 });
      } catch (error) {
        finish(asSipError(error, 'sendInfoDtmf()'));
        return;
      } finally {
        this.session.removeListener('newDTMF', capture);
      }
      if (!captured) {
        finish(SipError.invalidState('sendInfoDtmf()', this.currentState));
        return;
      }
      captured.once('succeeded', () => finish());
      captured.once('failed', (e) => finish(SipError.requestFailed('INFO DTMF', e.response?.status_code)));
      void this.terminated.then(() => finish(SipError.callTerminated('sendInfoDtmf()')));
    });
  }

  /** Resolves on the next `event`, rejects if the call terminates first. */
  private until(event: 'accepted', what: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const off = this.once(event, () => resolve());
      void this.terminated.then(() => {
        off();
        reject(SipError.callTerminated(what));
      });
    });
  }

  private transition(to: SipCallState): void {
    const from = this.currentState;
    if (from === to) return;
    if (!allowedTransitions[from].includes(to)) {
      throw SipError.invalidState(`transition to '${to}'`, from);
    }
    this.currentState = to;
    this.logger.debug(`call ${this.remote.user}: ${from} -> ${to}`);
    this.safeEmit('stateChanged', { from, to });
  }

  /** Runs a JsSIP event handler; an error in our own handling is logged, not thrown into JsSIP. */
  private guard<K extends keyof JsSipSessionEvents>(
    event: K,
    handler: (e: JsSipSessionEvents[K]) => void,
  ): void {
    this.session.on(event, (e: JsSipSessionEvents[K]) => {
      try {
        handler(e);
      } catch (error) {
        this.logger.error(`handling JsSIP '${event}' failed`, { error: String(error) });
      }
    });
  }

  private bindSession(): void {
    if (this.session.connection) this.watchConnection(this.session.connection);
    this.guard('peerconnection', (e) => this.watchConnection(e.peerconnection));
    this.guard('progress', (e) => {
      const statusCode = e.response?.status_code ?? 180;
      if (this.direction === 'outgoing') this.transition(SipCallState.Ringing);
      this.safeEmit('progress', { statusCode, reason: e.response?.reason_phrase ?? 'Ringing' });
    });
    this.guard('accepted', () => {
      this.transition(SipCallState.Established);
      this.watchIce();
      this.safeEmit('accepted', {});
    });
    this.guard('confirmed', () => {
      this.transition(SipCallState.Established);
      this.safeEmit('confirmed', {});
    });
    this.guard('ended', (e) => this.finish(e, true));
    this.guard('failed', (e) => this.finish(e, false));
    this.guard('hold', (e) => this.safeEmit('hold', { by: e.originator === 'remote' ? 'remote' : 'local' }));
    this.guard('unhold', (e) =>
      this.safeEmit('unhold', { by: e.originator === 'remote' ? 'remote' : 'local' }),
    );
    this.guard('newDTMF', (e) => {
      if (e.originator !== 'remote') return;
      this.safeEmit('dtmf', { digit: e.dtmf.tone, durationMs: e.dtmf.duration });
    });
    this.guard('refer', (e) => {
      const uri = e.request.refer_to?.uri;
      const refer = new SipIncomingRefer(
        uri ? stripUriHeaders(uri.toString()) : '',
        uri?.user ?? undefined,
        (name) => uri?.getHeader(name)?.[0],
        (options) => {
          if (options.passThrough) {
            throw SipError.invalidArgument('refer.accept(): a followed REFER cannot use passThrough');
          }
          let created: SipCall | undefined;
          e.accept((session) => {
            created = this.context.wrap(session);
            created.localStream = options.mediaStream;
          }, this.mediaOptions(options));
          if (!created) throw SipError.invalidState('refer.accept()', this.currentState);
          return created;
        },
        () => e.reject(),
      );
      if (this.listenerCount('refer') === 0) {
        this.logger.info(`REFER to ${refer.target} refused: nobody listens to 'refer'`);
        refer.reject();
        return;
      }
      this.safeEmit('refer', { refer });
    });
  }

  private watchConnection(pc: RTCPeerConnection): void {
    if (this.watchedConnections.has(pc)) return;
    this.watchedConnections.add(pc);
    pc.addEventListener('track', (e: RTCTrackEvent) => {
      if (e.track.kind === 'audio') this.safeEmit('remoteTrack', { track: e.track });
    });
  }

  /**
   * Once answered, the call's ICE must connect within the context's timeout; else the call is hung
   * up (BYE) and ends `iceFailed`, by the system ({@link ICE_CONNECT_TIMEOUT_MS}).
   */
  private watchIce(): void {
    if (this.iceTimer) return;
    const timeoutMs = this.context.iceConnectTimeoutMs ?? ICE_CONNECT_TIMEOUT_MS;
    const connected = (): boolean => {
      const state = this.session.connection?.iceConnectionState;
      return state === 'connected' || state === 'completed';
    };
    if (connected()) return;
    this.iceTimer = setTimeout(() => {
      this.iceTimer = undefined;
      if (this.isTerminated || connected()) return;
      this.iceFailure = this.session.connection?.iceConnectionState ?? 'no peer connection';
      this.logger.warn(
        `call ${this.remote.user}: ICE did not connect within ${timeoutMs} ms (state ${this.iceFailure}); hanging up`,
      );
      void this.hangup();
    }, timeoutMs);
    this.iceTimer.unref?.();
  }

  private finish(e: JsSipEndEvent, established: boolean): void {
    if (this.termination) return;
    if (this.iceTimer) clearTimeout(this.iceTimer);
    this.iceTimer = undefined;
    if (this.iceFailure !== undefined) {
      const end: SipCallEnd = { cause: 'iceFailed', by: 'system' };
      this.termination = { ...end, established };
      this.transition(SipCallState.Terminated);
      this.logger.debug(`call ${this.remote.user} ended: ICE failed (${this.iceFailure})`);
      this.safeEmit(established ? 'ended' : 'failed', end);
      this.resolveTerminated(this.termination);
      return;
    }
    const by = translateOriginator(e.originator);
    const statusCode = isResponse(e.message)
      ? e.message.status_code
      : by === 'local'
        ? this.localStatusCode
        : undefined;
    const end: SipCallEnd = { cause: translateCause(e.cause), by };
    if (statusCode !== undefined) end.statusCode = statusCode;
    this.termination = { ...end, established };
    this.transition(SipCallState.Terminated);
    this.logger.debug(`call ${this.remote.user} ${established ? 'ended' : 'failed'}`, { ...end });
    this.safeEmit(established ? 'ended' : 'failed', end);
    this.resolveTerminated(this.termination);
  }
}

/** An incoming REFER: accept it (call the target) or reject it (NOTIFY 603). */
export class SipIncomingRefer {
  private handled = false;

  constructor(
    /** The Refer-To URI, without URI headers. */
    readonly target: string,
    /** The user part of the Refer-To URI. */
    readonly targetUser: string | undefined,
    private readonly uriHeaderFn: (name: string) => string | undefined,
    private readonly acceptFn: (options: SipMediaOptions) => SipCall,
    private readonly rejectFn: () => void,
  ) {}

  get isHandled(): boolean {
    return this.handled;
  }

  /**
   * A header the referrer put in the Refer-To URI (`sip:u@h?Name=value`): RFC 3515 asks the
   * referred party to include it in the request it sends; pass it on in `accept`'s extraHeaders.
   */
  uriHeader(name: string): string | undefined {
    const value = this.uriHeaderFn(name);
    return value === undefined ? undefined : decodeURIComponent(value);
  }

  /** Calls the refer target; the referrer hears the new call's progress by NOTIFY. */
  accept(options: SipMediaOptions): SipCall {
    if (this.handled) throw SipError.invalidState('refer.accept()', 'handled');
    this.handled = true;
    return this.acceptFn(options);
  }

  reject(): void {
    if (this.handled) return;
    this.handled = true;
    this.rejectFn();
  }
}

/**
 * Places a call from `ua` to `target` (a user of the UA's domain, or a SIP URI),
 * sending `mediaStream`. The returned call starts in state Calling.
 */
export function outgoing(ua: SipUserAgent, target: string, options: SipMediaOptions): SipCall {
  return ua.call(target, options);
}

/** The JsSIP internals {@link SipCall.reoffer} uses (JsSIP 3.13's RTCSession). */
interface JsSipReinviteInternals {
  isReadyToReOffer(): boolean;
  _sendReinvite(options: {
    extraHeaders: string[];
    eventHandlers: {
      succeeded: (response?: { status_code: number }) => void;
      failed: (response?: { status_code: number }) => void;
    };
  }): void;
}

/** Why media options are unusable (both or neither of mediaStream and passThrough), or undefined. */
export function invalidMediaOptions(options: SipMediaOptions): string | undefined {
  if (options.mediaStream && options.passThrough) return 'give mediaStream or passThrough, not both';
  if (!options.mediaStream && !options.passThrough) return 'give mediaStream or passThrough';
  return undefined;
}

function stripUriHeaders(uri: string): string {
  const index = uri.indexOf('?');
  return index === -1 ? uri : uri.slice(0, index);
}

function asSipError(error: unknown, what: string): SipError {
  if (error instanceof SipError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof TypeError) return SipError.invalidArgument(`${what}: ${message}`);
  return new SipError('INVALID_STATE', `${what}: ${message}`);
}

export { asSipError as toSipError };
