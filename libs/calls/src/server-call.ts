import type { EventDataMap, EventType } from '@callgate/contracts';
import {
  CallModel,
  calloutError,
  causeOfStatus,
  type EndCause,
  type EndedBy,
  normaliseCallerId,
  TRANSFER_HEADER,
} from '@callgate/call-core';
import type { PbxMediaPath } from '@callgate/auth';
import { BridgeMedia, type CallMedia, DirectMedia, refusedMedia } from './call-media.js';
import type { CallsLogger, LegEnd, MediaProfile, SipLeg, SipPort, SipUserAgentPort } from './ports.js';
import { notAnsweredStatus } from './customer-mover.js';
import type { TransferLedger } from './transfer-ledger.js';
import { TransferRelay } from './transfer-relay.js';

/** How the call reports what happens: one event of the call's agent, with the call's ids. */
export type CallPublisher = <T extends EventType>(type: T, data: EventDataMap[T]) => Promise<void>;

export interface ServerCallDeps {
  ua: SipUserAgentPort;
  /** the SIP stack's bridges, tones and direct media */
  sip: SipPort;
  /** where the call's audio flows (the domain's `pbx.media`); a device refusing direct media is bridged */
  mediaPath: PbxMediaPath;
  /** transfers under way: an inbound leg's transfer header is trusted only when listed here */
  ledger: TransferLedger;
  /** the agent's name in log lines, `<domain>/<ipphone>` */
  agentName: string;
  /** the agent's domain (transfer records are matched within it) */
  domain: string;
  /** where the agent's device answers: an IP phone URI, or prefix + mobile as a user of the PBX */
  deviceTarget: string;
  publish: CallPublisher;
  logger: CallsLogger;
  /** the device leg is given up after this long without an answer */
  ringTimeoutMs: number;
  /** the device answers by itself when the INVITE asks it to (see {@link ServerCall.answerOnDevice}) */
  autoAnswer: boolean;
  onEnded: (call: ServerCall) => void;
  /** a transfer left the customer bridged to its target: the line keeps the relay until it closes */
  onRelay: (relay: TransferRelay) => void;
  /** on a callout, the number the customer sees (the callout service's), as P-Asserted-Identity */
  callerNumber?: string;
  /**
   * direct media: the placeholder a callout offers the device first, the one it took last time
   * (default plain RTP); told {@link onDeviceProfile} when a callout's device takes one
   */
  deviceProfile?: MediaProfile;
  onDeviceProfile?: (profile: MediaProfile) => void;
}

/** What asks a device to answer by itself: RFC 5373's Answer-Mode, and the Call-Info form IP phones read. */
const AUTO_ANSWER_HEADERS = ['Answer-Mode: Auto', 'Call-Info: <sip:callgate>;answer-after=0'];

/** Where a transfer sends the customer, and how long it may ring there. */
export interface HandOverOptions {
  /** the target's SIP user or URI (an agent's extension, a queue's URI) */
  target: string;
  transferId: string;
  /** the new leg gives up after this long without an answer */
  timeoutMs: number;
}

/** The outcome of {@link ServerCall.handOver}. */
export type HandOverResult =
  { ok: true } | { ok: false; reason: 'NOT_ANSWERED' | 'SIP_FAILED' | 'CALL_ENDED'; sipCode?: number };

/** Ends of a leg that mean its party vanished rather than hung up. */
const LOST_LEG_CAUSES: ReadonlySet<string> = new Set([
  'rtpTimeout',
  'connectionError',
  'requestTimeout',
  'dialogError',
  'noAck',
  'webrtcError',
]);

/**
 * One call of an agent whose device is server-side (modes 2, 3, 4): the gateway holds both legs,
 * the customer's (B) and the agent device's (A); its {@link CallMedia} bridges their audio or
 * hands each leg's SDP to the other (direct media). The call-core model decides which moves are
 * legal and which event each announces.
 */
