/**
 * The call driver: one JsSIP RTCSession in the vocabulary of libs/sip (string states, typed
 * events, promises for commands, causes as {@link SipEndCause}). The gateway's legs
 * ({@link SipCall}, JsSIP in Node) and the voice tab's in-page phone (JsSIP in the page) both drive
 * their calls through it, so both follow the same state machine from the same code.
 *
 * Browser-safe: no Node module, no wrtc, no JsSIP import (it drives the session it is given).
 */
import { translateCause, translateOriginator, isRejectStatus } from '../causes.js';
import { TypedEmitter, type EventMap } from '../emitter.js';
import { SipError } from '../errors.js';
import type {
  JsSipCallOptions,
  JsSipEndEvent,
  JsSipIncomingRequest,
  JsSipIncomingResponse,
  JsSipReferEventHandlers,
  JsSipSession,
  JsSipSessionEvents,
} from '../jssip-types.js';
import type { SipLogger } from '../logger.js';
import {
  SipCallState,
  type SipCallDirection,
  type SipCallEnd,
  type SipCallTermination,
  type SipDtmfOptions,
  type SipEmpty,
  type SipReferResult,
  type SipRemoteIdentity,
} from './types.js';

const allowedTransitions: Record<SipCallState, readonly SipCallState[]> = {
  [SipCallState.Calling]: [SipCallState.Ringing, SipCallState.Established, SipCallState.Terminated],
  [SipCallState.Ringing]: [SipCallState.Answering, SipCallState.Established, SipCallState.Terminated],
  [SipCallState.Answering]: [SipCallState.Established, SipCallState.Terminated],
  [SipCallState.Established]: [SipCallState.Terminated],
  [SipCallState.Terminated]: [],
};

/**
 * How long an answered call's ICE may take to connect: beyond it the call is hung up and ends
 * `{cause: 'iceFailed', by: 'system'}`. JsSIP ends a call whose ICE state turns `failed`, but with
 * no candidate pair at all (a TURN server refusing the credentials with `iceTransportPolicy:
 * relay`) the state never gets there, and the call would stay up without media for ever.
 */
export const ICE_CONNECT_TIMEOUT_MS = 12_000;

/**
 * JsSIP 3.13 bug: cancelling an outgoing call after a 1xx drops a 2xx that crosses the CANCEL (the
 * callee answered as we gave up). RFC 3261 §9.1 wants it acknowledged and the call hung up with a
 * BYE; JsSIP sends neither, so the callee (a desk phone picked up as the customer hung up) stays
 * in a call with no one until its Timer H ends it 32 s later. JsSIP does both for a call cancelled
 * before any 1xx, when its `_is_canceled` is set: setting it after the CANCEL makes a crossing 2xx
 * take that path too (a late 1xx then re-sends the CANCEL, which is harmless).
 */
function acknowledgeCrossingAnswer(session: JsSipSession, logger: SipLogger): void {
  const internals = session as unknown as { _is_canceled?: unknown };
  if (typeof internals._is_canceled !== 'boolean') {
    logger.warn('this JsSIP has no _is_canceled: a 2xx crossing our CANCEL would not be acknowledged');
    return;
  }
  internals._is_canceled = true;
}

/** The events of a driven call. */
export interface CallDriverEvents {
  stateChanged: { from: SipCallState; to: SipCallState };
  /** Outgoing: a 1xx arrived. Incoming: we sent 180. */
  progress: { statusCode: number; reason: string };
  /** A 2xx was received (outgoing) or sent (incoming). */
  accepted: SipEmpty;
  /** The ACK was sent (outgoing) or received (incoming). */
  confirmed: SipEmpty;
  ended: SipCallEnd;
  failed: SipCallEnd;
  /** Local: our hold re-INVITE was answered 2xx (never before). Remote: the peer put us on hold. */
  hold: { by: 'local' | 'remote' };
  /** Local: our unhold re-INVITE was answered 2xx (never before). Remote: the peer took us off hold. */
  unhold: { by: 'local' | 'remote' };
  /** Our audio is muted (the local track is disabled; mute involves no SIP exchange). */
  muted: SipEmpty;
  unmuted: SipEmpty;
  /** A DTMF digit received by SIP INFO (application/dtmf-relay). */
  dtmf: { digit: string; durationMs: number };
  /** Progress of a REFER we sent: 202 received, or a NOTIFY with a provisional status. */
  referProgress: { stage: 'requestAccepted' | 'trying' | 'progress'; statusCode: number };
  remoteTrack: { track: MediaStreamTrack };
}

