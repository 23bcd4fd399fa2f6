import type { CallMediaPath } from '@callgate/contracts';
import type {
  AudioBridgePort,
  AudioTrack,
  DirectLink,
  DirectMediaPort,
  LegEnd,
  MediaProfile,
  SipLeg,
  SipPort,
  SipUserAgentPort,
  TonePort,
} from './ports.js';

/** Ringback the agent hears while the customer's phone rings (425 Hz, the tone used in Vietnam). */
const RINGBACK_HZ = 425;

/** Statuses a device answers when it cannot take the media it was offered (no common codec or profile). */
const MEDIA_REFUSED: ReadonlySet<number> = new Set([415, 488, 606]);

/** Whether a leg's final status says it refused the offered media. */
export function refusedMedia(statusCode: number | undefined): boolean {
  return statusCode !== undefined && MEDIA_REFUSED.has(statusCode);
}

/** What a transfer's leg to its target carries besides media. */
export interface TargetLegOptions {
  extraHeaders: string[];
  fromUser: string;
}

/**
 * Where one server-side call's audio flows, and the media half of each step of the call. Two
 * strategies: {@link BridgeMedia} (the gateway terminates both legs and copies audio between them)
 * and {@link DirectMedia} (each leg's SDP is handed to the other, RFC 3725: RTP flows between the
 * endpoints). ServerCall does the signalling, the timers and the events the same way for both.
 */
export interface CallMedia {
  /** the path and why, as `call.accepted` tells it */
  readonly info: CallMediaPath;
  /** places the device leg; `customer`: an inbound call's ringing customer, whose offer it gets */
  ringDevice(ua: SipUserAgentPort, target: string, extraHeaders: string[], customer?: SipLeg): SipLeg;
  /** inbound: the device answered; the customer is answered and hears it */
  answerInbound(device: SipLeg, customer: SipLeg): Promise<void>;
  /** callout: the device answered; what the agent hears while the customer rings is set up */
  prepareCallout(device: SipLeg): Promise<void>;
  /** callout: then the customer is called */
  callCustomer(ua: SipUserAgentPort, device: SipLeg, number: string, extraHeaders: string[]): SipLeg;
  /** callout: the customer answered; it and the device hear each other */
  customerAnswered(customer: SipLeg): Promise<void>;
  /** callout: the customer did not answer */
  customerFailed(customer: SipLeg): Promise<void>;
  /** holds or resumes the customer (`muted`: the agent's mute, kept when resuming) */
  hold(customer: SipLeg, held: boolean, muted: boolean): Promise<void>;
  /** the customer stops (or starts again) hearing the agent */
  mute(muted: boolean, held: boolean): Promise<void>;
  /** transfer: places the target's leg */
  callTarget(ua: SipUserAgentPort, target: string, customer: SipLeg, options: TargetLegOptions): SipLeg;
  /**
   * transfer: the target's leg answered or failed (`outcome`); true when it refused the media it
   * was offered, or answered with media the customer cannot take, and callTarget may try it again
   */
  retryTarget(target: SipLeg, outcome: 'accepted' | LegEnd): boolean;
  /** transfer: the target answered; the customer talks to it */
  moveTo(target: SipLeg): Promise<void>;
  /** after a transfer: the customer is taken off hold and unmuted, if it was not already */
  resume(customer: SipLeg): Promise<void>;
  /** stops the media of the call (the legs are hung up by their owner); idempotent */
  close(): void;
}

/** The audio track a leg receives, as soon as its peer connection has one. */
function remoteTrack(call: SipLeg, timeoutMs = 5000): Promise<AudioTrack> {
  const now = call.remoteAudioTrack;
  if (now) return Promise.resolve(now);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error('no remote audio track'));
    }, timeoutMs);
    const off = call.once('remoteTrack', ({ track }) => {
      clearTimeout(timer);
      resolve(track);
    });
  });
}

/** The gateway terminates both legs (WebRTC) and copies audio between them; it plays the ringback. */
export class BridgeMedia implements CallMedia {
  readonly info: CallMediaPath;
  private readonly bridge: AudioBridgePort;
  private ringback: TonePort | undefined;
  private closed = false;

  constructor(
    private readonly sip: SipPort,
    reason: string,
  ) {
    this.info = { path: 'bridge', reason };
    this.bridge = sip.createBridge();
  }

  ringDevice(ua: SipUserAgentPort, target: string, extraHeaders: string[]): SipLeg {
    return ua.call(target, { media: this.bridge.streamToA, extraHeaders });
  }

  async answerInbound(device: SipLeg, customer: SipLeg): Promise<void> {
    await customer.answer({ media: this.bridge.streamToB });
    const [fromDevice, fromCustomer] = await Promise.all([remoteTrack(device), remoteTrack(customer)]);
    if (!this.closed) this.bridge.connect(fromDevice, fromCustomer);
  }

  async prepareCallout(device: SipLeg): Promise<void> {
    this.bridge.setTrackFromA(await remoteTrack(device));
    if (this.closed) return;
    this.ringback = this.sip.createTone({ frequency: RINGBACK_HZ, amplitude: 0.2 });
    this.bridge.setTrackFromB(this.ringback.track);
  }

  callCustomer(ua: SipUserAgentPort, _device: SipLeg, number: string, extraHeaders: string[]): SipLeg {
    return ua.call(number, { media: this.bridge.streamToB, extraHeaders });
  }

  async customerAnswered(customer: SipLeg): Promise<void> {
    const fromCustomer = await remoteTrack(customer);
    if (this.closed) return;
    this.bridge.setTrackFromB(fromCustomer);
    this.stopRingback();
  }