export class ServerCall {
  readonly model: CallModel;
  /** changes only before the device answers: direct media the device refused gives way to a bridge */
  private media: CallMedia;
  /** a callout's device was offered both placeholders (plain RTP and WebRTC) */
  private offeredBothProfiles = false;
  private customer: SipLeg | undefined;
  private device: SipLeg | undefined;
  /** the headers the device leg was last rung with (auto-answer), kept when it is rung again */
  private deviceHeaders: string[] = [];
  private ringTimer: NodeJS.Timeout | undefined;
  private deviceTimedOut = false;
  private finishing: Promise<void> | undefined;
  /** a transfer's leg towards the target, while it rings */
  private moving: SipLeg | undefined;
  /** after a transfer: the customer leg and the target's leg, bridged, outliving the agent's call */
  private relay: TransferRelay | undefined;
  private transferIn: { transferId: string; customerCallId: string; from: string } | undefined;
  /** the caller id as SIP sent it (escaped, bounded), when it differs from the normalised phone */
  private callerDisplay: string | undefined;
  /** the last hold or mute toggle (settled, never rejects): the next one waits for it */
  private toggles: Promise<unknown> = Promise.resolve();
  private readonly endedSignal: Promise<void>;
  private signalEnded!: () => void;

  private constructor(
    private readonly deps: ServerCallDeps,
    model: CallModel,
  ) {
    this.model = model;
    this.media = initialMedia(deps);
    this.endedSignal = new Promise((resolve) => {
      this.signalEnded = resolve;
    });
  }

  get callId(): string {
    return this.model.callId;
  }

  /** How log lines name the call: its agent and its id. */
  private get tag(): string {
    return `${this.deps.agentName}: call ${this.callId}`;
  }

  /** The id the customer's call keeps across agents: the first agent's call id. */
  get customerCallId(): string {
    return this.transferIn?.customerCallId ?? this.callId;
  }

  /** Resolves once the agent's call is over (ended, or handed over by a transfer). */
  get ended(): Promise<void> {
    return this.endedSignal;
  }

  /** Whether a transfer's leg is ringing now. */
  get transferring(): boolean {
    return this.moving !== undefined;
  }

  /** A customer called the agent's extension: ring the device; bridge when it answers. */
  static inbound(deps: ServerCallDeps, callId: string, customer: SipLeg): ServerCall {
    // The caller id from SIP, normalised at the edge; its raw form only escaped, in callerDisplay.
    const caller = normaliseCallerId(customer.remoteUser);
    const call = new ServerCall(deps, new CallModel(callId, 'inbound', caller.number));
    call.callerDisplay = caller.display;
    // A customer a colleague transferred here: trusted only when this gateway started that transfer.
    const leg = deps.ledger.lookup(customer.requestHeader(TRANSFER_HEADER), deps.domain, deps.ua.user);
    if (leg)
      call.transferIn = { transferId: leg.transferId, customerCallId: leg.customerCallId, from: leg.from };
    call.startInbound(customer);
    return call;
  }

  /** A callout: ring the agent's device first, then the customer with ringback to the agent. */
  static outbound(deps: ServerCallDeps, callId: string, number: string, transactionId?: string): ServerCall {
    const call = new ServerCall(deps, new CallModel(callId, 'outbound', number, transactionId));
    call.startOutbound();
    return call;
  }

  toggleHold(): Promise<boolean> {
    return this.oneAtATime(async () => {
      const customer = this.answeredCustomer();
      const hold = this.model.state === 'active';
      await this.media.hold(customer, hold, this.model.muted);
      this.announce(this.model.transition(hold ? 'held' : 'active'), {});
      return hold;
    });
  }

  /** Mutes or unmutes the agent; announced once the customer's side agrees (a re-INVITE in direct media). */
  toggleMute(): Promise<boolean> {
    return this.oneAtATime(async () => {
      this.answeredCustomer();
      await this.media.mute(!this.model.muted, this.model.state === 'held');
      this.announce(this.model.toggleMute(), {});
      return this.model.muted;
    });
  }

