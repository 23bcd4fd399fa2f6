import type { Logger } from '@nestjs/common';
import type { EventDataMap, EventType } from '@callgate/contracts';
import { CallModel, calloutError, causeOfStatus, type EndCause, type EndedBy } from '@callgate/call-core';
import {
  AudioBridge,
  type SipCall,
  type SipCallEnd,
  type SipEndCause,
  SipCallState,
  type SipUserAgent,
  ToneSource,
} from '@callgate/sip';

/** How the call reports what happens: one event of the call's agent, with the call's ids. */
export type CallPublisher = <T extends EventType>(type: T, data: EventDataMap[T]) => Promise<void>;

export interface ServerCallDeps {
  ua: SipUserAgent;
  /** where the agent's device answers: an IP phone URI, or prefix + mobile as a user of the PBX */
  deviceTarget: string;
  publish: CallPublisher;
  logger: Logger;
  /** the device leg is given up after this long without an answer */
  ringTimeoutMs: number;
  onEnded: (call: ServerCall) => void;
}

/** Ends of a leg that mean its party vanished rather than hung up. */
const LOST_LEG_CAUSES: ReadonlySet<SipEndCause> = new Set([
  'rtpTimeout',
  'connectionError',
  'requestTimeout',
  'dialogError',
  'noAck',
  'webrtcError',
]);

/** Ringback the agent hears while the customer's phone rings (425 Hz, the tone used in Vietnam). */
const RINGBACK_HZ = 425;

/**
 * One call of an agent whose device is server-side (modes 2, 3, 4): the gateway holds both legs,
 * the customer's (B) and the agent device's (A), and bridges their audio. The call-core model
 * decides which moves are legal and which event each announces.
 */
export class ServerCall {
  readonly model: CallModel;
  private readonly bridge: AudioBridge;
  private customer: SipCall | undefined;
  private device: SipCall | undefined;
  private ringback: ToneSource | undefined;
  private ringTimer: NodeJS.Timeout | undefined;
  private deviceTimedOut = false;
  private finishing: Promise<void> | undefined;

  private constructor(
    private readonly deps: ServerCallDeps,
    model: CallModel,
  ) {
    this.model = model;
    this.bridge = new AudioBridge();
  }

  get callId(): string {
    return this.model.callId;
  }

  /** A customer called the agent's extension: ring the device; bridge when it answers. */
  static inbound(deps: ServerCallDeps, callId: string, customer: SipCall): ServerCall {
    const call = new ServerCall(deps, new CallModel(callId, 'inbound', customer.remote.user));
    call.startInbound(customer);
    return call;
  }

  /** A callout: ring the agent's device first, then the customer with ringback to the agent. */
  static outbound(deps: ServerCallDeps, callId: string, number: string, transactionId?: string): ServerCall {
    const call = new ServerCall(deps, new CallModel(callId, 'outbound', number, transactionId));
    call.startOutbound();
    return call;
  }

  async toggleHold(): Promise<boolean> {
    const customer = this.answeredCustomer();
    if (this.model.state === 'active') {
      await customer.hold();
      this.bridge.mute('aToB', true);
      this.announce(this.model.transition('held'), {});
      return true;
    }
    await customer.unhold();
    this.bridge.mute('aToB', this.model.muted);
    this.announce(this.model.transition('active'), {});
    return false;
  }

  toggleMute(): boolean {
    this.answeredCustomer();
    const event = this.model.toggleMute();
    this.bridge.mute('aToB', this.model.muted || this.model.state === 'held');
    this.announce(event, {});
    return this.model.muted;
  }

  async sendDtmf(digits: string): Promise<void> {
    await this.answeredCustomer().sendInfoDtmf(digits);
  }

  hangup(by: EndedBy = 'agent', cause: EndCause = 'NORMAL_CLEARING'): Promise<void> {
    return this.finish(cause, by);
  }

