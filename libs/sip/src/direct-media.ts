/**
 * Direct media: third-party call control (RFC 3725) between two legs of one user agent. The
 * user agent stays the SIP party of both legs (it sees and controls the call), but each leg's
 * SDP is handed to the other, so RTP flows between the endpoints (or through the PBX's relay)
 * and never through this process: the legs use {@link PassThroughPeerConnection}, not wrtc.
 */
import { type SipCall, SipCallState, type SipCallTermination } from './call.js';
import { TypedEmitter } from './emitter.js';
import { SipError } from './errors.js';
import type { SipLogger } from './logger.js';
import { PassThroughPeerConnection } from './passthrough-pc.js';
import {
  blackHoleOffer,
  describeAudio,
  dtlsSetup,
  hasIce,
  iceAtBothEnds,
  mediaTargetChanged,
  sdpBody,
  transferPlaceholderOffer,
  withAnswerSetup,
  withAudioDirection,
  type DtlsRole,
  type MediaDirection,
} from './sdp-media.js';
import { RingbackPlayer } from './ringback.js';
import type { SipUserAgent } from './user-agent.js';

/**
 * The state of a direct-media call.
 *
 * ```
 *  Connecting ──both legs agree──▶ Connected ──hold/mute/retarget/peer re-offer──▶ Updating
 *      │                              ▲                                              │
 *      │                              └───────────────done──────────────────────────┘
 *      └──re-INVITE refused / glare unresolved / no convergence──▶ MediaFailed ◀──────┘
 *  MediaFailed ──reconnect()──▶ Connecting
 *  every state ──a leg ends / hangup()──▶ Ended
 * ```
 * In MediaFailed both legs are still up, each with the last session it accepted (a refused
 * re-INVITE changes nothing, RFC 3261 §14.1): hang up, reconnect(), or bridge the media.
 */
export enum DirectMediaState {
  Connecting = 'connecting',
  Connected = 'connected',
  Updating = 'updating',
  MediaFailed = 'mediaFailed',
  Ended = 'ended',
}

const allowed: Record<DirectMediaState, readonly DirectMediaState[]> = {
  [DirectMediaState.Connecting]: [
    DirectMediaState.Connected,
    DirectMediaState.MediaFailed,
    DirectMediaState.Ended,
  ],
  [DirectMediaState.Connected]: [DirectMediaState.Updating, DirectMediaState.Ended],
  [DirectMediaState.Updating]: [
    DirectMediaState.Connected,
    DirectMediaState.MediaFailed,
    DirectMediaState.Ended,
  ],
  [DirectMediaState.MediaFailed]: [DirectMediaState.Connecting, DirectMediaState.Ended],
  [DirectMediaState.Ended]: [],
};

/** What the endpoints do: talk, both held (inactive), or the customer no longer hears the device. */
export type DirectMediaMode = 'talking' | 'held' | 'muted';

export type DirectMediaLeg = 'device' | 'customer';

export type DirectMediaErrorCode =
  /** A leg answered the re-INVITE with an error (e.g. 488); `statusCode` says which. */
  | 'REINVITE_REJECTED'
  /** A leg kept answering 491 (both sides re-INVITE at once) after the retries. */
  | 'GLARE_UNRESOLVED'
  /** The legs' SDPs kept changing after several rounds of re-INVITEs. */
  | 'SDP_NOT_CONVERGING'
  /** The device leg of an inbound or callout call failed (status in `statusCode`). */
  | 'DEVICE_FAILED'
  /** The customer leg of a callout failed. */
  | 'CUSTOMER_FAILED'
  /** A leg ended during the operation. */
  | 'LEG_ENDED'
  | 'INVALID_STATE'
  | 'INVALID_ARGUMENT';

export class DirectMediaError extends Error {
  override readonly name = 'DirectMediaError';
  /** When connect() or callout() failed after both legs were up: the call, in MediaFailed. */
  call: DirectMediaCall | undefined;

  constructor(
    readonly code: DirectMediaErrorCode,
    message: string,
    readonly statusCode?: number,
    readonly leg?: DirectMediaLeg,
  ) {
    super(message);
  }
}

export interface DirectMediaEvents {
  stateChanged: { from: DirectMediaState; to: DirectMediaState };
  modeChanged: { mode: DirectMediaMode };
  /** A leg sent a new offer (re-INVITE) by itself; the other leg is being updated. */
  remoteOffer: { leg: DirectMediaLeg };
  /** An operation failed; the call is in MediaFailed (or Ended when `code` is LEG_ENDED). */
  failed: { code: DirectMediaErrorCode; statusCode?: number; leg?: DirectMediaLeg; reason: string };
  ended: { by: DirectMediaLeg | 'local'; leg?: SipCallTermination };
}