  /**
   * Runs hold and mute toggles one at a time, each deciding from the call's state when its turn
   * comes: two toggles at once (a double click, two tabs) would both read the state before either
   * changed it, and leave the media (re-INVITE directions in direct media) unlike what was announced.
   */
  private oneAtATime<T>(op: () => Promise<T>): Promise<T> {
    const turn = this.toggles.then(op);
    this.toggles = turn.catch(() => undefined);
    return turn;
  }

  async sendDtmf(digits: string): Promise<void> {
    await this.answeredCustomer().sendInfoDtmf(digits);
  }

  hangup(by: EndedBy = 'agent', cause: EndCause = 'NORMAL_CLEARING'): Promise<void> {
    return this.finish(cause, by);
  }

  /** Places a transfer's target leg (as {@link moving}) and waits until it is answered or over. */
  private async ringTarget(
    customer: SipLeg,
    options: HandOverOptions,
  ): Promise<{ leg: SipLeg; outcome: 'accepted' | LegEnd }> {
    const leg = this.media.callTarget(this.deps.ua, options.target, customer, {
      extraHeaders: [`${TRANSFER_HEADER}: ${options.transferId}`],
      fromUser: this.model.phone,
    });
    this.moving = leg;
    const outcome = await new Promise<'accepted' | LegEnd>((resolve) => {
      leg.once('accepted', () => resolve('accepted'));
      leg.once('failed', (e) => resolve(e));
      leg.once('ended', (e) => resolve(e));
    });
    if (outcome !== 'accepted')
      this.deps.logger.debug(`${this.tag}: ${options.target} answered ${String(outcome.statusCode)}`);
    return { leg, outcome };
  }

