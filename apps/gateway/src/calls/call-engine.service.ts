import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import {
  CallgateError,
  type CallCommandName,
  type CommandPayload,
  type CommandResult,
  type SipRegistrationView,
} from '@callgate/contracts';
import type { CallSnapshot } from '@callgate/call-core';
import {
  preferredInstance,
  type AgentRef,
  type AgentState,
  type Coordination,
  type Lease,
} from '@callgate/coordination';
import type { GatewayConfig } from '../config.js';
import { defaultAgentState } from '@callgate/calls';
import { EventBus } from '../events/event-bus.js';
import { Peers } from '../infra/peers.js';
import { METRICS, type Metrics } from '../infra/metrics.js';
import { COORDINATION, GATEWAY_CONFIG, SIP_PORT, TRANSFER_LEDGER } from '../tokens.js';
import { CoordinationAgentLocation } from './adapters/agent-location.js';
import {
  type AgentLocationPort,
  type AgentPlace,
  runLineCommand,
  ServerLine,
  type SipPort,
  type TransferLedger,
} from '@callgate/calls';

const key = (agent: AgentRef): string => `${agent.domain}/${agent.ipphone}`;

/** At most this many idle agents are handed to a newly joined instance per tick. */
const HANDOVERS_PER_TICK = 4;

/** This instance's lease on an agent, and until when it may act on it without a renewal. */
interface HeldLease {
  agent: AgentRef;
  epoch: number;
  /** `performance.now()` time the lease surely lasts to: last renewal sent + leaseMs */
  validUntil: number;
  /** it ran out before a renewal came back: the line takes no new calls until one does */
  fenced: boolean;
}

/** The owner's call in progress, recorded with its lease for an instance that adopts the agent. */
interface CallRecord {
  callId: string;
  startedAt: number;
  transactionId?: string;
}

/** A call command sent to the instance that owns the agent. */
interface PeerCommand {
  agent: AgentRef;
  name: CallCommandName;
  payload: CommandPayload<CallCommandName>;
}

/** The server-side line of an agent as any instance reports it. */
export interface LineStatus {
  registered: boolean;
  /** the registration's state and, when not registered, why */
  registration?: SipRegistrationView;
  /** the instance whose user agent registers the agent */
  owner: string;
  call: CallSnapshot | null;
}

/**
 * Server-side calls (device modes 2, 3, 4): one registered line per agent that needs one, on
 * exactly one gateway instance, the holder of the agent's lease.
 * - modes 3 and 4: registered whether or not the agent has a tab;
 * - mode 2: registered while the agent has at least one live tab;
 * - mode 1: no line (the voice tab is the phone).
 *
 * Every third of the lease, each instance renews its leases, marks itself alive, and claims the
 * agents that need a line, have no owner and hash to it among the live instances (rendezvous
 * hashing spreads agents; an instance that joins receives its share of idle agents). A command for
 * an agent owned elsewhere is sent to the owner and answered as if local. An owner that cannot
 * renew in time fences itself (refuses new calls, lets its registration lapse) before its lease
 * can expire; one that learns another took its lease drops the line without a word.
 */