/** What a driver needs besides its session. */
export interface CallDriverOptions {
  logger: SipLogger;
  /** How long an answered call's ICE may take to connect before the call is ended (default {@link ICE_CONNECT_TIMEOUT_MS}). */
  iceConnectTimeoutMs?: number;
}

/**
 * The part of a JsSIP 3.13 RTCSession the driver uses: the public API plus the re-INVITE internals
 * that let a refused re-INVITE leave the call up (JsSIP's own hold() hangs the call up when the
 * peer answers 488) and report a hold only once the peer accepted it.
 */
export interface DrivenSession extends JsSipSession {
  mute(options: { audio: boolean }): void;
  unmute(options: { audio: boolean }): void;
  isMuted(): { audio: boolean };
  isReadyToReOffer(): boolean;
  _sendReinvite(options: {
    extraHeaders: string[];
    /** Passed to the peer connection's createOffer(); `iceRestart` asks for new ICE credentials. */
    rtcOfferConstraints?: { iceRestart?: boolean };
    eventHandlers: {
      succeeded: (response?: { status_code: number }) => void;
      failed: (response?: { status_code: number }) => void;
    };
  }): void;
  /** Read by JsSIP when it builds an offer (sendonly while held). */
  _localHold: boolean;
  /** JsSIP's hold bookkeeping: disables the local audio and emits `hold`. */
  _onhold(originator: 'local'): void;
  _onunhold(originator: 'local'): void;
}

/**
 * Drives one call. The state machine:
 *
 * ```
 *  outgoing:  Calling ──1xx──▶ Ringing ──2xx──▶ Established ──BYE──▶ Terminated
 *                └─────────────2xx────────────────▲
 *  incoming:  Ringing ──answer()──▶ Answering ──2xx sent──▶ Established
 *
 *  every state but Terminated ──reject / CANCEL / failure──▶ Terminated
 * ```
 *
 * Commands return promises that settle with the SIP exchange: `hold()` resolves (and `hold`
 * is emitted) only once the peer answered the re-INVITE 2xx; a refused re-INVITE rejects with
 * REQUEST_FAILED and its status, and leaves the call up and as it was (RFC 3261 §14.1).
 */
export class CallDriver<E extends CallDriverEvents & EventMap<E> = CallDriverEvents> extends TypedEmitter<E> {
  readonly direction: SipCallDirection;
  readonly remote: SipRemoteIdentity;
  /** Resolves once the call is over (never rejects). */
  readonly terminated: Promise<SipCallTermination>;

  protected readonly logger: SipLogger;
  private currentState: SipCallState;
  private termination: SipCallTermination | undefined;
  private resolveTerminated!: (termination: SipCallTermination) => void;
  private localStatusCode: number | undefined;
  private readonly watchedConnections = new WeakSet<RTCPeerConnection>();
  private iceTimer: ReturnType<typeof setTimeout> | undefined;
  /** Set when the ICE watchdog hung the call up: the ICE state it saw. */
  private iceFailure: string | undefined;
  /** A hold or unhold of ours is in progress (its re-INVITE is not answered yet). */
  private reinviting = false;
  /** Our hold, as the peer accepted it (JsSIP's own flag turns while the re-INVITE is out). */
  private heldLocally = false;