  /**
   * Transfer: calls `target` from this line (presenting the customer's number) with the customer's
   * audio; when it answers, the customer hears the target instead of the agent's device, the device
   * leg is hung up, and this agent's call ends with TRANSFERRED (the line takes new calls). The
   * customer leg and the target's leg live on as a relay until either side hangs up. If the target
   * does not answer, nothing changed: the customer still talks to the agent (on hold if it was).
   */
  async handOver(options: HandOverOptions): Promise<HandOverResult> {
    const customer = this.answeredCustomer();
    if (this.moving) return { ok: false, reason: 'SIP_FAILED' };
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      void this.moving?.hangup();
    }, options.timeoutMs);
    let placed: { leg: SipLeg; outcome: 'accepted' | LegEnd } | undefined;
    try {
      // a target refusing the media first offered (direct media's placeholder), or answering it
      // with media the customer cannot take, is called again once
      for (;;) {
        placed = await this.ringTarget(customer, options);
        if (timedOut || this.model.ended || !this.media.retryTarget(placed.leg, placed.outcome)) break;
        const answered = placed.outcome === 'accepted';
        this.deps.logger.log(
          `${this.tag}: ${options.target} ${answered ? 'answered the placeholder with media the customer cannot take' : 'refused the placeholder'}: calling it again with the customer's own`,
        );
        if (answered) void placed.leg.hangup();
      }
    } catch (err) {
      this.deps.logger.warn(`${this.tag}: cannot call ${options.target}: ${(err as Error).message}`);
      return { ok: false, reason: 'SIP_FAILED' };
    } finally {
      clearTimeout(timer);
      this.moving = undefined;
    }
    const { leg, outcome } = placed;
    if (outcome !== 'accepted') {
      const sipCode = outcome.statusCode;
      const notAnswered = timedOut || notAnsweredStatus(sipCode);
      if (this.model.ended) return { ok: false, reason: 'CALL_ENDED' };
      return {
        ok: false,
        reason: notAnswered ? 'NOT_ANSWERED' : 'SIP_FAILED',
        ...(sipCode === undefined ? {} : { sipCode }),
      };
    }
    if (this.model.ended || customer.isTerminated) {
      void leg.hangup();
      return { ok: false, reason: 'CALL_ENDED' };
    }
    try {
      await this.media.moveTo(leg);
    } catch (err) {
      this.deps.logger.warn(`${this.tag}: moving the customer's media to the target failed: ${String(err)}`);
      void leg.hangup();
      // a direct-media customer may have been re-INVITEd towards the target already: the call is lost
      if (this.media.info.path === 'direct') void this.finish('MEDIA_FAILED', 'system');
      return { ok: false, reason: 'SIP_FAILED' };
    }
    if (this.model.ended || customer.isTerminated) {
      void leg.hangup();
      return { ok: false, reason: 'CALL_ENDED' };
    }
    this.becomeRelay(customer, leg);
    await this.media.resume(customer).catch((err: unknown) => {
      this.deps.logger.warn(`${this.tag}: taking the customer off hold failed: ${String(err)}`);
    });
    return { ok: true };
  }

  /** The agent's part ends (TRANSFERRED); the customer and the target stay bridged, as a relay the line keeps. */
  private becomeRelay(customer: SipLeg, target: SipLeg): void {
    const relay = new TransferRelay({
      callId: this.callId,
      customerCallId: this.customerCallId,
      customer,
      target,
      media: this.media,
      logger: this.deps.logger,
      agentName: this.deps.agentName,
    });
    this.relay = relay;
    this.clearRingTimer();
    const event = this.model.transition('ended');
    void this.device?.hangup();
    this.announce(event, { cause: 'TRANSFERRED', by: 'agent', duration: this.model.duration });
    this.deps.logger.debug(`${this.tag}: ${this.model.phone} relayed to the target`);
    this.deps.onRelay(relay);
    this.signalEnded();
    this.deps.onEnded(this);
  }

  private startInbound(customer: SipLeg): void {
    this.customer = customer;
    const transfer = this.transferIn
      ? {
          customerCallId: this.transferIn.customerCallId,
          transferId: this.transferIn.transferId,
          transferredFrom: this.transferIn.from,
        }
      : {};
    this.announce('call.ringing', {
      phone: this.model.phone,
      ...transfer,
      ...(this.callerDisplay === undefined ? {} : { callerDisplay: this.callerDisplay }),
    });
    customer.once(
      'failed',
      (e) =>
        void this.finish(e.by === 'remote' ? 'CUSTOMER_CANCELLED' : causeOfStatus(e.statusCode), 'customer'),
    );
    customer.once('ended', (e) => void this.legEnded('customer', e));
    this.ringInboundDevice(customer, []);
  }

  /** Rings the device for the ringing customer (again, after a refused offer or to auto-answer). */
  private ringInboundDevice(customer: SipLeg, extraHeaders: string[]): void {
    const device = this.ringDevice(extraHeaders, customer);
    if (!device) {
      void this.finish('DEVICE_UNREACHABLE', 'system');
      customer.reject(480);
      return;
    }
    this.followInboundDevice(customer, device);
  }

  /** The device leg of an inbound call; a leg replaced by {@link answerOnDevice} no longer counts. */
  private followInboundDevice(customer: SipLeg, device: SipLeg): void {
    device.once('accepted', () => {
      if (device === this.device) void this.onInboundDeviceAnswered(customer, device);
    });
    device.once('failed', (e) => {
      if (device !== this.device) return;
      if (!this.deviceTimedOut && this.fallBack(e.statusCode)) {
        if (!customer.isTerminated) this.ringInboundDevice(customer, this.deviceHeaders);
        return;
      }
      const cause = this.deviceTimedOut ? 'NO_ANSWER' : causeOfStatus(e.statusCode);
      // finish() first: rejecting the customer fires its own `failed` synchronously.
      void this.finish(cause === 'CUSTOMER_CANCELLED' ? 'NO_ANSWER' : cause, 'agent');
      if (!customer.isTerminated && customer.state === 'ringing')
        customer.reject(this.refusalFor(e.statusCode));
    });
    device.once('ended', (e) => {
      if (device === this.device) void this.legEnded('device', e);
    });
  }

  /** Whether `answerOnDevice` can pick this call up now. */
  get canAnswerOnDevice(): boolean {
    return this.deps.autoAnswer && this.model.state === 'ringing' && this.customer !== undefined;
  }

  /**
   * The CRM answers an inbound call that rings the agent's IP phone: the device is rung again with
   * a request to answer by itself, and the first ring is cancelled. The call then goes on as if the
   * agent had picked up the phone. Only for phones configured with `ipPhoneAutoAnswer`.
   */
  answerOnDevice(): void {
    const customer = this.customer;
    if (!this.canAnswerOnDevice || !customer) throw new CallNotAnsweredError(this.model.state);
    const previous = this.device;
    this.clearRingTimer();
    this.ringInboundDevice(customer, AUTO_ANSWER_HEADERS);
    this.deps.logger.debug(`${this.tag}: answered from the CRM; asking the device to pick up`);
    void previous?.hangup();
  }

  private async onInboundDeviceAnswered(customer: SipLeg, device: SipLeg): Promise<void> {
    this.clearRingTimer();
    try {
      await this.media.answerInbound(device, customer);
      if (this.model.ended) return;
      this.announce(this.model.transition('active'), { media: this.media.info });
      this.deps.logger.debug(
        `${this.tag}: ${this.model.phone} connected to the device (${this.media.info.path})`,
      );
    } catch (err) {
      this.deps.logger.warn(`${this.tag}: answering the customer failed: ${(err as Error).message}`);
      await this.finish('MEDIA_FAILED', 'system');
    }
  }

  private startOutbound(): void {
    const tx = this.model.transactionId === undefined ? {} : { transactionId: this.model.transactionId };
    this.announce('callout.started', { number: this.model.phone, ...tx });
    if (this.ringCalloutDevice(tx)) this.announce('call.agentRinging', {});
  }

  /** Rings a callout's device (again, after a refused offer); false when it cannot be rung. */
  private ringCalloutDevice(tx: { transactionId?: string }): boolean {
    const device = this.ringDevice();
    if (!device) {
      this.announce('callout.failed', { ...calloutError('device'), ...tx });
      void this.finish('DEVICE_UNREACHABLE', 'system');
      return false;
    }
    device.once('failed', (e) => {
      if (!this.deviceTimedOut && this.fallBack(e.statusCode)) {
        this.ringCalloutDevice(tx);
        return;
      }
      this.announce('callout.failed', { ...calloutError('device'), ...tx });
      void this.finish(this.deviceTimedOut ? 'NO_ANSWER' : 'DEVICE_UNREACHABLE', 'agent');
    });
    device.once('ended', (e) => void this.legEnded('device', e));
    device.once('accepted', () => void this.onOutboundDeviceAnswered(device, tx));
    return true;
  }

  private async onOutboundDeviceAnswered(device: SipLeg, tx: { transactionId?: string }): Promise<void> {
    this.clearRingTimer();
    if (this.model.ended) return;
    if (this.media instanceof DirectMedia) this.deps.onDeviceProfile?.(this.media.calloutProfile);
    this.model.transition('dialing');
    try {
      await this.media.prepareCallout(device);
      if (this.model.ended) return;
      const caller = this.deps.callerNumber;
      const customer = this.media.callCustomer(
        this.deps.ua,
        device,
        this.model.phone,
        caller ? [assertedIdentity(caller, this.deps.ua.uri.replace(/^sip:[^@]*@/, ''))] : [],
      );
      this.customer = customer;
      customer.once('progress', () => {
        if (!this.model.ended) this.announce('callout.customerRinging', { number: this.model.phone, ...tx });
      });
      customer.once('failed', (e) => {
        this.abandonCustomer(customer);
        this.announce('callout.failed', { ...calloutError('customer', e.statusCode), ...tx });
        void this.finish(causeOfStatus(e.statusCode), 'customer');
      });
      customer.once('ended', (e) => void this.legEnded('customer', e));
      customer.once('accepted', () => void this.onCustomerAnswered(customer));
    } catch (err) {
      this.deps.logger.warn(`${this.tag}: calling the customer failed: ${(err as Error).message}`);
      this.announce('callout.failed', { ...calloutError('other'), ...tx });
      await this.finish('CALLOUT_FAILED', 'system');
    }
  }

  /**
   * A callout's customer failed: what its ringing started (direct media's early media) stops. Its
   * failure is logged and changes nothing of how the call ends (announced by the caller).
   */
  private abandonCustomer(customer: SipLeg): void {
    const failed = (err: unknown): void =>
      this.deps.logger.warn(`${this.tag}: abandoning the customer's leg failed: ${String(err)}`);
    try {
      this.media.customerFailed(customer).catch(failed);
    } catch (err) {
      failed(err);
    }
  }

  private async onCustomerAnswered(customer: SipLeg): Promise<void> {
    try {
      await this.media.customerAnswered(customer);
      if (this.model.ended) return;
      this.announce(this.model.transition('active'), { media: this.media.info });
      this.deps.logger.debug(`${this.tag}: customer ${this.model.phone} answered (${this.media.info.path})`);
    } catch (err) {
      this.deps.logger.warn(`${this.tag}: connecting the customer failed: ${String(err)}`);
      await this.finish('MEDIA_FAILED', 'system');
    }
  }

  /**
   * Direct media the device refused (488, 415, 606): the next choice, before the device is rung
   * again. A callout's device that refused the first placeholder (plain RTP, or the WebRTC one it
   * took last time) is offered the other; then the call is bridged. False when the status is no
   * such refusal, or the call is bridged already.
   */
  private fallBack(statusCode: number | undefined): boolean {
    const direct = this.media;
    if (!(direct instanceof DirectMedia) || !refusedMedia(statusCode) || this.model.ended) return false;
    const status = String(statusCode);
    if (this.customer && this.deps.sip.direct?.bridgeable(this.customer) === false) {
      this.deps.logger.log(
        `${this.tag}: the device answered ${status} to the direct offer; the customer's offer is plain RTP, which the gateway cannot bridge: refused`,
      );
      return false;
    }
    direct.close();
    const other = otherProfile(direct.calloutProfile);
    if (!this.customer && !this.offeredBothProfiles && this.deps.sip.direct) {
      this.offeredBothProfiles = true;
      this.media = new DirectMedia(
        this.deps.sip.direct,
        `direct media; the device refused a ${PROFILE_NAMES[direct.calloutProfile]} offer (${status}) and took a ${PROFILE_NAMES[other]} one`,
        other,
      );
    } else {
      this.media = new BridgeMedia(
        this.deps.sip,
        `the device refused direct media (${status}): no common codec or media profile, so the gateway bridges`,
      );
    }
    this.deps.logger.log(
      `${this.tag}: the device answered ${status} to the direct offer: ${this.media.info.reason}`,
    );
    return true;
  }

  /**
   * What an inbound customer is answered when the device failed: 486 when busy; a media refusal
   * the gateway could not bridge around (a plain-RTP offer, direct media) as the device said it,
   * so that a transferring gateway tries its other offer; else 480.
   */
  private refusalFor(statusCode: number | undefined): number {
    if (statusCode === 486) return 486;
    if (this.media instanceof DirectMedia && statusCode !== undefined && refusedMedia(statusCode))
      return statusCode;
    return 480;
  }

  /** Places the device leg, or answers undefined when the PBX cannot be reached right now. */
  private ringDevice(extraHeaders: string[] = [], customer?: SipLeg): SipLeg | undefined {
    this.clearRingTimer();
    this.deviceTimedOut = false;
    this.deviceHeaders = extraHeaders;
    try {
      const device = this.media.ringDevice(this.deps.ua, this.deps.deviceTarget, extraHeaders, customer);
      this.device = device;
      this.ringTimer = setTimeout(() => {
        this.ringTimer = undefined;
        this.deviceTimedOut = true;
        this.deps.logger.log(`${this.tag}: the device did not answer in ${this.deps.ringTimeoutMs} ms`);
        void device.hangup();
      }, this.deps.ringTimeoutMs);
      return device;
    } catch (err) {
      this.deps.logger.warn(
        `${this.tag}: cannot ring the device ${this.deps.deviceTarget}: ${(err as Error).message}`,
      );
      return undefined;
    }
  }

  private answeredCustomer(): SipLeg {
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
  private legEnded(leg: 'customer' | 'device', end: LegEnd): Promise<void> {
    // After a transfer the device leg was ours to end; the customer's end closes the relay.
    if (this.relay) return leg === 'customer' ? this.relay.close() : Promise.resolve();
    const party: EndedBy = leg === 'customer' ? 'customer' : 'agent';
    this.deps.logger.debug(`${this.tag}: ${leg} leg ended (${end.cause}, by ${end.by})`);
    if (end.by === 'remote') return this.finish('NORMAL_CLEARING', party);
    if (end.by === 'system' || LOST_LEG_CAUSES.has(end.cause)) return this.finish('MEDIA_FAILED', party);
    return this.finish('NORMAL_CLEARING', party === 'customer' ? 'agent' : 'customer');
  }

  /** Ends the call once, whoever asks first: both legs, the bridge and tones; then `call.ended`. */
  private finish(cause: EndCause, by: EndedBy): Promise<void> {
    if (this.relay) return this.relay.close();
    // Assigned before any leg is touched: hanging one up fires the other's events synchronously.
    this.finishing ??= Promise.resolve().then(() => this.end(cause, by));
    return this.finishing;
  }

  private async end(cause: EndCause, by: EndedBy): Promise<void> {
    this.clearRingTimer();
    const event = this.model.transition('ended');
    await Promise.allSettled([this.customer?.hangup(), this.device?.hangup(), this.moving?.hangup()]);
    this.media.close();
    this.announce(event, { cause, by, duration: this.model.duration });
    this.deps.logger.debug(`${this.tag} ended: ${cause} by ${by} after ${this.model.duration} s`);
    this.signalEnded();
    this.deps.onEnded(this);
  }

  /** Publishes an event of the call; each is one info line with the agent and the call id. */
  private announce<T extends EventType>(type: T | undefined, data: EventDataMap[T]): void {
    if (type === undefined) return;
    this.deps.logger.log(`${this.tag}: ${type} (${this.model.state})`);
    this.deps.publish(type, data).catch((err: unknown) => {
      this.deps.logger.error(`${this.tag}: publishing ${type} failed: ${String(err)}`);
    });
  }

  private clearRingTimer(): void {
    if (this.ringTimer) clearTimeout(this.ringTimer);
    this.ringTimer = undefined;
  }
}

/** A command that needs an answered call, on a call that is not (yet) answered. */
export class CallNotAnsweredError extends Error {
  constructor(readonly state: string) {
    super(`the call is ${state}, not answered`);
  }
}

/** The P-Asserted-Identity header that presents a callout service's number to the customer. */
export function assertedIdentity(callerNumber: string, sipDomain: string): string {
  return `P-Asserted-Identity: <sip:${callerNumber}@${sipDomain}>`;
}

/** The media of a new call: the domain's `pbx.media`, bridged where the SIP stack has no direct media. */
function initialMedia(deps: ServerCallDeps): CallMedia {
  if (deps.mediaPath === 'bridge') return new BridgeMedia(deps.sip, 'pbx.media is bridge');
  if (!deps.sip.direct) return new BridgeMedia(deps.sip, 'the SIP stack has no direct media');
  return new DirectMedia(
    deps.sip.direct,
    'direct media: the device and the customer exchange RTP themselves',
    deps.deviceProfile,
  );
}

const PROFILE_NAMES: Record<MediaProfile, string> = { rtp: 'plain-RTP', webrtc: 'WebRTC' };

function otherProfile(profile: MediaProfile): MediaProfile {
  return profile === 'rtp' ? 'webrtc' : 'rtp';
}