export interface DirectMediaOptions {
  /** Default: the device leg's user agent's logger. */
  logger?: SipLogger;
  /** Headers added to the INVITE of a leg this object places. */
  extraHeaders?: string[];
  /** The From user of the customer leg of a callout (e.g. the company's number). */
  fromUser?: string;
  /** How often a 491 is retried before GLARE_UNRESOLVED. Default 3. */
  glareRetries?: number;
  /** The offer a callout's device leg gets before the customer is known. Default {@link blackHoleOffer}. */
  placeholderOffer?: string;
  /**
   * Callout: pass the customer's early media (a 183 with SDP while it rings) to the device, so
   * the agent hears the customer's network ringback or announcement. Default true.
   */
  earlyMedia?: boolean;
  /**
   * Callout: each provisional response of the customer leg (180, 183); `earlyMedia`: the
   * customer's early media is being passed to the device (its re-INVITE sent or answered).
   */
  onCustomerProgress?: (progress: { statusCode: number; earlyMedia: boolean }) => void;
  /**
   * Callout: while the customer rings without early media, play a ringback from this process to
   * a plain-RTP device (a UDP socket bound on `address`, which the device must reach), and hand
   * off to the customer's early media or answer. Off by default (no socket in this process).
   */
  ringback?: { address: string };
}

interface LegState {
  readonly call: SipCall;
  readonly pc: PassThroughPeerConnection;
  /** The direction the endpoint asked for in its last offer (sendrecv until it offers). */
  wish: MediaDirection;
  /** The leg's offer is being taken from the 2xx of our offerless re-INVITE (not an offer of its own). */
  solicited: boolean;
  /** The DTLS role the endpoint took in its last answer (WebRTC legs). */
  answeredRole: DtlsRole | undefined;
  off: () => void;
}

function opposite(leg: DirectMediaLeg): DirectMediaLeg {
  return leg === 'device' ? 'customer' : 'device';
}

function sends(direction: MediaDirection): boolean {
  return direction === 'sendrecv' || direction === 'sendonly';
}

function receives(direction: MediaDirection): boolean {
  return direction === 'sendrecv' || direction === 'recvonly';
}

function directionOf(send: boolean, recv: boolean): MediaDirection {
  return send && recv ? 'sendrecv' : send ? 'sendonly' : recv ? 'recvonly' : 'inactive';
}

/** What both directions allow, seen from the same end. */
function intersect(a: MediaDirection, b: MediaDirection): MediaDirection {
  return directionOf(sends(a) && sends(b), receives(a) && receives(b));
}

/** The direction an answerer may use, given the one it wants and the offer's (RFC 3264 §6.1). */
function answerDirection(wanted: MediaDirection, offered: MediaDirection): MediaDirection {
  return directionOf(sends(wanted) && receives(offered), receives(wanted) && sends(offered));
}

/**
 * One call with direct media between a device leg (the agent's desk phone, mobile or softphone)
 * and a customer leg, both legs of the same {@link SipUserAgent}. Build it with
 * {@link DirectMediaCall.inbound}, {@link DirectMediaCall.callout} or {@link DirectMediaCall.connect}.
 * Commands run one at a time, in order; each resolves once both legs agree, or rejects with a
 * {@link DirectMediaError} and leaves the call in MediaFailed (both legs still up).
 */
export class DirectMediaCall extends TypedEmitter<DirectMediaEvents> {
  private current: DirectMediaState = DirectMediaState.Connecting;
  private currentMode: DirectMediaMode = 'talking';
  private device: LegState;
  private readonly customer: LegState;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly logger: SipLogger;
  private readonly glareRetries: number;
  private endedInfo: DirectMediaEvents['ended'] | undefined;
  /** re-INVITEs sent by this object (a figure for tests and the bench). */
  reinvites = 0;
  /** re-INVITEs answered 491 and sent again. */
  glares = 0;

  private constructor(
    device: SipCall,
    customer: SipCall,
    options: DirectMediaOptions,
    customerPc?: PassThroughPeerConnection,
  ) {
    super();
    this.logger = options.logger ?? device.uaLogger;
    this.glareRetries = options.glareRetries ?? 3;
    this.device = this.attach('device', device);
    this.customer = this.attach('customer', customer, customerPc);
  }

  /**
   * An incoming customer call goes to the device: the device is called with the customer's
   * offer, and the customer is answered with the device's answer (no re-INVITE at all). When
   * the device fails, rejects with DEVICE_FAILED (its status) and leaves the customer ringing;
   * when the customer goes away while the device rings, the device is hung up (LEG_ENDED).
   */
  static async inbound(
    ua: SipUserAgent,
    customer: SipCall,
    deviceTarget: string,
    options: DirectMediaOptions = {},
  ): Promise<DirectMediaCall> {
    const devicePc = DirectMediaCall.offerOf(customer);
    const device = await placeDevice(ua, deviceTarget, devicePc, options, customer);
    return DirectMediaCall.answerCustomer(device, customer, options);
  }

