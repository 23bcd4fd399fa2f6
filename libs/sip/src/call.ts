import { isRejectStatus } from './causes.js';
import { SipError } from './errors.js';
import { SipCallState } from './driver/types.js';
import { CallDriver, toSipError, type CallDriverEvents } from './driver/call-driver.js';
import type { JsSipCallOptions, JsSipIncomingRequest, JsSipSession } from './jssip.js';
import { type SipLogger } from './logger.js';
import { sendOfferlessReinvite } from './offerless-reinvite.js';
import { type PassThroughPeerConnection, withPeerConnection } from './passthrough-pc.js';
import type { SipUserAgent } from './user-agent.js';

export { ICE_CONNECT_TIMEOUT_MS } from './driver/call-driver.js';
export {
  SipCallState,
  type SipCallDirection,
  type SipCallEnd,
  type SipCallTermination,
  type SipDtmfOptions,
  type SipEmpty,
  type SipReferResult,
  type SipRemoteIdentity,
} from './driver/types.js';

/** JsSIP's Transactions C.STATUS_PROCEEDING: a server transaction that has sent no final answer yet. */
const JSSIP_TRANSACTION_PROCEEDING = 2;

/** The events of a gateway leg: the driver's, and the REFERs the peer sends us. */
export interface SipCallEvents extends CallDriverEvents {
  /** The peer asks us to call someone (blind transfer). Call accept() or reject(). */
  refer: { refer: SipIncomingRefer };
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

/**
 * A gateway leg: a JsSIP RTCSession in Node driven by the shared {@link CallDriver} (state machine,
 * commands, events), plus what only the gateway does: wrtc or pass-through media, the INVITE that
 * started the call, and REFERs the peer sends us.
 * Created by {@link SipUserAgent} (incoming calls, {@link outgoing}, followed REFERs).
 */
export class SipCall extends CallDriver<SipCallEvents> {
  private localStream: MediaStream | undefined;
  private pc: PassThroughPeerConnection | undefined;
  private refusedReinvite: number | undefined;

  constructor(
    session: JsSipSession,
    private readonly context: SipCallContext,
    mediaStream?: MediaStream,
    private readonly request?: JsSipIncomingRequest,
    passThrough?: PassThroughPeerConnection,
  ) {
    super(session, {
      logger: context.logger,
      ...(context.iceConnectTimeoutMs === undefined
        ? {}
        : { iceConnectTimeoutMs: context.iceConnectTimeoutMs }),
    });
    this.localStream = mediaStream;
    this.pc = passThrough;
    this.bindRefer();
    this.guard('reinvite', (e) => {
      // A glare: JsSIP's dialog answers 491 to a re-INVITE that crosses one of ours (RFC 3261
      // 14.2) but still hands it to the session (3.13.8), which would apply the offer it refused
      // and answer it again. Its answer is sent already: the session must not act on it.
      const transaction = e.request.server_transaction;
      if (transaction !== undefined && transaction.state !== JSSIP_TRANSACTION_PROCEEDING) {
        this.context.logger.info(`call ${this.remote.user}: a re-INVITE crossed ours and was answered 491`);
        e.reject({ status_code: 491 });
        return;
      }
      if (this.refusedReinvite !== undefined) e.reject({ status_code: this.refusedReinvite });
    });
  }

  /** A pass-through leg's media flows between the endpoints: the ICE watchdog does not apply. */
  protected override mediaElsewhere(): boolean {
    return this.pc !== undefined;
  }

  /** The stream we send (given to answer() or to the outgoing call). */
  get localMediaStream(): MediaStream | undefined {
    return this.localStream;
  }

  /** The logger of the user agent this leg belongs to (its lines name the user agent). */
  get uaLogger(): SipLogger {
    return this.logger;
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

  /** Answers an incoming call; resolves when the 2xx is sent, rejects if the call ends first. */
  answer(options: SipMediaOptions): Promise<void> {
    const answerable = this.direction === 'incoming' && this.state === SipCallState.Ringing;
    const invalid = invalidMediaOptions(options);
    if (answerable && invalid) return Promise.reject(SipError.invalidArgument(`answer(): ${invalid}`));
    const pc = options.passThrough;
    if (answerable) {
      this.localStream = options.mediaStream;
      this.pc = pc;
    }
    return this.answerWith(
      this.mediaOptions(options),
      pc ? (answer) => withPeerConnection(pc, answer) : undefined,
    );
  }

  /**
   * Direct media: a re-INVITE without SDP (RFC 3261 §14.1, RFC 3725 flow I) on a pass-through
   * leg, so the peer makes a fresh offer instead of answering ours. The peer's 2xx carries its
   * offer, which becomes the leg's remote description; `onOffer(offer)` is awaited (e.g. the
   * other leg is re-INVITEd with it), then the leg's answer, from its pass-through source, goes in
   * the ACK. Rejects with REQUEST_FAILED and the status when the peer refuses the re-INVITE (the
   * call stays up as it was); with `onOffer`'s error when that failed (the ACK still answers, with
   * what the source gives, or rejecting the media if it gives nothing); with CALL_TERMINATED when
   * the call ends first. Uses JsSIP 3.13 internals (jssip-internals.d.ts), checked on each call.
   */
  reinviteWithoutOffer(
    onOffer: (offer: string) => Promise<void>,
    extraHeaders: string[] = [],
  ): Promise<void> {
    const what = `call ${this.remote.user}: reinviteWithoutOffer()`;
    if (this.state !== SipCallState.Established) {
      return Promise.reject(SipError.invalidState(what, this.state));
    }
    if (!this.pc) {
      return Promise.reject(
        SipError.invalidArgument(`${what}: only a pass-through leg can take an offer in a 2xx`),
      );
    }
    return sendOfferlessReinvite(this.session, this.pc, onOffer, {
      extraHeaders,
      terminated: this.terminated,
      logger: this.logger,
      what,
    });
  }

  /**
   * Test peers (the lab's bots): answer the peer's re-INVITEs with this final status (e.g. 488)
   * instead of accepting them; undefined accepts them again.
   */
  refuseReinvites(statusCode: number | undefined): void {
    if (statusCode !== undefined && !isRejectStatus(statusCode))
      throw SipError.invalidArgument(`not a reject status: ${statusCode}`);
    this.refusedReinvite = statusCode;
  }

  override toString(): string {
    return `SipCall(${this.direction} ${this.remote.uri} ${this.state})`;
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

  private bindRefer(): void {
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
          if (!created) throw SipError.invalidState('refer.accept()', this.state);
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

export { toSipError };