  constructor(
    protected readonly session: JsSipSession,
    private readonly driverOptions: CallDriverOptions,
  ) {
    super();
    this.direction = session.direction;
    const identity = session.remote_identity;
    this.remote = {
      user: identity.uri.user ?? '',
      displayName: identity.display_name ?? undefined,
      uri: identity.uri.toString(),
    };
    this.currentState = this.direction === 'incoming' ? SipCallState.Ringing : SipCallState.Calling;
    this.logger = driverOptions.logger;
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

  /** `local`: our hold, once the peer accepted it; `remote`: the peer holds us. */
  get onHold(): { local: boolean; remote: boolean } {
    return { local: this.heldLocally, remote: this.session.isOnHold().remote };
  }

  /** Whether our audio is muted ({@link mute}). */
  get isMuted(): boolean {
    return this.driven.isMuted().audio;
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

  /**
   * Answers an incoming call with these JsSIP options; resolves when the 2xx is sent, rejects if
   * the call ends first. `around` runs the JsSIP answer (e.g. inside a pass-through peer connection).
   */
  answerWith(media: JsSipCallOptions, around?: (answer: () => void) => void): Promise<void> {
    if (this.direction !== 'incoming' || this.currentState !== SipCallState.Ringing) {
      return Promise.reject(SipError.invalidState('answer()', `${this.direction} ${this.currentState}`));
    }
    const done = this.untilAccepted('answer()');
    try {
      this.transition(SipCallState.Answering);
      const answer = (): void => this.session.answer(media);
      if (around) around(answer);
      else answer();
    } catch (error) {
      return Promise.reject(toSipError(error, 'answer()'));
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
      const cancelling = this.direction === 'outgoing' && this.session.isInProgress();
      try {
        this.session.terminate();
      } catch (error) {
        this.logger.warn('terminate() failed', { error: String(error) });
      }
      if (cancelling) acknowledgeCrossingAnswer(this.session, this.logger);
    }
    return this.terminated;
  }

  /**
   * Puts the call on hold (re-INVITE a=sendonly). Resolves, and emits `hold`, once the peer
   * answered 2xx; a refusal rejects with REQUEST_FAILED (the call stays up, not held).
   */
  hold(): Promise<void> {
    return this.reinviteHold(true);
  }

  /** Takes the call off hold (re-INVITE a=sendrecv); as {@link hold}, `unhold` after the 2xx. */
  unhold(): Promise<void> {
    return this.reinviteHold(false);
  }

  /** Mutes our audio (the local track; no SIP exchange). Emits `muted` once the track is off. */
  mute(): void {
    this.muteAudio(true);
  }

  unmute(): void {
    this.muteAudio(false);
  }

  /**
   * Sends a re-INVITE whose offer is the leg's current local description. Resolves once the
   * peer's answer is applied; rejects with REQUEST_FAILED and the status (e.g. 488, 491) when the
   * peer refuses it. Unlike JsSIP's own renegotiate(), a refused re-INVITE leaves the call up with
   * its previous session (RFC 3261 §14.1); a timeout or transport error still ends the call (JsSIP
   * does).
   */
  reoffer(extraHeaders?: string[]): Promise<void> {
    return this.sendReinvite('reoffer()', extraHeaders ?? []);
  }

  /**
   * Restarts ICE: a re-INVITE whose offer has new ICE credentials (e.g. after a network change);
   * settles as {@link reoffer}. The peer answers with new credentials of its own (RFC 8839 §4.4.1.1).
   */
  restartIce(): Promise<void> {
    return this.sendReinvite('restartIce()', [], { iceRestart: true });
  }

  /**
   * Sends DTMF digits (0-9, A-D, *, #) by SIP INFO (application/dtmf-relay), one after
   * the other; resolves when every INFO was answered 2xx.
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
      const progress = (stage: 'requestAccepted' | 'trying' | 'progress', statusCode: number): void =>
        this.emitDriver('referProgress', { stage, statusCode });
      const handlers: JsSipReferEventHandlers = {
        requestSucceeded: (e) => progress('requestAccepted', e.response.status_code),
        requestFailed: (e) =>
          settle({ outcome: 'failed', stage: 'request', statusCode: e.response?.status_code }),
        trying: (e) => progress('trying', e.status_line.status_code),
        progress: (e) => progress('progress', e.status_line.status_code),
        accepted: (e) => settle({ outcome: 'succeeded', statusCode: e.status_line.status_code }),
        failed: (e) => settle({ outcome: 'failed', stage: 'notify', statusCode: e.status_line?.status_code }),
      };
      try {
        const sent = this.session.refer(target, {
          extraHeaders: options.extraHeaders,
          eventHandlers: handlers,
        });
        if (sent === false) {
          settled = true;
          reject(SipError.invalidState('refer()', this.currentState));
          return;
        }
      } catch (error) {
        settled = true;
        reject(toSipError(error, 'refer()'));
        return;
      }
      void this.terminated.then(() => settle({ outcome: 'failed', stage: 'callEnded' }));
    });
  }

  override toString(): string {
    return `CallDriver(${this.direction} ${this.remote.uri} ${this.currentState})`;
  }

  protected override onListenerError(event: keyof E, error: unknown): void {
    this.logger.error(`a '${String(event)}' listener threw`, { error: String(error) });
  }

  /** Emits one of the driver's own events (whatever the subclass's event map adds). */
  protected emitDriver<K extends keyof CallDriverEvents>(event: K, payload: CallDriverEvents[K]): void {
    (this as unknown as CallDriver).safeEmit(event, payload);
  }

  /** Runs a JsSIP event handler; an error in our own handling is logged, not thrown into JsSIP. */
  protected guard<K extends keyof JsSipSessionEvents>(
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

  private get driven(): DrivenSession {
    return this.session as DrivenSession;
  }

  private muteAudio(muted: boolean): void {
    if (this.currentState !== SipCallState.Established) {
      throw SipError.invalidState(muted ? 'mute()' : 'unmute()', this.currentState);
    }
    if (this.isMuted === muted) return;
    if (muted) this.driven.mute({ audio: true });
    else this.driven.unmute({ audio: true });
    if (this.isMuted !== muted) throw SipError.invalidState(muted ? 'mute()' : 'unmute()', this.currentState);
    this.emitDriver(muted ? 'muted' : 'unmuted', {});
  }

  private reinviteHold(held: boolean): Promise<void> {
    const what = held ? 'hold()' : 'unhold()';
    if (this.currentState !== SipCallState.Established) {
      return Promise.reject(SipError.invalidState(what, this.currentState));
    }
    const session = this.driven;
    if (this.reinviting || !session.isReadyToReOffer()) {
      return Promise.reject(SipError.invalidState(`${what} (a re-INVITE is in progress)`, this.currentState));
    }
    if (this.heldLocally === held) return Promise.resolve();
    // JsSIP builds the offer from _localHold (sendonly while held); it only becomes the call's
    // state, with JsSIP's hold bookkeeping and our event, once the peer accepted it.
    session._localHold = held;
    this.reinviting = true;
    return this.sendReinvite(what, []).then(
      () => {
        this.reinviting = false;
        this.heldLocally = held;
        if (held) session._onhold('local');
        else session._onunhold('local');
        this.emitDriver(held ? 'hold' : 'unhold', { by: 'local' });
      },
      (error: unknown) => {
        this.reinviting = false;
        if (!this.isTerminated) session._localHold = !held;
        this.logger.info(`call ${this.remote.user}: ${what} refused`, { error: String(error) });
        throw error;
      },
    );
  }

  private sendReinvite(
    what: string,
    extraHeaders: string[],
    rtcOfferConstraints?: { iceRestart?: boolean },
  ): Promise<void> {
    if (this.currentState !== SipCallState.Established) {
      return Promise.reject(SipError.invalidState(what, this.currentState));
    }
    const session = this.driven;
    if (!session.isReadyToReOffer()) {
      return Promise.reject(SipError.invalidState(`${what} (an offer is in progress)`, this.currentState));
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
          extraHeaders,
          ...(rtcOfferConstraints === undefined ? {} : { rtcOfferConstraints }),
          eventHandlers: {
            succeeded: () => settle(),
            failed: (response) => settle(SipError.requestFailed('re-INVITE', response?.status_code)),
          },
        });
      } catch (error) {
        settle(toSipError(error, what));
        return;
      }
      void this.terminated.then(() => settle(SipError.callTerminated(what)));
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
        finish(toSipError(error, 'sendInfoDtmf()'));
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

  /** Resolves on the next `accepted`, rejects if the call terminates first. */
  private untilAccepted(what: string): Promise<void> {
    const self = this as unknown as CallDriver;
    return new Promise<void>((resolve, reject) => {
      const off = self.once('accepted', () => resolve());
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
    this.emitDriver('stateChanged', { from, to });
  }

  private bindSession(): void {
    if (this.session.connection) this.watchConnection(this.session.connection);
    this.guard('peerconnection', (e) => this.watchConnection(e.peerconnection));
    this.guard('progress', (e) => {
      const statusCode = e.response?.status_code ?? 180;
      if (this.direction === 'outgoing') this.transition(SipCallState.Ringing);
      this.emitDriver('progress', { statusCode, reason: e.response?.reason_phrase ?? 'Ringing' });
    });
    this.guard('accepted', () => {
      this.transition(SipCallState.Established);
      this.watchIce();
      this.emitDriver('accepted', {});
    });
    this.guard('confirmed', () => {
      this.transition(SipCallState.Established);
      this.emitDriver('confirmed', {});
    });
    this.guard('ended', (e) => this.finish(e, true));
    this.guard('failed', (e) => this.finish(e, false));
    // Our own hold and unhold are emitted once the peer accepted them (reinviteHold).
    this.guard('hold', (e) => {
      if (e.originator === 'remote') this.emitDriver('hold', { by: 'remote' });
    });
    this.guard('unhold', (e) => {
      if (e.originator === 'remote') this.emitDriver('unhold', { by: 'remote' });
    });
    this.guard('newDTMF', (e) => {
      if (e.originator !== 'remote') return;
      this.emitDriver('dtmf', { digit: e.dtmf.tone, durationMs: e.dtmf.duration });
    });
  }

  private watchConnection(pc: RTCPeerConnection): void {
    if (this.watchedConnections.has(pc)) return;
    this.watchedConnections.add(pc);
    pc.addEventListener('track', (e: RTCTrackEvent) => {
      if (e.track.kind === 'audio') this.emitDriver('remoteTrack', { track: e.track });
    });
  }

  /**
   * Whether the call's media is not in this process (a direct-media leg: its peer connection only
   * hands SDP through and never connects ICE): no ICE watchdog then. Subclasses say so.
   */
  protected mediaElsewhere(): boolean {
    return false;
  }

  /**
   * Once answered, the call's ICE must connect within the timeout; else the call is hung up (BYE)
   * and ends `iceFailed`, by the system ({@link ICE_CONNECT_TIMEOUT_MS}).
   */
  private watchIce(): void {
    if (this.iceTimer || this.mediaElsewhere()) return;
    const timeoutMs = this.driverOptions.iceConnectTimeoutMs ?? ICE_CONNECT_TIMEOUT_MS;
    const connected = (): boolean => {
      const state = this.session.connection?.iceConnectionState;
      return state === 'connected' || state === 'completed';
    };
    if (connected()) return;
    const timer = setTimeout(() => {
      this.iceTimer = undefined;
      if (this.isTerminated || connected()) return;
      this.iceFailure = this.session.connection?.iceConnectionState ?? 'no peer connection';
      this.logger.warn(
        `call ${this.remote.user}: ICE did not connect within ${timeoutMs} ms (state ${this.iceFailure}); hanging up`,
      );
      void this.hangup();
    }, timeoutMs);
    // Node: the watchdog alone does not keep the process alive (a browser's timer is a number)
    if (typeof timer === 'object') timer.unref?.();
    this.iceTimer = timer;
  }

  private finish(e: JsSipEndEvent, established: boolean): void {
    if (this.termination) return;
    if (this.iceTimer) clearTimeout(this.iceTimer);
    this.iceTimer = undefined;
    let end: SipCallEnd;
    if (this.iceFailure !== undefined) {
      end = { cause: 'iceFailed', by: 'system' };
    } else {
      const by = translateOriginator(e.originator);
      const statusCode = isResponse(e.message)
        ? e.message.status_code
        : by === 'local'
          ? this.localStatusCode
          : undefined;
      end = { cause: translateCause(e.cause), by };
      if (statusCode !== undefined) end.statusCode = statusCode;
    }
    this.termination = { ...end, established };
    this.transition(SipCallState.Terminated);
    const detail = this.iceFailure === undefined ? '' : ` (ICE ${this.iceFailure})`;
    this.logger.debug(`call ${this.remote.user} ${established ? 'ended' : 'failed'}${detail}`, { ...end });
    this.emitDriver(established ? 'ended' : 'failed', end);
    this.resolveTerminated(this.termination);
  }
}

/** True when `message` is a response (it carries a status code). */
export function isResponse(
  message: JsSipIncomingResponse | JsSipIncomingRequest | null | undefined,
): message is JsSipIncomingResponse {
  return typeof message === 'object' && message !== null && 'status_code' in message;
}

/** Any error as a SipError (a TypeError as INVALID_ARGUMENT, anything else as INVALID_STATE). */
export function toSipError(error: unknown, what: string): SipError {
  if (error instanceof SipError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof TypeError) return SipError.invalidArgument(`${what}: ${message}`);
  return new SipError('INVALID_STATE', `${what}: ${message}`);
}
