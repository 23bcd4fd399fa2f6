import { randomUUID } from 'node:crypto';
import type { EventDataMap, EventType, SipRegistrationView } from '@callgate/contracts';
import { type AgentConfig, DEFAULT_MEDIA_PATH, type PbxConfig } from '@callgate/auth';
import type { AgentState } from '@callgate/coordination';
import { logText } from '@callgate/call-core';
import type { AgentRef, CallsLogger, MediaProfile, SipLeg, SipPort, SipUserAgentPort } from './ports.js';
import { ServerCall, type ServerCallDeps } from './server-call.js';
import type { TransferLedger } from './transfer-ledger.js';
import type { TransferRelay } from './transfer-relay.js';

export interface ServerLineDeps {
  agent: AgentRef;
  config: AgentConfig;
  pbx: PbxConfig;
  /** publishes an event of this agent's call */
  publish: <T extends EventType>(
    type: T,
    data: EventDataMap[T],
    call: { callId: string; transactionId?: string },
  ) => Promise<void>;
  /** the agent's current device and call status, from the coordination store */
  state: () => Promise<AgentState>;
  logger: CallsLogger;
  /** the SIP stack: the line's user agent, its calls' bridges and tones */
  sip: SipPort;
  /** transfers under way (an inbound leg's transfer header is trusted only when listed) */
  ledger: TransferLedger;
  ringTimeoutMs: number;
  /** audio codecs of the line's calls, preferred first; unset: JsSIP's default order */
  codecs?: string[];
  /**
   * True while this instance may act for the agent (it holds the agent's lease). When false the
   * line is fenced: new calls are refused and the registration is not refreshed.
   */
  mayServe: () => boolean;
  /** told of each failed registration (metrics) */
  onRegistrationFailed?: () => void;
  /** publishes a change of the line's registration (`agent.sip`) to the agent's tabs and /events */
  publishSip: (view: SipRegistrationView) => Promise<void>;
  /** told when the line became idle: its call ended and no transfer relay is left on it */
  onIdle?: () => void;
}

/** REGISTER retries after a failure: 2 s, doubling, at most 5 min, ±20 % (a PBX with pike or fail2ban bans a client that hammers it). */
export const REGISTER_BACKOFF = { initialMs: 2_000, maxMs: 300_000, factor: 2, jitter: 0.2 } as const;

/** Why a REGISTER failed, in words an administrator acts on. */
export function registrationReason(statusCode: number | undefined, cause: string): string {
  switch (statusCode) {
    case 401:
    case 407:
      return `authentication failed (${statusCode}): check the agent's SIP user, auth user and password`;
    case 403:
      return 'forbidden (403): the PBX refuses this account';
    case 404:
      return 'not found (404): the PBX does not know this user or domain';
    case undefined:
      return cause === 'requestTimeout'
        ? 'the PBX did not answer the REGISTER'
        : `registration failed (${cause})`;
    default:
      return `registration refused (${statusCode})`;
  }
}

/**
 * The agent's extension, registered by the gateway (device modes 2, 3, 4, 6), and its one call at
 * a time. Inbound calls ring the device the agent chose; the device is read at each call, so a
 * switch between modes 2, 3, 4 and 6 needs no new registration.
 */
export class ServerLine {
  readonly ua: SipUserAgentPort;
  private active: ServerCall | undefined;
  /** customers transferred away from this line, still bridged to their target through it */
  private readonly relaySet = new Set<TransferRelay>();
  private closed = false;
  private view: SipRegistrationView = { state: 'registering' };
  /**
   * Direct media: the placeholder each device target took on its last callout. A WebRTC device
   * refuses the plain-RTP one (488) and is rung again; remembered, it is offered WebRTC first next
   * time and rings once. Kept in memory: a new line (restart, failover) learns again.
   */
  private readonly deviceProfiles = new Map<string, MediaProfile>();