  /**
   * A peer connection that offers `leg`'s media to a new leg. A ringing incoming leg (an inbound
   * call's customer): its INVITE's offer; place the device leg with it, then, once the device
   * answers, {@link answerCustomer}. An established pass-through leg (a customer being
   * transferred): its last SDP, `sendrecv`; once the new leg answers, {@link retarget} to it.
   */
  static offerOf(leg: SipCall): PassThroughPeerConnection {
    if (leg.state === SipCallState.Established && leg.passThrough) {
      const sdp = leg.passThrough.remoteSdp;
      if (sdp === undefined) throw new DirectMediaError('INVALID_STATE', 'offerOf(): the leg has no SDP yet');
      return new PassThroughPeerConnection(() => withAudioDirection(sdp, 'sendrecv'));
    }
    const offer = leg.requestSdp;
    if (leg.direction !== 'incoming' || leg.state !== SipCallState.Ringing) {
      throw new DirectMediaError(
        'INVALID_STATE',
        `offerOf(): the leg is ${leg.direction} ${leg.state}, neither ringing in nor an established pass-through leg`,
      );
    }
    if (offer === undefined || !describeAudio(offer)) {
      throw new DirectMediaError('INVALID_ARGUMENT', 'offerOf(): the customer INVITE has no audio offer');
    }
    return new PassThroughPeerConnection(() => offer);
  }

  /**
   * The peer connection of a transfer's target leg: the established `customer`'s media as
   * {@link offerOf} gives it, or, with `placeholder` and a customer that is an ICE end,
   * {@link transferPlaceholderOffer} (see {@link retarget}); `placeholder` in the result says which.
   */
  static targetOffer(
    customer: SipCall,
    placeholder: boolean,
  ): { pc: PassThroughPeerConnection; placeholder: boolean } {
    const pc = DirectMediaCall.offerOf(customer);
    if (!placeholder || !hasIce(customer.passThrough?.remoteSdp)) {
      return { pc, placeholder: false };
    }
    const offer = transferPlaceholderOffer();
    pc.source = () => offer;
    return { pc, placeholder: true };
  }

  /**
   * The device (placed with {@link offerOf}) answered: the ringing customer is answered with the
   * device's SDP (no re-INVITE at all). When answering fails both legs are hung up (LEG_ENDED).
   */
  static async answerCustomer(
    device: SipCall,
    customer: SipCall,
    options: DirectMediaOptions = {},
  ): Promise<DirectMediaCall> {
    const customerPc = new PassThroughPeerConnection();
    const call = new DirectMediaCall(device, customer, options, customerPc);
    try {
      await customer.answer({ passThrough: customerPc });
    } catch (error) {
      await call.hangup();
      throw new DirectMediaError(
        'LEG_ENDED',
        `inbound(): answering the customer failed: ${String(error)}`,
        undefined,
        'customer',
      );
    }
    call.transition(DirectMediaState.Connected);
    call.logger.info('direct media: inbound call connected');
    return call;
  }

  /**
   * The device is called first (with a placeholder offer: a hold "black hole"), then the
   * customer with the device's SDP; when the customer answers, the device is re-INVITEd with the
   * customer's SDP. While the customer rings, its early media (a 183 with SDP) is passed to the
   * device (re-INVITE, the customer `sendonly`): the agent hears the customer's ringback. A
   * customer that sends no early media leaves the agent in silence until the answer.
   * A WebRTC device (give it `placeholderOffer: webRtcPlaceholderOffer()`) and a WebRTC customer
   * are joined by an offerless re-INVITE of the device instead (RFC 3725 flow I): the device
   * offers afresh in its 2xx, the customer is re-INVITEd with that offer, and the customer's
   * answer goes to the device in the ACK (re-INVITEing two ICE ends in turn never converges).
   */
  static async callout(
    ua: SipUserAgent,
    deviceTarget: string,
    customerTarget: string,
    options: DirectMediaOptions = {},
  ): Promise<DirectMediaCall> {
    const device = await placeDevice(ua, deviceTarget, DirectMediaCall.placeholder(options), options);
    let customer: DirectCalloutCustomer;
    try {
      customer = DirectCalloutCustomer.place(ua, device, customerTarget, options);
    } catch (error) {
      await device.hangup();
      throw error;
    }
    try {
      await answered(customer.call, customerTarget, 'CUSTOMER_FAILED');
    } catch (error) {
      await customer.abandon();
      await device.hangup();
      throw error;
    }
    return customer.connect();
  }

  /** The peer connection of a callout's device leg: it offers `options.placeholderOffer` (default a black hole). */
  static placeholder(options: DirectMediaOptions = {}): PassThroughPeerConnection {
    const placeholder = options.placeholderOffer ?? blackHoleOffer();
    return new PassThroughPeerConnection(() => placeholder);
  }

  /** Connects two established pass-through legs: re-INVITEs until each has the other's SDP. */
  static async connect(
    device: SipCall,
    customer: SipCall,
    options: DirectMediaOptions = {},
  ): Promise<DirectMediaCall> {
    for (const [name, leg] of [
      ['device', device],
      ['customer', customer],
    ] as const) {
      if (!leg.passThrough)
        throw new DirectMediaError(
          'INVALID_ARGUMENT',
          `connect(): the ${name} leg is not a pass-through leg`,
        );
      if (leg.state !== SipCallState.Established) {
        throw new DirectMediaError(
          'INVALID_STATE',
          `connect(): the ${name} leg is ${leg.state}`,
          undefined,
          name,
        );
      }
    }
    const call = new DirectMediaCall(device, customer, options);
    try {
      await call.run(DirectMediaState.Connecting, () => call.sync('device'));
    } catch (error) {
      if (error instanceof DirectMediaError) error.call = call;
      throw error;
    }
    call.logger.info('direct media: legs connected');
    return call;
  }