  private startInbound(customer: SipCall): void {
    this.customer = customer;
    this.announce('call.ringing', { phone: this.model.phone });
    customer.once(
      'failed',
      (e) =>
        void this.finish(e.by === 'remote' ? 'CUSTOMER_CANCELLED' : causeOfStatus(e.statusCode), 'customer'),
    );
    customer.once('ended', (e) => void this.legEnded('customer', e));
    const device = this.ringDevice();
    if (!device) {
      void this.finish('DEVICE_UNREACHABLE', 'system');
      customer.reject(480);
      return;
    }
    device.once('accepted', () => void this.onInboundDeviceAnswered(customer, device));
    device.once('failed', (e) => {
      const cause = this.deviceTimedOut ? 'NO_ANSWER' : causeOfStatus(e.statusCode);
      // finish() first: rejecting the customer fires its own `failed` synchronously.
      void this.finish(cause === 'CUSTOMER_CANCELLED' ? 'NO_ANSWER' : cause, 'agent');
      if (!customer.isTerminated && customer.state === SipCallState.Ringing)
        customer.reject(e.statusCode === 486 ? 486 : 480);
    });
    device.once('ended', (e) => void this.legEnded('device', e));
  }

  private async onInboundDeviceAnswered(customer: SipCall, device: SipCall): Promise<void> {
    this.clearRingTimer();
    try {
      await customer.answer({ mediaStream: this.bridge.streamToB });
      const [fromDevice, fromCustomer] = await Promise.all([remoteTrack(device), remoteTrack(customer)]);
      if (this.model.ended) return;
      this.bridge.connect(fromDevice, fromCustomer);
      this.announce(this.model.transition('active'), {});
      this.deps.logger.log(`call ${this.callId}: ${this.model.phone} bridged to the device`);
    } catch (err) {
      this.deps.logger.warn(`call ${this.callId}: answering the customer failed: ${(err as Error).message}`);
      await this.finish('MEDIA_FAILED', 'system');
    }
  }

  private startOutbound(): void {
    const tx = this.model.transactionId === undefined ? {} : { transactionId: this.model.transactionId };
    this.announce('callout.started', { number: this.model.phone, ...tx });
    const device = this.ringDevice();
    if (!device) {
      this.announce('callout.failed', { ...calloutError('device'), ...tx });
      void this.finish('DEVICE_UNREACHABLE', 'system');
      return;
    }
    this.announce('call.agentRinging', {});
    device.once('failed', () => {
      this.announce('callout.failed', { ...calloutError('device'), ...tx });
      void this.finish(this.deviceTimedOut ? 'NO_ANSWER' : 'DEVICE_UNREACHABLE', 'agent');
    });
    device.once('ended', (e) => void this.legEnded('device', e));
    device.once('accepted', () => void this.onOutboundDeviceAnswered(device, tx));
  }

  private async onOutboundDeviceAnswered(device: SipCall, tx: { transactionId?: string }): Promise<void> {
    this.clearRingTimer();
    if (this.model.ended) return;
    this.model.transition('dialing');
    try {
      this.bridge.setTrackFromA(await remoteTrack(device));
      this.ringback = new ToneSource({ frequency: RINGBACK_HZ, amplitude: 0.2 });
      this.bridge.setTrackFromB(this.ringback.track);
      const customer = this.deps.ua.call(this.model.phone, { mediaStream: this.bridge.streamToB });
      this.customer = customer;
      customer.once('failed', (e) => {
        this.announce('callout.failed', { ...calloutError('customer', e.statusCode), ...tx });
        void this.finish(causeOfStatus(e.statusCode), 'customer');
      });
      customer.once('ended', (e) => void this.legEnded('customer', e));
      customer.once('accepted', () => void this.onCustomerAnswered(customer));
    } catch (err) {
      this.deps.logger.warn(`call ${this.callId}: calling the customer failed: ${(err as Error).message}`);
      this.announce('callout.failed', { ...calloutError('other'), ...tx });
      await this.finish('CALLOUT_FAILED', 'system');
    }
  }