  constructor(private readonly deps: ServerLineDeps) {
    this.ua = deps.sip.createUserAgent({
      agent: deps.agent,
      config: deps.config,
      pbx: deps.pbx,
      ...(deps.codecs ? { codecs: deps.codecs } : {}),
      mayRefreshRegistration: deps.mayServe,
      registrationRetry: REGISTER_BACKOFF,
    });
    this.ua.on('incomingCall', ({ leg }) => {
      this.onIncoming(leg).catch((err: unknown) => {
        deps.logger.error(`${this.name}: incoming call failed: ${String(err)}`);
        if (!leg.isTerminated && leg.state === 'ringing') leg.reject(500);
      });
    });
    this.ua.on('registered', () => {
      deps.logger.log(`${this.name}: registered`);
      this.setView({ state: 'registered' });
    });
    this.ua.on('registrationFailed', (e) => {
      deps.onRegistrationFailed?.();
      const reason = registrationReason(e.statusCode, e.cause);
      deps.logger.warn(
        `${this.name}: registration failed: ${reason}${e.retryInMs === undefined ? '' : `; next REGISTER in ${Math.round(e.retryInMs / 1000)} s`}`,
      );
      this.setView({
        state: 'failed',
        reason,
        ...(e.statusCode === undefined ? {} : { statusCode: e.statusCode }),
        failures: this.ua.registrationFailures,
        ...(e.retryInMs === undefined ? {} : { retryInMs: e.retryInMs }),
      });
    });
    this.ua.on('disconnected', (e) => {
      const why = e.transportError ?? e.reason;
      deps.logger.warn(`${this.name}: PBX connection lost${why ? ` (${why})` : ''}`);
      this.setView({
        state: 'disconnected',
        reason: e.transportError
          ? `cannot connect to the PBX (${deps.pbx.wsUri}): ${e.transportError}`
          : `the PBX connection (${deps.pbx.wsUri}) is down${e.reason ? `: ${e.reason}` : ''}`,
      });
    });
  }

  get name(): string {
    return `${this.deps.agent.domain}/${this.deps.agent.ipphone}`;
  }

  get call(): ServerCall | undefined {
    return this.active;
  }

  /** The transfer relays on this line: customers moved away, still bridged through it. */
  get relays(): readonly TransferRelay[] {
    return [...this.relaySet];
  }

  /** A call or a transfer relay is on the line: it is not dropped, handed over or closed lightly. */
  get busy(): boolean {
    return this.active !== undefined || this.relaySet.size > 0;
  }

  get registered(): boolean {
    return this.ua.isRegistered;
  }

  /** The registration as the agent's tabs, /events and REST see it. */
  get registration(): SipRegistrationView {
    return this.view;
  }

  /** Records a new registration view and publishes it when its state or reason changed. */
  private setView(view: SipRegistrationView): void {
    const changed = view.state !== this.view.state || view.reason !== this.view.reason;
    this.view = view;
    if (!changed || this.closed) return;
    this.deps.publishSip(view).catch((err: unknown) => {
      this.deps.logger.warn(`${this.name}: publishing agent.sip failed: ${String(err)}`);
    });
  }

  /** Connects and registers; resolves when registered (the user agent keeps retrying after a failure). */
  start(): Promise<void> {
    return this.ua.start();
  }

  /** Starts a callout; the caller has checked permission, state and the number. */
  async dial(number: string, transactionId?: string, callerNumber?: string): Promise<ServerCall> {
    const target = await this.deviceTarget();
    if (this.active) throw new LineBusyError();
    const callId = randomUUID();
    this.active = ServerCall.outbound(
      { ...this.callDeps(target, callId, transactionId), ...(callerNumber ? { callerNumber } : {}) },
      callId,
      number,
      transactionId,
    );
    return this.active;
  }