  get state(): DirectMediaState {
    return this.current;
  }

  get mode(): DirectMediaMode {
    return this.currentMode;
  }

  get deviceCall(): SipCall {
    return this.device.call;
  }

  get customerCall(): SipCall {
    return this.customer.call;
  }

  /** How the call ended, once it has. */
  get end(): DirectMediaEvents['ended'] | undefined {
    return this.endedInfo;
  }

  /** Both ends hold: each leg is re-INVITEd `inactive`. The customer hears silence (no music in direct mode). */
  hold(): Promise<void> {
    return this.setMode('held');
  }

  unhold(): Promise<void> {
    return this.setMode('talking');
  }

  /** The customer stops hearing the agent: the device becomes recvonly, the customer sendonly. */
  mute(): Promise<void> {
    return this.setMode('muted');
  }

  unmute(): Promise<void> {
    return this.setMode('talking');
  }

  /** DTMF towards the customer by SIP INFO (as in bridge mode). */
  sendDtmf(digits: string): Promise<void> {
    return this.customer.call.sendInfoDtmf(digits);
  }

  /** Tries again to connect the legs after MediaFailed. */
  reconnect(): Promise<void> {
    return this.run(DirectMediaState.Connecting, () => this.sync('device'), [DirectMediaState.MediaFailed]);
  }

  /**
   * Re-targets the customer at another established pass-through leg (a transfer target): the
   * customer is re-INVITEd with its SDP and the target with the customer's (two WebRTC ends: the
   * target is re-INVITEd without SDP, and its fresh offer goes to the customer, RFC 3725 flow I).
   * A target first offered a placeholder without ICE ({@link transferPlaceholderOffer}) is joined
   * customer first: the customer takes the target's ICE credentials in an offer (restarting ICE if
   * it must), and the target then learns the customer's, the first ICE credentials it is given.
   * Joining the target first (its fresh offer to the customer, the customer's answer in the ACK)
   * had no audio through rtpengine 10.5 in the lab, with or without the placeholder.
   * The previous device leg is detached and returned, still up: the caller hangs it up (or keeps
   * it for a consult).
   */
  retarget(target: SipCall): Promise<SipCall> {
    if (!target.passThrough || target.state !== SipCallState.Established) {
      return Promise.reject(
        new DirectMediaError(
          'INVALID_ARGUMENT',
          'retarget(): the target must be an established pass-through leg',
        ),
      );
    }
    return this.run(DirectMediaState.Updating, async () => {
      const previous = this.device;
      previous.off();
      // the detached leg keeps answering with what it last had, whatever this call does next
      const kept = previous.pc.localSdp;
      previous.pc.source = () => {
        if (kept === undefined) throw new Error('no SDP');
        return kept;
      };
      this.device = this.attach('device', target);
      // two ICE ends: the target offers afresh and the customer takes that offer (RFC 3725 flow I)
      if (this.bothIce() && hasIce(target.passThrough?.localSdp)) await this.join();
      else await this.sync('customer');
      return previous.call;
    });
  }

  /** Hangs up both legs; resolves once both are over. Idempotent. */
  async hangup(): Promise<void> {
    this.finish('local', undefined);
    await Promise.all([this.device.call.hangup(), this.customer.call.hangup()]);
  }

  protected override onListenerError(event: keyof DirectMediaEvents, error: unknown): void {
    this.logger.error(`a '${String(event)}' listener threw`, { error: String(error) });
  }

  private setMode(mode: DirectMediaMode): Promise<void> {
    return this.run(DirectMediaState.Updating, async () => {
      if (this.currentMode === mode) return;
      this.currentMode = mode;
      await this.sync('customer');
      this.safeEmit('modeChanged', { mode });
    });
  }

  /**
   * The SDP `leg` should have now: the other leg's, with a direction from the mode and from what
   * the other endpoint itself asked for in its last offer (a customer that holds stays held).
   */
  private sdpFor(leg: DirectMediaLeg): string {
    const other = this.leg(opposite(leg));
    const sdp = other.pc.remoteSdp;
    if (sdp === undefined) {
      throw new DirectMediaError('INVALID_STATE', `no SDP from the ${opposite(leg)} leg yet`);
    }
    switch (this.currentMode) {
      case 'talking':
        return withAudioDirection(sdp, other.wish);
      case 'held':
        return withAudioDirection(sdp, 'inactive');
      case 'muted':
        // the device is told the customer only sends, the customer that the device only receives
        return withAudioDirection(sdp, intersect(other.wish, leg === 'device' ? 'sendonly' : 'recvonly'));
    }
  }

  private needsUpdate(leg: LegState, name: DirectMediaLeg): boolean {
    const local = leg.pc.localSdp;
    const wanted = this.sdpFor(name);
    if (local === undefined || mediaTargetChanged(local, wanted)) return true;
    return describeAudio(local)?.direction !== describeAudio(wanted)?.direction;
  }