  private async onCustomerAnswered(customer: SipCall): Promise<void> {
    try {
      const fromCustomer = await remoteTrack(customer);
      if (this.model.ended) return;
      this.bridge.setTrackFromB(fromCustomer);
      this.stopRingback();
      this.announce(this.model.transition('active'), {});
      this.deps.logger.log(`call ${this.callId}: customer ${this.model.phone} answered, bridged`);
    } catch (err) {
      this.deps.logger.warn(`call ${this.callId}: bridging the customer failed: ${(err as Error).message}`);
      await this.finish('MEDIA_FAILED', 'system');
    }
  }

  /** Places the device leg, or answers undefined when the PBX cannot be reached right now. */
  private ringDevice(): SipCall | undefined {
    try {
      const device = this.deps.ua.call(this.deps.deviceTarget, { mediaStream: this.bridge.streamToA });
      this.device = device;
      this.ringTimer = setTimeout(() => {
        this.ringTimer = undefined;
        this.deviceTimedOut = true;
        this.deps.logger.log(
          `call ${this.callId}: the device did not answer in ${this.deps.ringTimeoutMs} ms`,
        );
        void device.hangup();
      }, this.deps.ringTimeoutMs);
      return device;
    } catch (err) {
      this.deps.logger.warn(
        `call ${this.callId}: cannot ring the device ${this.deps.deviceTarget}: ${(err as Error).message}`,
      );
      return undefined;
    }
  }

  private answeredCustomer(): SipCall {
    if ((this.model.state !== 'active' && this.model.state !== 'held') || !this.customer) {
      throw new CallNotAnsweredError(this.model.state);
    }
    return this.customer;
  }

  /**
   * An answered leg is over. Hung up by its far end: a normal end by that party. Lost without a
   * BYE (RTP/ICE timeout, transport or dialog failure; JsSIP reports some as local): MEDIA_FAILED,
   * blamed on that leg's party. Any other local end is ours: the other party's doing.
   */
  private legEnded(leg: 'customer' | 'device', end: SipCallEnd): Promise<void> {
    const party: EndedBy = leg === 'customer' ? 'customer' : 'agent';
    this.deps.logger.debug(`call ${this.callId}: ${leg} leg ended (${end.cause}, by ${end.by})`);
    if (end.by === 'remote') return this.finish('NORMAL_CLEARING', party);
    if (end.by === 'system' || LOST_LEG_CAUSES.has(end.cause)) return this.finish('MEDIA_FAILED', party);
    return this.finish('NORMAL_CLEARING', party === 'customer' ? 'agent' : 'customer');
  }

  /** Ends the call once, whoever asks first: both legs, the bridge and tones; then `call.ended`. */
  private finish(cause: EndCause, by: EndedBy): Promise<void> {
    // Assigned before any leg is touched: hanging one up fires the other's events synchronously.
    this.finishing ??= Promise.resolve().then(() => this.end(cause, by));
    return this.finishing;
  }

  private async end(cause: EndCause, by: EndedBy): Promise<void> {
    this.clearRingTimer();
    const event = this.model.transition('ended');
    await Promise.allSettled([this.customer?.hangup(), this.device?.hangup()]);
    this.stopRingback();
    this.bridge.close();
    this.announce(event, { cause, by, duration: this.model.duration });
    this.deps.logger.log(`call ${this.callId} ended: ${cause} by ${by} after ${this.model.duration} s`);
    this.deps.onEnded(this);
  }

  private announce<T extends EventType>(type: T | undefined, data: EventDataMap[T]): void {
    if (type === undefined) return;
    this.deps.publish(type, data).catch((err: unknown) => {
      this.deps.logger.error(`call ${this.callId}: publishing ${type} failed: ${String(err)}`);
    });
  }

  private clearRingTimer(): void {
    if (this.ringTimer) clearTimeout(this.ringTimer);
    this.ringTimer = undefined;
  }

  private stopRingback(): void {
    this.ringback?.stop();
    this.ringback = undefined;
  }
}

/** A command that needs an answered call, on a call that is not (yet) answered. */
export class CallNotAnsweredError extends Error {
  constructor(readonly state: string) {
    super(`the call is ${state}, not answered`);
  }
}

/** The audio track a leg receives, as soon as its peer connection has one. */
function remoteTrack(call: SipCall, timeoutMs = 5000): Promise<MediaStreamTrack> {
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