  /** Ends the current call (cause SHUTDOWN) and any transfer relay, and unregisters. Idempotent. */
  async close(reason = 'closed'): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([
      this.active?.hangup('system', 'SHUTDOWN'),
      ...[...this.relaySet].map((relay) => relay.close()),
    ]);
    await this.ua.close(reason);
  }

  private async onIncoming(customer: SipLeg): Promise<void> {
    if (!this.deps.mayServe()) {
      // Another instance may hold the agent now: answering here could ring the agent twice.
      this.deps.logger.warn(
        `${this.name}: fenced (lease not current), ${logText(customer.remoteUser)} refused 480`,
      );
      customer.reject(480);
      return;
    }
    if (this.active) {
      this.deps.logger.log(`${this.name}: busy, ${logText(customer.remoteUser)} refused 486`);
      customer.reject(486);
      return;
    }
    const state = await this.deps.state();
    if (this.active) {
      customer.reject(486);
      return;
    }
    if (state.callStatus !== 'on') {
      this.deps.logger.log(
        `${this.name}: call status ${state.callStatus}, ${logText(customer.remoteUser)} refused 480`,
      );
      customer.reject(480);
      return;
    }
    const target = deviceTargetOf(state, this.deps.config, this.deps.pbx);
    if (!target) {
      this.deps.logger.warn(
        `${this.name}: no server-side device (type ${state.deviceType}), ${logText(customer.remoteUser)} refused 480`,
      );
      customer.reject(480);
      return;
    }
    if (this.deps.sip.direct?.isUnrelayedPlaceholder(customer) === true) {
      this.deps.logger.log(
        `${this.name}: a transfer of ${logText(customer.remoteUser)} offered a placeholder no media relay rewrote: refused 488, for the customer's own offer`,
      );
      customer.reject(488);
      return;
    }
    const callId = randomUUID();
    this.deps.logger.log(
      `${this.name}: call ${callId} from ${logText(customer.remoteUser)}, ringing ${target}`,
    );
    // An IP phone that answers when asked lets the CRM pick up the ringing call (`call.answer`).
    const autoAnswer =
      (state.deviceType === 2 || state.deviceType === 4) &&
      this.deps.config.devices.ipPhoneAutoAnswer === true;
    this.active = ServerCall.inbound({ ...this.callDeps(target, callId), autoAnswer }, callId, customer);
  }

  private callDeps(deviceTarget: string, callId: string, transactionId?: string): ServerCallDeps {
    return {
      ua: this.ua,
      sip: this.deps.sip,
      mediaPath: this.deps.pbx.media ?? DEFAULT_MEDIA_PATH,
      ledger: this.deps.ledger,
      agentName: this.name,
      domain: this.deps.agent.domain,
      deviceTarget,
      logger: this.deps.logger,
      ringTimeoutMs: this.deps.ringTimeoutMs,
      autoAnswer: false,
      deviceProfile: this.deviceProfiles.get(deviceTarget),
      onDeviceProfile: (profile) => this.deviceProfiles.set(deviceTarget, profile),
      publish: (type, data) =>
        this.deps.publish(type, data, { callId, ...(transactionId === undefined ? {} : { transactionId }) }),
      onEnded: (call) => {
        if (this.active === call) this.active = undefined;
        if (!this.busy) this.deps.onIdle?.();
      },
      onRelay: (relay) => {
        this.relaySet.add(relay);
        void relay.closed.then(() => {
          this.relaySet.delete(relay);
          if (!this.busy) this.deps.onIdle?.();
        });
      },
    };
  }

  private async deviceTarget(): Promise<string> {
    const target = deviceTargetOf(await this.deps.state(), this.deps.config, this.deps.pbx);
    if (!target) throw new Error(`${this.name} has no server-side device`);
    return target;
  }
}

/** Where a server-side device answers, or undefined in browser mode. */
export function deviceTargetOf(state: AgentState, config: AgentConfig, pbx: PbxConfig): string | undefined {
  switch (state.deviceType) {
    case 1:
      return undefined;
    case 2:
    case 4:
      return config.devices.ipPhone;
    case 6:
      return config.devices.softphone;
    case 3: {
      const mobile = state.mobile ?? config.devices.mobile;
      return mobile ? `${pbx.mobilePrefix}${mobile}` : undefined;
    }
  }
}

/** The line already carries a call. */
export class LineBusyError extends Error {
  constructor() {
    super('the agent is already in a call');
  }
}