  customerFailed(): Promise<void> {
    return Promise.resolve();
  }

  async hold(customer: SipLeg, held: boolean, muted: boolean): Promise<void> {
    if (held) {
      await customer.hold();
      this.bridge.mute('aToB', true);
    } else {
      await customer.unhold();
      this.bridge.mute('aToB', muted);
    }
  }

  mute(muted: boolean, held: boolean): Promise<void> {
    this.bridge.mute('aToB', muted || held);
    return Promise.resolve();
  }

  callTarget(ua: SipUserAgentPort, target: string, _customer: SipLeg, options: TargetLegOptions): SipLeg {
    return ua.call(target, { media: this.bridge.streamToA, ...options });
  }

  retryTarget(): boolean {
    return false;
  }

  async moveTo(target: SipLeg): Promise<void> {
    this.bridge.setTrackFromA(await remoteTrack(target));
    this.bridge.mute('aToB', false);
  }

  async resume(customer: SipLeg): Promise<void> {
    if (customer.heldLocally) await customer.unhold();
  }

  close(): void {
    this.closed = true;
    this.stopRingback();
    this.bridge.close();
  }

  private stopRingback(): void {
    this.ringback?.stop();
    this.ringback = undefined;
  }
}

/**
 * The gateway hands each leg's SDP to the other (RFC 3725): RTP flows between the device and the
 * customer (or the PBX's relay), never through this process. While a callout's customer rings,
 * the agent hears the customer's early media, or silence when it sends none. Hold makes both ends
 * `inactive` (the customer hears silence, no music); mute makes the device `recvonly`.
 */
export class DirectMedia implements CallMedia {
  readonly info: CallMediaPath;
  private link: DirectLink | undefined;
  private closed = false;
  /** the next transfer target may be offered a placeholder (not after the last one refused it) */
  private targetPlaceholder = true;
  /** the last transfer target was offered a placeholder */
  private offeredPlaceholder = false;

  constructor(
    private readonly port: DirectMediaPort,
    reason: string,
    /** the placeholder a callout's device leg is offered before the customer's media is known */
    readonly calloutProfile: MediaProfile = 'rtp',
  ) {
    this.info = { path: 'direct', reason };
  }

  ringDevice(ua: SipUserAgentPort, target: string, extraHeaders: string[], customer?: SipLeg): SipLeg {
    return customer
      ? this.port.callWithOfferOf(ua, target, customer, { extraHeaders })
      : this.port.callDevice(ua, target, this.calloutProfile, extraHeaders);
  }

  async answerInbound(device: SipLeg, customer: SipLeg): Promise<void> {
    this.adopt(await this.port.answerCustomer(device, customer));
  }

  /** the customer's early media reaches the device by itself (see {@link DirectMediaPort.callCustomer}) */
  prepareCallout(): Promise<void> {
    return Promise.resolve();
  }

  callCustomer(ua: SipUserAgentPort, device: SipLeg, number: string, extraHeaders: string[]): SipLeg {
    return this.port.callCustomer(ua, device, number, extraHeaders);
  }

  async customerAnswered(customer: SipLeg): Promise<void> {
    this.adopt(await this.port.connectCustomer(customer));
  }

  customerFailed(customer: SipLeg): Promise<void> {
    return this.port.abandonCustomer(customer);
  }

  hold(_customer: SipLeg, held: boolean, muted: boolean): Promise<void> {
    const link = this.joined();
    return held ? link.hold() : muted ? link.mute() : link.unhold();
  }

  async mute(muted: boolean, held: boolean): Promise<void> {
    // on hold both ends are inactive already; the mute applies when the call resumes
    if (held) return;
    const link = this.joined();
    await (muted ? link.mute() : link.unmute());
  }

  /**
   * A customer that is an ICE end is offered to the target as a plain-RTP placeholder first: a
   * PBX relay anchoring every WebSocket leg (rtpengine) then takes the join (see libs/sip
   * `DirectMediaCall.retarget`). A target refusing it (488, 415, 606: a WebRTC end with no relay)
   * is called again with the customer's own SDP ({@link retryTarget}); so is one that answers it
   * with plain RTP, no ICE: no relay stands between it and the gateway, so the customer (an ICE
   * end) could not take its media either. It then takes the customer's SDP or refuses it, and the
   * customer stays with the agent.
   */
  callTarget(ua: SipUserAgentPort, target: string, customer: SipLeg, options: TargetLegOptions): SipLeg {
    const placed = this.port.callTarget(ua, target, customer, {
      ...options,
      placeholder: this.targetPlaceholder,
    });
    this.targetPlaceholder = true;
    this.offeredPlaceholder = placed.placeholder;
    return placed.leg;
  }

  retryTarget(target: SipLeg, outcome: 'accepted' | LegEnd): boolean {
    const unusable = outcome === 'accepted' ? !this.port.isIceEnd(target) : refusedMedia(outcome.statusCode);
    if (!this.offeredPlaceholder || !unusable) return false;
    this.offeredPlaceholder = false;
    this.targetPlaceholder = false;
    return true;
  }

  moveTo(target: SipLeg): Promise<void> {
    return this.joined().retarget(target);
  }

  resume(): Promise<void> {
    return this.joined().unhold();
  }

  close(): void {
    this.closed = true;
    this.link?.close();
  }

  private adopt(link: DirectLink): void {
    if (this.closed) link.close();
    else this.link = link;
  }

  private joined(): DirectLink {
    if (!this.link) throw new Error('the legs are not joined');
    return this.link;
  }
}