@Injectable()
export class CallEngine implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(CallEngine.name);
  /** the lines' and their calls' logger: one info line per call state change */
  private readonly lineLogger = new Logger(ServerLine.name);
  private readonly lines = new Map<string, ServerLine>();
  private readonly held = new Map<string, HeldLease>();
  /** lines whose lease was lost: their events are no longer ours to publish */
  private readonly silenced = new WeakSet<ServerLine>();
  /** the call each line recorded with its lease */
  private readonly recorded = new Map<string, string>();
  /** per agent, the reconcile in progress: reconciles of one agent never overlap */
  private readonly queue = new Map<string, Promise<void>>();
  /** live instances at the last heartbeat, and how many heartbeats each has been seen in a row */
  private members: string[] = [];
  private readonly seenFor = new Map<string, number>();
  /** agents needing a line that the last sweep found without an owner */
  private unowned = new Set<string>();
  private sweeps = 0;
  /** resolved (and cleared) whenever a call of a line of ours ends */
  private callEndWaiters: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private storeDown = false;
  private stopping = false;
  private drainingFlag = false;

  /** inbound calls in progress on server-side lines (a `call.ended` NO_ANSWER of one marks noAnswer) */
  private readonly inbound = new Set<string>();
  /** where agents' lines and voice tabs live: asked here, by the agent service and by transfers */
  readonly location: AgentLocationPort;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(COORDINATION) private readonly coordination: Coordination,
    private readonly bus: EventBus,
    private readonly peers: Peers,
    @Inject(METRICS) private readonly metrics: Metrics,
    @Inject(SIP_PORT) private readonly sip: SipPort,
    @Inject(TRANSFER_LEDGER) private readonly ledger: TransferLedger,
  ) {
    this.location = new CoordinationAgentLocation(coordination, {
      hasLine: (agent) => this.lines.has(key(agent)),
      liveInstances: () => this.members,
    });
    metrics.gauge('linesRegistered', () => [...this.lines.values()].filter((line) => line.registered).length);
    metrics.gauge('leasesHeld', () => this.held.size);
    metrics.setModeResolver(async (agent) => (await this.state(agent)).deviceType);
    peers.handle('calls.command', ({ agent, name, payload }: PeerCommand) => {
      const line = this.line(agent);
      if (!line) throw new CallgateError('DEVICE_NOT_AVAILABLE', `${key(agent)} is not served here`);
      return this.commandHere(line, agent, name, payload);
    });
    peers.handle('calls.status', (agent: AgentRef) => {
      const line = this.line(agent);
      return Promise.resolve(line ? this.localStatus(line) : null);
    });
    peers.handle('calls.reconcile', (agent: AgentRef) => this.reconcileHere(agent));
  }

  get instanceId(): string {
    return this.coordination.instanceId;
  }

  /** True from the start of a graceful shutdown: no new agents, idle ones handed over. */
  get draining(): boolean {
    return this.drainingFlag;
  }

  /** The gateway instances alive at the last heartbeat (this one included unless draining). */
  get liveInstances(): readonly string[] {
    return this.members;
  }

  /** The instance that registers the agent's line, or null when none does. */
  ownerOf(agent: AgentRef): Promise<string | null> {
    return this.location.lineOwner(agent);
  }

  /** Lines this instance registers now. */
  get lineCount(): number {
    return this.lines.size;
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.tick();
    this.schedule();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    await this.ticking;
    await Promise.allSettled([...this.queue.values()]);
    await Promise.allSettled([...this.lines.keys()].map((k) => this.dropLine(k, 'gateway shutdown')));
    await this.leaveCluster();
  }

  /** Leaves the live set now rather than when the heartbeat lapses, so others stop routing here. */
  private async leaveCluster(): Promise<void> {
    await this.coordination.cluster.leave().catch((err: unknown) => {
      this.logger.warn(`leaving the live instances failed: ${(err as Error).message}`);
    });
  }

  /**
   * Graceful shutdown, first part: stop taking agents, hand idle ones to other instances at once,
   * let calls in progress finish until `deadlineMs`, then end the rest (cause SHUTDOWN) and hand
   * those agents over too.
   */
  async drain(deadlineMs: number): Promise<void> {
    if (this.drainingFlag) return;
    this.drainingFlag = true;
    this.logger.log(`draining ${this.lines.size} line(s), deadline ${deadlineMs} ms`);
    await this.leaveCluster();
    this.members = this.members.filter((id) => id !== this.instanceId);
    const deadline = performance.now() + deadlineMs;
    for (;;) {
      const keys = [...this.lines.keys()];
      await Promise.allSettled(
        keys.filter((k) => !this.lines.get(k)?.busy).map((k) => this.handOver(k, 'draining')),
      );
      if (this.lines.size === 0) break;
      const remaining = deadline - performance.now();
      if (remaining <= 0) {
        this.logger.warn(`drain deadline reached: ending ${this.lines.size} call(s)`);
        await Promise.allSettled([...this.lines.keys()].map((k) => this.handOver(k, 'drain deadline')));
        break;
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.callEndWaiters.push(resolve)),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, remaining);
        }),
      ]);
      clearTimeout(timer);
    }
    this.logger.log('drained');
  }

  /** Re-applies the registration rules for an agent in the background (errors are logged). */
  reconcileSoon(agent: AgentRef): void {
    this.reconcile(agent).catch((err: unknown) => {
      this.logger.error(`reconcile ${key(agent)} failed: ${String(err)}`);
    });
  }

  /**
   * Re-applies the registration rules for an agent on the instance that owns it (or should);
   * resolves when its line is up or gone there.
   */
  async reconcile(agent: AgentRef): Promise<void> {
    const k = key(agent);
    if (this.lines.has(k) || this.held.has(k)) return this.reconcileHere(agent);
    const lease = await this.owner(agent);
    const target = lease?.owner ?? preferredInstance(agent, this.members);
    if (target === undefined || target === this.instanceId) return this.reconcileHere(agent);
    try {
      await this.peers.ask(target, 'calls.reconcile', agent);
    } catch (err) {
      if (lease) throw err;
      // The preferred instance is gone or stuck and nobody owns the agent: take it here.
      this.logger.warn(`${k}: ${target} did not take the agent (${(err as Error).message}); taking it here`);
      await this.reconcileHere(agent);
    }
  }

  line(agent: AgentRef): ServerLine | undefined {
    return this.lines.get(key(agent));
  }

  /** True when some instance runs a server-side line for the agent. */
  async serving(agent: AgentRef): Promise<boolean> {
    return (await this.location.lineOwner(agent)) !== null;
  }

  /** The agent's server-side line wherever it runs, or null when it has none. */
  async status(agent: AgentRef): Promise<LineStatus | null> {
    const line = this.line(agent);
    if (line) return this.localStatus(line);
    const lease = await this.owner(agent);
    if (!lease) return null;
    return this.peers.ask<LineStatus | null>(lease.owner, 'calls.status', agent);
  }

  /**
   * Runs a call command for an agent whose device is server-side, on the instance that owns it
   * (`place`: where the agent was located, when the caller knows already).
   */
  async command<K extends CallCommandName>(
    agent: AgentRef,
    name: K,
    payload: CommandPayload<K>,
    place?: AgentPlace,
  ): Promise<CommandResult<K>> {
    const line = this.line(agent);
    if (line) return this.commandHere(line, agent, name, payload);
    const where = place ?? (await this.location.locate(agent));
    if (where.kind !== 'line' || where.here) {
      throw new CallgateError('DEVICE_NOT_AVAILABLE', `agent ${agent.ipphone} has no call device attached`);
    }
    const command: PeerCommand = { agent, name, payload };
    return this.peers.ask<CommandResult<K>>(where.instanceId, 'calls.command', command);
  }

  private commandHere<K extends CallCommandName>(
    line: ServerLine,
    agent: AgentRef,
    name: K,
    payload: CommandPayload<K>,
  ): Promise<CommandResult<K>> {
    return runLineCommand({ agent, line, mayServe: this.mayServe(key(agent)) }, name, payload);
  }

  private localStatus(line: ServerLine): LineStatus {
    return {
      registered: line.registered,
      registration: line.registration,
      owner: this.instanceId,
      call: line.call?.model.snapshot() ?? null,
    };
  }

  private async owner(agent: AgentRef): Promise<Lease | null> {
    const owners = await this.coordination.leases.owners(agent.domain, [agent.ipphone]);
    return owners.get(agent.ipphone) ?? null;
  }

  // ---- the lines of this instance ----

  private reconcileHere(agent: AgentRef): Promise<void> {
    const k = key(agent);
    const previous = this.queue.get(k) ?? Promise.resolve();
    const next = previous
      .then(() => this.apply(agent))
      .finally(() => {
        if (this.queue.get(k) === next) this.queue.delete(k);
      });
    this.queue.set(k, next);
    return next;
  }

  private async apply(agent: AgentRef): Promise<void> {
    const k = key(agent);
    const state = await this.state(agent);
    const wanted = !this.stopping && !this.drainingFlag && (await this.wantsLine(agent, state));
    const line = this.lines.get(k);
    if (wanted && !line) {
      const claim = await this.coordination.leases.claim(agent);
      if (!claim.granted) {
        this.logger.debug(`${k}: owned by ${claim.lease.owner}`);
        return;
      }
      this.held.set(k, {
        agent,
        epoch: claim.lease.epoch,
        validUntil: performance.now() + this.coordination.leaseMs,
        fenced: false,
      });
      if (claim.lostCall) await this.announceLostCall(agent, claim.lostCall);
      const created = this.createLine(agent);
      this.lines.set(k, created);
      this.logger.log(
        `${k}: registering for device type ${state.deviceType} (lease epoch ${claim.lease.epoch})`,
      );
      created.start().catch((err: unknown) => {
        // The user agent keeps trying; calls reach the agent once it registers.
        this.logger.warn(`${k}: first registration failed: ${(err as Error).message}`);
      });
    } else if (!wanted && line) {
      if (line.busy) {
        this.logger.log(`${k}: line no longer needed; it closes after the current call (or transfer relay)`);
        return;
      }
      this.logger.log(`${k}: unregistering (device type ${state.deviceType})`);
      await this.dropLine(k, 'device changed');
    }
  }

  /** Closes a line of ours (ending its call, if any) and gives its lease up. */
  private async dropLine(k: string, reason: string): Promise<void> {
    const line = this.lines.get(k);
    this.lines.delete(k);
    const lease = this.held.get(k);
    this.held.delete(k);
    await line?.close(reason);
    this.recorded.delete(k);
    if (lease) {
      await this.coordination.leases.release(lease.agent, lease.epoch).catch((err: unknown) => {
        this.logger.warn(`${k}: releasing the lease failed (it will expire): ${(err as Error).message}`);
      });
    }
  }

  /** Gives an agent to the instance it hashes to among the others, which takes it at once. */
  private async handOver(k: string, reason: string): Promise<void> {
    const lease = this.held.get(k);
    await this.dropLine(k, reason);
    if (!lease) return;
    const others = this.members.filter((id) => id !== this.instanceId);
    const target = preferredInstance(lease.agent, others);
    if (target === undefined) return;
    this.logger.log(`${k}: handed over to ${target} (${reason})`);
    await this.peers.ask(target, 'calls.reconcile', lease.agent).catch((err: unknown) => {
      this.logger.warn(
        `${k}: ${target} did not take it now (${(err as Error).message}); it will at its next tick`,
      );
    });
  }

  /** The lease was taken by another instance: stop at once, without announcing anything. */
  private async lost(k: string): Promise<void> {
    const line = this.lines.get(k);
    this.held.delete(k);
    this.recorded.delete(k);
    if (!line) return;
    this.lines.delete(k);
    this.silenced.add(line);
    this.metrics.leaseLost();
    this.logger.warn(`${k}: lease taken by another instance; dropping the line`);
    await line.close('lease lost');
  }

  private mayServe(k: string): boolean {
    const lease = this.held.get(k);
    return lease !== undefined && performance.now() < lease.validUntil;
  }

  private async announceLostCall(agent: AgentRef, raw: string): Promise<void> {
    let record: CallRecord;
    try {
      record = JSON.parse(raw) as CallRecord;
    } catch {
      this.logger.warn(`${key(agent)}: unreadable call record left by the previous owner: ${raw}`);
      return;
    }
    this.logger.warn(`${key(agent)}: call ${record.callId} was lost with its instance`);
    await this.bus.publish(
      agent,
      'call.ended',
      {
        cause: 'INSTANCE_LOST',
        by: 'system',
        duration: Math.max(0, Math.round((Date.now() - record.startedAt) / 1000)),
      },
      {
        callId: record.callId,
        ...(record.transactionId === undefined ? {} : { transactionId: record.transactionId }),
      },
    );
  }

  /** Records the line's call with its lease when it starts, and clears it when it ends. */
  private async recordCall(
    agent: AgentRef,
    type: string,
    call: { callId: string; transactionId?: string },
  ): Promise<void> {
    const k = key(agent);
    const lease = this.held.get(k);
    if (!lease) return;
    if (type === 'call.ended') {
      if (this.recorded.get(k) !== call.callId) return;
      this.recorded.delete(k);
      await this.coordination.leases.recordCall(agent, lease.epoch, null);
      return;
    }
    if (this.recorded.get(k) === call.callId) return;
    this.recorded.set(k, call.callId);
    const record: CallRecord = { startedAt: Date.now(), ...call };
    await this.coordination.leases.recordCall(agent, lease.epoch, JSON.stringify(record));
  }

  // ---- the tick: heartbeat, renewals, fencing, claims, rebalancing ----

  private schedule(): void {
    if (this.stopping) return;
    this.timer = setTimeout(
      () => {
        this.ticking = this.tick().finally(() => {
          this.ticking = undefined;
          this.schedule();
        });
      },
      Math.max(1, Math.floor(this.coordination.leaseMs / 3)),
    );
    this.timer.unref();
  }

  private notifyCallEnded(): void {
    const waiters = this.callEndWaiters;
    this.callEndWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private async tick(): Promise<void> {
    try {
      await this.renew();
      this.fence();
      if (!this.drainingFlag) {
        this.members = await this.coordination.cluster.heartbeat();
        for (const id of [...this.seenFor.keys()]) if (!this.members.includes(id)) this.seenFor.delete(id);
        for (const id of this.members) this.seenFor.set(id, (this.seenFor.get(id) ?? 0) + 1);
        await this.sweep();
      }
      if (this.storeDown) this.logger.log('coordination store reachable again');
      this.storeDown = false;
    } catch (err) {
      this.fence();
      if (!this.storeDown) this.logger.warn(`ownership tick failed: ${(err as Error).message}`);
      this.storeDown = true;
    }
  }

  private async renew(): Promise<void> {
    const held = [...this.held.entries()];
    if (held.length === 0) return;
    const sentAt = performance.now();
    const results = await this.coordination.leases.renew(held.map(([, lease]) => lease));
    for (const [i, result] of results.entries()) {
      const [k, lease] = held[i] ?? [];
      if (k === undefined || lease === undefined || this.held.get(k) !== lease) continue;
      switch (result) {
        case 'renewed':
        case 'reasserted':
          lease.validUntil = sentAt + this.coordination.leaseMs;
          if (result === 'reasserted') this.logger.warn(`${k}: lease was gone from the store; written back`);
          if (lease.fenced) {
            lease.fenced = false;
            this.logger.log(`${k}: lease renewed; serving again`);
            this.lines.get(k)?.ua.refreshRegistration();
          }
          break;
        case 'lost':
          await this.lost(k);
          break;
      }
    }
  }

  /** Lines whose lease may have run out by now stop taking calls (see mayServe); logged once. */
  private fence(): void {
    const now = performance.now();
    for (const [k, lease] of this.held) {
      if (lease.fenced || now < lease.validUntil) continue;
      lease.fenced = true;
      this.logger.warn(
        `${k}: lease not renewed in time; fenced (no new calls, no re-registration) until it is`,
      );
    }
  }

  /** Claims the agents that need a line, have no owner and hash here; hands idle ones to joiners. */
  private async sweep(): Promise<void> {
    let handovers = 0;
    this.sweeps += 1;
    const seenUnowned = new Set<string>();
    for (const domain of this.config.domains.domainNames()) {
      const ids = this.config.domains.agentIds(domain);
      const defaults = new Map(
        ids.map((ipphone) => [ipphone, defaultAgentState(this.config.domains.agent(domain, ipphone))]),
      );
      const [states, counts, owners] = await Promise.all([
        this.coordination.agents.getMany(domain, defaults),
        this.coordination.presence.counts(domain, ids),
        this.coordination.leases.owners(domain, ids),
      ]);
      for (const ipphone of ids) {
        const agent = { domain, ipphone };
        const k = key(agent);
        const state = states.get(ipphone);
        const wanted =
          state !== undefined &&
          (state.deviceType === 3 ||
            state.deviceType === 4 ||
            state.deviceType === 6 ||
            (state.deviceType === 2 && (counts.get(ipphone) ?? 0) > 0));
        const owner = owners.get(ipphone)?.owner;
        const preferred = preferredInstance(agent, this.members);
        const line = this.lines.get(k);
        if (wanted && owner === undefined) seenUnowned.add(k);
        // An agent without an owner is claimed on the second sweep that finds it so: its owner, if
        // alive, writes its lease back at the start of every tick (after a Redis restart, say).
        // The first sweep after this instance started claims at once (a cluster starting cold).
        const claimable =
          owner === undefined && preferred === this.instanceId && (this.sweeps === 1 || this.unowned.has(k));
        if (wanted && !line && (owner === this.instanceId || claimable)) {
          this.reconcileSoon(agent);
        } else if (!wanted && line) {
          this.reconcileSoon(agent);
        } else if (
          line &&
          !line.busy &&
          !this.queue.has(k) &&
          preferred !== undefined &&
          preferred !== this.instanceId &&
          (this.seenFor.get(preferred) ?? 0) >= 2 &&
          handovers < HANDOVERS_PER_TICK
        ) {
          handovers += 1;
          await this.handOver(k, `rebalancing to ${preferred}`);
        }
      }
    }
    this.unowned = seenUnowned;
  }

  private async wantsLine(agent: AgentRef, state: AgentState): Promise<boolean> {
    switch (state.deviceType) {
      case 1:
        return false;
      case 3:
      case 4:
      case 6:
        return true;
      case 2:
        return (await this.coordination.presence.count(agent)) > 0;
    }
  }

  /**
   * An inbound call rang out on the agent's device: the agent is marked not-answering (3C
   * `'No Answer'`) and gets no calls until it changes its call status.
   */
  private async markNoAnswer(agent: AgentRef): Promise<void> {
    try {
      await this.coordination.agents.setCallStatus(agent, 'noAnswer');
      await this.bus.publish(agent, 'agent.callStatus', { status: 'noAnswer' });
      this.logger.log(`${key(agent)}: a call rang out unanswered, call status -> noAnswer`);
    } catch (err) {
      this.logger.warn(`${key(agent)}: marking noAnswer failed: ${(err as Error).message}`);
    }
  }

  private state(agent: AgentRef): Promise<AgentState> {
    return this.coordination.agents.get(
      agent,
      defaultAgentState(this.config.domains.agent(agent.domain, agent.ipphone)),
    );
  }

  private createLine(agent: AgentRef): ServerLine {
    const k = key(agent);
    const domain = this.config.domains.domain(agent.domain);
    const line: ServerLine = new ServerLine({
      agent,
      config: this.config.domains.agent(agent.domain, agent.ipphone),
      pbx: domain.pbx,
      state: () => this.state(agent),
      logger: this.lineLogger,
      sip: this.sip,
      ledger: this.ledger,
      ringTimeoutMs: this.config.ringTimeoutMs,
      ...(this.config.audioCodecs ? { codecs: this.config.audioCodecs } : {}),
      mayServe: () => this.mayServe(k),
      onRegistrationFailed: () => this.metrics.registrationFailed(agent.domain),
      // a call ended, or a transferred customer's relay closed, and nothing else is on the line
      onIdle: () => {
        this.notifyCallEnded();
        this.reconcileSoon(agent);
      },
      publishSip: async (view) => {
        if (this.silenced.has(line)) return;
        await this.bus.publish(agent, 'agent.sip', view);
      },
      publish: async (type, data, call) => {
        if (this.silenced.has(line)) return;
        // Not awaited: the events of a call must keep their order (the store sees the records in
        // the same order, as each is sent before the next event comes).
        this.recordCall(agent, type, call).catch((err: unknown) => {
          this.logger.warn(
            `${k}: recording call ${call.callId} with the lease failed: ${(err as Error).message}`,
          );
        });
        await this.bus.publish(agent, type, data, call);
        // a distributed call, not a transfer: only these mark the agent not-answering
        if (type === 'call.ringing' && (data as { transferId?: string }).transferId === undefined)
          this.inbound.add(call.callId);
        if (type === 'call.ended') {
          const rangOut =
            this.inbound.delete(call.callId) && (data as { cause?: string }).cause === 'NO_ANSWER';
          if (rangOut) await this.markNoAnswer(agent);
          this.notifyCallEnded();
          this.reconcileSoon(agent);
        }
      },
    });
    return line;
  }
}