  /** Both legs are ICE ends (WebRTC): joining them takes an offerless re-INVITE ({@link join}). */
  private bothIce(): boolean {
    return iceAtBothEnds(this.device.pc.remoteSdp, this.customer.pc.remoteSdp);
  }

  /**
   * RFC 3725 flow I: the device is re-INVITEd without SDP and offers afresh in its 2xx (with its
   * own ICE credentials, so no ICE restart); the customer is re-INVITEd with that offer, and the
   * customer's answer goes to the device in the ACK. Two ICE ends converge in this one round,
   * where re-INVITEing them in turn with each other's SDP restarts ICE at both for ever.
   */
  private async join(): Promise<void> {
    const device = this.device;
    await this.attempt(device, 'device', () => {
      device.solicited = true;
      return device.call
        .reinviteWithoutOffer(async () => {
          device.solicited = false;
          this.logger.info('direct media: the device offered afresh; re-INVITEing the customer with it');
          await this.reoffer(this.customer, 'customer');
        })
        .finally(() => {
          device.solicited = false;
        });
    });
  }

  /**
   * Re-INVITEs `first`, then the other leg while its SDP is out of date (at most 4 re-INVITEs in
   * all). Where an offer would give a WebRTC device new ICE credentials of a WebRTC customer (an
   * ICE restart for it: connecting a callout, a customer that restarted ICE), the legs are joined
   * by {@link join} instead, which ends with both up to date.
   */
  private async sync(first: DirectMediaLeg): Promise<void> {
    const ufrags = { device: new Set<string>(), customer: new Set<string>() };
    const note = (name: DirectMediaLeg): void => {
      const ufrag = describeAudio(this.leg(name).pc.remoteSdp ?? '')?.iceUfrag;
      if (ufrag !== undefined) ufrags[name].add(ufrag);
    };
    note('device');
    note('customer');
    let name = first;
    if (await this.update(name)) return;
    note(name);
    for (let round = 0; round < 3; round++) {
      name = opposite(name);
      if (!this.needsUpdate(this.leg(name), name)) return;
      if (await this.update(name)) return;
      note(name);
    }
    if (ufrags.device.size > 1 && ufrags.customer.size > 1) {
      // RFC 8839 §4.4.1.1: an ICE end whose peer's credentials change in an offer restarts ICE
      // and answers with new ones of its own, so two ICE ends re-INVITEd in turn never agree
      throw new DirectMediaError(
        'SDP_NOT_CONVERGING',
        'the legs still disagree after 4 re-INVITEs: each ICE end answered with new ICE credentials ' +
          '(an ICE restart at both WebRTC ends)',
      );
    }
    throw new DirectMediaError('SDP_NOT_CONVERGING', 'the legs still disagree after 4 re-INVITEs');
  }

  /**
   * Brings `name` up to date: a re-INVITE with the other leg's SDP, or a {@link join} when that
   * offer would restart a WebRTC device's ICE. True after a join (both legs then agree).
   */
  private async update(name: DirectMediaLeg): Promise<boolean> {
    if (name === 'device' && this.restartsDeviceIce()) {
      await this.join();
      return true;
    }
    await this.reoffer(this.leg(name), name);
    return false;
  }

  /** Whether offering the device its SDP now would give it new peer ICE credentials (both ends WebRTC). */
  private restartsDeviceIce(): boolean {
    if (!this.bothIce()) return false;
    const told = describeAudio(this.device.pc.localSdp ?? '')?.iceUfrag;
    return told !== describeAudio(this.sdpFor('device'))?.iceUfrag;
  }

  private leg(name: DirectMediaLeg): LegState {
    return name === 'device' ? this.device : this.customer;
  }

  /** One re-INVITE, retried after a random pause on 491 (RFC 3261 §14.1). */
  private reoffer(leg: LegState, name: DirectMediaLeg): Promise<void> {
    return this.attempt(leg, name, () => leg.call.reoffer());
  }

