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
import { BusCallEvents } from './adapters/call-events.js';
import { CoordinationOwnershipStore } from './adapters/ownership-store.js';
import {
  type AgentLocationPort,
  type AgentPlace,
  KeyedQueue,
  Ownership,
  runLineCommand,
  ServerLine,
  type SipPort,
  type TransferLedger,
} from '@callgate/calls';

const key = (agent: AgentRef): string => `${agent.domain}/${agent.ipphone}`;

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
 * can expire; one that learns another took its lease drops the line without a word. That
 * ownership lives in libs/calls (`Ownership`); this service composes it with the lines, the peers
 * and Nest's lifecycle.
 */
@Injectable()
export class CallEngine implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(CallEngine.name);
  /** the lines' and their calls' logger: one info line per call state change */
  private readonly lineLogger = new Logger(ServerLine.name);
  /** the agents this instance owns: leases, lines, recorded calls; the live instances */
  private readonly ownership: Ownership<ServerLine>;
  /** per agent, the reconciles in progress: reconciles of one agent never overlap */
  private readonly queue = new KeyedQueue();

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
    this.ownership = new Ownership<ServerLine>({
      store: new CoordinationOwnershipStore(coordination),
      events: new BusCallEvents(bus),
      logger: this.logger,
      onLeaseLost: () => metrics.leaseLost(),
      handTo: async (target, agent) => {
        await this.peers.ask(target, 'calls.reconcile', agent);
      },
      domains: () => this.config.domains.domainNames(),
      agentIds: (domain) => this.config.domains.agentIds(domain),
      needingLines: (domain, ids) => this.needingLines(domain, ids),
      reconcileSoon: (agent) => this.reconcileSoon(agent),
      reconciling: (agent) => this.queue.has(key(agent)),
    });
    this.location = new CoordinationAgentLocation(coordination, {
      hasLine: (agent) => this.ownership.line(agent) !== undefined,
      liveInstances: () => this.ownership.liveInstances,
    });
    metrics.gauge('linesRegistered', () => this.ownership.lines().filter((line) => line.registered).length);
    metrics.gauge('leasesHeld', () => this.ownership.leaseCount);
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
    return this.ownership.draining;
  }

  /** The gateway instances alive at the last heartbeat (this one included unless draining). */
  get liveInstances(): readonly string[] {
    return this.ownership.liveInstances;
  }

  /** The instance that registers the agent's line, or null when none does. */
  ownerOf(agent: AgentRef): Promise<string | null> {
    return this.location.lineOwner(agent);
  }

  /** Lines this instance registers now. */
  get lineCount(): number {
    return this.ownership.lines().length;
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.ownership.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.ownership.stop();
    await this.queue.idle();
    await this.ownership.dropAll('gateway shutdown');
    await this.ownership.leaveCluster();
  }

  /**
   * Graceful shutdown, first part: stop taking agents, hand idle ones to other instances at once,
   * let calls in progress finish until `deadlineMs`, then end the rest (cause SHUTDOWN) and hand
   * those agents over too.
   */
  drain(deadlineMs: number): Promise<void> {
    return this.ownership.drain(deadlineMs);
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
    if (this.ownership.holds(agent)) return this.reconcileHere(agent);
    const lease = await this.owner(agent);
    const target = lease?.owner ?? preferredInstance(agent, this.ownership.liveInstances);
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
    return this.ownership.line(agent);
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
    return runLineCommand({ agent, line, mayServe: this.ownership.mayServe(agent) }, name, payload);
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
    return this.queue.run(key(agent), () => this.apply(agent));
  }

  private async apply(agent: AgentRef): Promise<void> {
    const k = key(agent);
    const state = await this.state(agent);
    const wanted = this.ownership.accepting && (await this.wantsLine(agent, state));
    const line = this.line(agent);
    if (wanted && !line) {
      const claimed = await this.ownership.claim(agent, (epoch) => this.createLine(agent, epoch));
      if (!claimed) return;
      this.logger.log(`${k}: registering for device type ${state.deviceType} (lease epoch ${claimed.epoch})`);
      claimed.line.start().catch((err: unknown) => {
        // The user agent keeps trying; calls reach the agent once it registers.
        this.logger.warn(`${k}: first registration failed: ${(err as Error).message}`);
      });
    } else if (!wanted && line) {
      if (line.busy) {
        this.logger.log(`${k}: line no longer needed; it closes after the current call (or transfer relay)`);
        return;
      }
      this.logger.log(`${k}: unregistering (device type ${state.deviceType})`);
      await this.ownership.release(agent, 'device changed');
    }
  }

  /** The agents of `domain` among `ids` that need a server-side line now (the sweep's question). */
  private async needingLines(domain: string, ids: readonly string[]): Promise<Set<string>> {
    const defaults = new Map(
      ids.map((ipphone) => [ipphone, defaultAgentState(this.config.domains.agent(domain, ipphone))]),
    );
    const [states, counts] = await Promise.all([
      this.coordination.agents.getMany(domain, defaults),
      this.coordination.presence.counts(domain, ids),
    ]);
    return new Set(
      ids.filter((ipphone) => {
        const state = states.get(ipphone);
        return (
          state !== undefined &&
          (state.deviceType === 3 ||
            state.deviceType === 4 ||
            state.deviceType === 6 ||
            (state.deviceType === 2 && (counts.get(ipphone) ?? 0) > 0))
        );
      }),
    );
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

  /** The line of `agent` under the lease grant `epoch`: its events are stored only while that grant is the latest. */
  private createLine(agent: AgentRef, epoch: number): ServerLine {
    const k = key(agent);
    const domain = this.config.domains.domain(agent.domain);
    const ownership = this.ownership;
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
      mayServe: () => ownership.mayServe(agent),
      onRegistrationFailed: () => this.metrics.registrationFailed(agent.domain),
      // a call ended, or a transferred customer's relay closed, and nothing else is on the line
      onIdle: () => {
        ownership.callEnded();
        this.reconcileSoon(agent);
      },
      publishSip: async (view) => {
        if (ownership.isSilenced(line)) return;
        await ownership.publishUnderLease(agent, line, 'agent.sip', undefined, () =>
          this.bus.publish(agent, 'agent.sip', view, { leaseEpoch: epoch }),
        );
      },
      publish: async (type, data, call) => {
        if (ownership.isSilenced(line)) return;
        // Not awaited: the events of a call must keep their order (the store sees the records in
        // the same order, as each is sent before the next event comes).
        ownership.recordCall(agent, type, call).catch((err: unknown) => {
          this.logger.warn(
            `${k}: recording call ${call.callId} with the lease failed: ${(err as Error).message}`,
          );
        });
        const published = await ownership.publishUnderLease(agent, line, type, call.callId, () =>
          this.bus.publish(agent, type, data, { ...call, leaseEpoch: epoch }),
        );
        if (!published) return;
        // a distributed call, not a transfer: only these mark the agent not-answering
        if (type === 'call.ringing' && (data as { transferId?: string }).transferId === undefined)
          this.inbound.add(call.callId);
        if (type === 'call.ended') {
          const rangOut =
            this.inbound.delete(call.callId) && (data as { cause?: string }).cause === 'NO_ANSWER';
          if (rangOut) await this.markNoAnswer(agent);
          ownership.callEnded();
          this.reconcileSoon(agent);
        }
      },
    });
    return line;
  }
}