  /** Sends one re-INVITE of `leg` by `send`, retried after a random pause on 491 (RFC 3261 §14.1). */
  private async attempt(leg: LegState, name: DirectMediaLeg, send: () => Promise<void>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      if (this.current === DirectMediaState.Ended)
        throw new DirectMediaError('LEG_ENDED', 'the call ended', undefined, name);
      try {
        this.reinvites++;
        await send();
        return;
      } catch (error) {
        if (!(error instanceof SipError)) throw error;
        if (error.code === 'CALL_TERMINATED')
          throw new DirectMediaError('LEG_ENDED', `the ${name} leg ended`, undefined, name);
        if (error.code === 'REQUEST_FAILED' && error.statusCode === 491) {
          if (attempt >= this.glareRetries) {
            throw new DirectMediaError(
              'GLARE_UNRESOLVED',
              `the ${name} leg answered 491 ${attempt + 1} times`,
              491,
              name,
            );
          }
          // the owner of the Call-ID (our outgoing legs) waits 2.1–4 s, the other side 0–2 s
          this.glares++;
          const pauseMs =
            leg.call.direction === 'outgoing' ? 2100 + Math.random() * 1900 : Math.random() * 2000;
          this.logger.info(`direct media: 491 from the ${name} leg, retrying in ${Math.round(pauseMs)} ms`);
          await new Promise((resolve) => setTimeout(resolve, pauseMs));
          continue;
        }
        if (error.code === 'REQUEST_FAILED') {
          throw new DirectMediaError(
            'REINVITE_REJECTED',
            `the ${name} leg refused the re-INVITE${error.statusCode ? ` with ${error.statusCode}` : ''}`,
            error.statusCode,
            name,
          );
        }
        if (error.code === 'INVALID_STATE' && leg.call.state === SipCallState.Established) {
          // an offer of the peer is being answered: wait for it to settle and try again
          if (attempt >= this.glareRetries)
            throw new DirectMediaError('GLARE_UNRESOLVED', `the ${name} leg stayed busy`, undefined, name);
          await new Promise((resolve) => setTimeout(resolve, 200 + Math.random() * 300));
          continue;
        }
        throw new DirectMediaError('LEG_ENDED', `the ${name} leg: ${error.message}`, undefined, name);
      }
    }
  }

  /** Runs one command after the previous ones, with the state moves around it. */
  private run<T>(
    during: DirectMediaState,
    body: () => Promise<T>,
    from: readonly DirectMediaState[] = [DirectMediaState.Connected],
  ): Promise<T> {
    const result = this.queue.then(async () => {
      if (during !== DirectMediaState.Connecting || this.current !== DirectMediaState.Connecting) {
        if (!from.includes(this.current))
          throw new DirectMediaError('INVALID_STATE', `not allowed in state '${this.current}'`);
        this.transition(during);
      }
      try {
        const value = await body();
        this.transition(DirectMediaState.Connected);
        return value;
      } catch (error) {
        const failure =
          error instanceof DirectMediaError ? error : new DirectMediaError('LEG_ENDED', String(error));
        if (this.current !== DirectMediaState.Ended) {
          this.transition(DirectMediaState.MediaFailed);
          this.logger.warn(`direct media failed: ${failure.message}`, {
            code: failure.code,
            statusCode: failure.statusCode,
          });
          this.safeEmit('failed', {
            code: failure.code,
            reason: failure.message,
            ...(failure.statusCode === undefined ? {} : { statusCode: failure.statusCode }),
            ...(failure.leg === undefined ? {} : { leg: failure.leg }),
          });
        }
        throw failure;
      }
    });
    this.queue = result.catch(() => undefined);
    return result;
  }

  private transition(to: DirectMediaState): void {
    const from = this.current;
    if (from === to) return;
    if (!allowed[from].includes(to))
      throw new DirectMediaError('INVALID_STATE', `transition ${from} -> ${to}`);
    this.current = to;
    this.logger.debug(`direct media: ${from} -> ${to}`);
    this.safeEmit('stateChanged', { from, to });
  }

  /** Watches a leg; `pc`: the pass-through peer connection of a leg not answered yet (inbound's customer). */
  private attach(name: DirectMediaLeg, call: SipCall, pending?: PassThroughPeerConnection): LegState {
    const pc = call.passThrough ?? pending;
    if (!pc) throw new DirectMediaError('INVALID_ARGUMENT', `the ${name} leg is not a pass-through leg`);
    const offer = call.direction === 'incoming' ? call.requestSdp : undefined;
    const wish = (offer === undefined ? undefined : describeAudio(offer)?.direction) ?? 'sendrecv';
    const leg: LegState = {
      call,
      pc,
      wish,
      solicited: false,
      answeredRole: undefined,
      off: () => undefined,
    };
    this.bindSource(leg, name);
    let active = true;
    void call.terminated.then((termination) => {
      if (active) this.finish(name, termination);
    });
    leg.off = () => {
      active = false;
    };
    return leg;
  }

  /** Points the leg's peer connection at the other leg's SDP, and watches the leg's own offers. */
  private bindSource(leg: LegState, name: DirectMediaLeg): void {
    leg.pc.source = (type, remoteOffer) => {
      const wanted = this.sdpFor(name);
      if (type === 'offer' || remoteOffer === undefined) return wanted;
      const offered = describeAudio(remoteOffer)?.direction ?? 'sendrecv';
      const mine = describeAudio(wanted)?.direction ?? 'sendrecv';
      // the other leg's SDP may be its offer (after an offerless re-INVITE): answer a definite role
      return withAnswerSetup(withAudioDirection(wanted, answerDirection(mine, offered)), leg.answeredRole);
    };
    const offRemote = leg.pc.onRemoteDescription((description) => {
      if (description.type === 'answer') {
        const role = dtlsSetup(description.sdp);
        if (role === 'active' || role === 'passive') leg.answeredRole = role;
      }
      if (description.type !== 'offer') return;
      leg.wish = describeAudio(description.sdp)?.direction ?? 'sendrecv';
      if (leg.solicited) return;
      if (leg.call.state !== SipCallState.Established) return;
      if (this.current === DirectMediaState.Ended) return;
      this.logger.info(`direct media: the ${name} leg sent a new offer`);
      this.safeEmit('remoteOffer', { leg: name });
      const other: DirectMediaLeg = name === 'device' ? 'customer' : 'device';
      // after JsSIP has answered it: bring the other leg up to date
      setImmediate(() => {
        if (this.current === DirectMediaState.Ended) return;
        const otherLeg = other === 'device' ? this.device : this.customer;
        if (!this.needsUpdate(otherLeg, other)) return;
        this.run(DirectMediaState.Updating, () => this.sync(other), [DirectMediaState.Connected]).catch(
          (error: unknown) =>
            this.logger.warn(`direct media: following the ${name} leg's offer failed`, {
              error: String(error),
            }),
        );
      });
    });
    const previousOff = leg.off;
    leg.off = () => {
      offRemote();
      previousOff();
    };
  }

  private finish(by: DirectMediaLeg | 'local', termination: SipCallTermination | undefined): void {
    if (this.current === DirectMediaState.Ended) return;
    this.endedInfo = termination ? { by, leg: termination } : { by };
    const from = this.current;
    this.current = DirectMediaState.Ended;
    this.safeEmit('stateChanged', { from, to: DirectMediaState.Ended });
    this.device.off();
    this.customer.off();
    if (by !== 'local') {
      const other = by === 'device' ? this.customer.call : this.device.call;
      this.logger.info(`direct media: the ${by} leg ended, hanging up the other`);
      void other.hangup();
    }
    this.safeEmit('ended', this.endedInfo);
  }
}

/** Places a device leg and waits until it is answered; rejects with DEVICE_FAILED and its status. */
async function placeDevice(
  ua: SipUserAgent,
  target: string,
  pc: PassThroughPeerConnection,
  options: DirectMediaOptions,
  /** The customer of an inbound call: when it goes away first, the leg is hung up (LEG_ENDED). */
  caller?: SipCall,
): Promise<SipCall> {
  let call: SipCall;
  try {
    call = ua.call(target, {
      passThrough: pc,
      ...(options.extraHeaders ? { extraHeaders: options.extraHeaders } : {}),
    });
  } catch (error) {
    throw new DirectMediaError(
      'DEVICE_FAILED',
      `calling ${target} failed: ${String(error)}`,
      undefined,
      'device',
    );
  }
  await answered(call, target, 'DEVICE_FAILED', caller);
  return call;
}

/**
 * Waits until an outgoing leg is answered; rejects with `failCode` and its status when it fails,
 * or, when `caller` (an inbound customer) goes away first, hangs the leg up (LEG_ENDED).
 */
async function answered(
  call: SipCall,
  target: string,
  failCode: 'DEVICE_FAILED' | 'CUSTOMER_FAILED',
  caller?: SipCall,
): Promise<void> {
  const leg = failCode === 'DEVICE_FAILED' ? 'device' : 'customer';
  if (call.state === SipCallState.Established) return;
  const outcome = await Promise.race([
    new Promise<'accepted'>((resolve) => call.once('accepted', () => resolve('accepted'))),
    call.terminated,
    ...(caller ? [caller.terminated.then(() => 'callerGone' as const)] : []),
  ]);
  if (outcome === 'callerGone') {
    await call.hangup();
    throw new DirectMediaError(
      'LEG_ENDED',
      `the customer went away while ${target} rang`,
      undefined,
      'customer',
    );
  }
  if (outcome !== 'accepted') {
    throw new DirectMediaError(
      failCode,
      `${target} did not answer (${outcome.cause})`,
      outcome.statusCode,
      leg,
    );
  }
}

/**
 * The customer leg of a callout whose device leg is up: placed with the device's SDP; while it
 * rings, its early media goes to the device (or an anchored ringback plays, when asked). Once the
 * customer answers, {@link connect} joins the legs; when it fails, {@link abandon}.
 */
export class DirectCalloutCustomer {
  private constructor(
    readonly call: SipCall,
    private readonly device: SipCall,
    private readonly early: EarlyMedia,
    private readonly options: DirectMediaOptions,
  ) {}

  /** Places the customer leg; throws DEVICE_FAILED when the device answered without SDP, CUSTOMER_FAILED when it cannot be placed. */
  static place(
    ua: SipUserAgent,
    device: SipCall,
    customerTarget: string,
    options: DirectMediaOptions = {},
  ): DirectCalloutCustomer {
    const devicePc = device.passThrough;
    const deviceSdp = devicePc?.remoteSdp;
    if (devicePc === undefined || deviceSdp === undefined) {
      throw new DirectMediaError(
        'DEVICE_FAILED',
        'callout(): the device answered without SDP',
        undefined,
        'device',
      );
    }
    const logger = options.logger ?? device.uaLogger;
    const customerPc = new PassThroughPeerConnection(() => withAudioDirection(deviceSdp, 'sendrecv'));
    const early = new EarlyMedia(device, devicePc, logger);
    const deviceProfile = describeAudio(deviceSdp)?.profile;
    const anchor = deviceProfile === 'rtp' ? options.ringback?.address : undefined;
    if (options.ringback && anchor === undefined) {
      logger.info(`direct media: no anchored ringback for a ${deviceProfile ?? 'unknown'} device`);
    }
    let call: SipCall;
    try {
      call = ua.call(customerTarget, {
        passThrough: customerPc,
        ...(options.extraHeaders ? { extraHeaders: options.extraHeaders } : {}),
        ...(options.fromUser === undefined ? {} : { fromUser: options.fromUser }),
      });
    } catch (error) {
      throw new DirectMediaError(
        'CUSTOMER_FAILED',
        `calling ${customerTarget} failed: ${String(error)}`,
        undefined,
        'customer',
      );
    }
    call.on('progress', ({ statusCode }) => {
      // JsSIP applies a provisional answer's SDP before it reports the response
      const sdp = customerPc.remoteSdp;
      const playing = options.earlyMedia !== false && sdp !== undefined && early.play(sdp);
      if (!playing && anchor !== undefined) early.anchor(anchor);
      options.onCustomerProgress?.({ statusCode, earlyMedia: playing || early.playing });
    });
    return new DirectCalloutCustomer(call, device, early, options);
  }

  /** The customer answered: joins the legs (re-INVITEs), after any early-media re-INVITE in flight. */
  async connect(): Promise<DirectMediaCall> {
    // a re-INVITE still in flight finishes first: the device leg takes one offer at a time
    await this.early.settled();
    try {
      return await DirectMediaCall.connect(this.device, this.call, this.options);
    } finally {
      // the device has the customer's SDP now (or the call failed): the ringback socket goes
      await this.early.release();
    }
  }

  /** The customer failed: any early-media re-INVITE settles and the anchored ringback stops. */
  async abandon(): Promise<void> {
    await this.early.settled();
    await this.early.release();
  }
}

/**
 * What the device hears while a callout's customer rings. The customer's early media: each new
 * early SDP of the customer (183) is given to the device by re-INVITE, marked `sendonly` (the
 * customer only sends, the agent is not heard before the answer). Or, while there is none and
 * when asked, a ringback anchored in this process ({@link RingbackPlayer}, plain-RTP devices
 * only), stopped once early media or the answer takes over. One re-INVITE at a time; a refused
 * one is logged and leaves the device on its previous SDP: the answer's re-INVITE still follows.
 */
class EarlyMedia {
  private chain: Promise<void> = Promise.resolve();
  private last: string | undefined;
  private applied = false;
  private player: RingbackPlayer | undefined;
  private anchoring = false;

  constructor(
    private readonly device: SipCall,
    private readonly pc: PassThroughPeerConnection,
    private readonly logger: SipLogger,
  ) {}

  /** Whether the device has been given the customer's early media. */
  get playing(): boolean {
    return this.applied;
  }

  /** Gives `sdp` to the device unless it already has it; true when it is (being) given. */
  play(sdp: string): boolean {
    if (!describeAudio(sdp)) return false;
    const body = sdpBody(sdp);
    if (body === this.last) return true;
    this.last = body;
    this.offer(withAudioDirection(sdp, 'sendonly'), "the customer's early media", async () => {
      this.applied = true;
      await this.release();
    });
    return true;
  }

  /** Plays a ringback from this process (bound on `address`) until early media or the answer. Once. */
  anchor(address: string): void {
    if (this.anchoring || this.applied) return;
    this.anchoring = true;
    this.chain = this.chain.then(async () => {
      if (this.applied || this.device.state !== SipCallState.Established) return;
      try {
        this.player = await RingbackPlayer.start(address, this.logger);
      } catch (error) {
        this.logger.warn('direct media: no ringback socket', { error: String(error) });
        return;
      }
    });
    this.offer(
      () => this.player?.sdp,
      'a ringback from the gateway',
      () => {
        const target = describeAudio(this.pc.remoteSdp ?? '');
        if (target && this.player) this.player.play(target.address, target.port);
        return Promise.resolve();
      },
    );
  }

  /** Stops the anchored ringback (its socket closed). */
  async release(): Promise<void> {
    const player = this.player;
    this.player = undefined;
    await player?.stop();
  }

  /** Resolves once no re-INVITE of this object is in flight. */
  settled(): Promise<void> {
    return this.chain;
  }

  private offer(sdp: string | (() => string | undefined), what: string, applied: () => Promise<void>): void {
    this.chain = this.chain.then(async () => {
      const offer = typeof sdp === 'string' ? sdp : sdp();
      if (offer === undefined || this.device.state !== SipCallState.Established) return;
      const previous = this.pc.source;
      this.pc.source = (type, remoteOffer) => {
        if (type === 'offer' || remoteOffer === undefined) return offer;
        const offered = describeAudio(remoteOffer)?.direction ?? 'sendrecv';
        return withAudioDirection(offer, answerDirection('sendonly', offered));
      };
      try {
        await this.device.reoffer();
        this.logger.info(`direct media: the device hears ${what}`);
        await applied();
      } catch (error) {
        this.pc.source = previous;
        this.logger.warn(`direct media: giving the device ${what} failed`, { error: String(error) });
      }
    });
  }
}
