// Ownership of agents' server-side lines across gateway instances: each agent's line runs on the
// one instance that holds the agent's lease. Leases are claimed, renewed every third of their
// life, fenced when a renewal is late, dropped without a word when another instance took them;
// the owner's call in progress is recorded with its lease so that the next owner announces its
// end (INSTANCE_LOST). Idle agents go to the instance they hash to (rebalancing) and, when this
// instance drains, to the others. The store and the cluster come through `OwnershipStore`.
import type { AgentRef, CallEventsPort, CallsLogger } from './ports.js';
import type { Lease, LeaseRenewal, StaleLeaseError } from '@callgate/coordination';

const key = (agent: AgentRef): string => `${agent.domain}/${agent.ipphone}`;

/** At most this many idle agents are handed to a newly joined instance per tick. */
export const HANDOVERS_PER_TICK = 4;

/** The agents' ownership leases and the live instances (libs/coordination's leases and cluster). */
export interface OwnershipStore {
  /** this gateway instance */
  readonly instanceId: string;
  /** life of a lease not renewed (ms); renewed every third of it */
  readonly leaseMs: number;
  claim(agent: AgentRef): Promise<{ granted: boolean; lease: Lease; lostCall: string | null }>;
  renew(held: readonly { agent: AgentRef; epoch: number }[]): Promise<LeaseRenewal[]>;
  release(agent: AgentRef, epoch: number): Promise<boolean>;
  owners(domain: string, ipphones: readonly string[]): Promise<Map<string, Lease>>;
  recordCall(agent: AgentRef, epoch: number, record: string | null): Promise<boolean>;
  /** marks this instance alive; the live instances, sorted */
  heartbeat(): Promise<string[]>;
  /** leaves the live instances now */
  leave(): Promise<void>;
  /** the instance an agent hashes to among `instances` (rendezvous hashing) */
  preferred(agent: AgentRef, instances: readonly string[]): string | undefined;
  /** the error an event publication rejects with when a later grant of the lease exists */
  isStaleLease(err: unknown): err is StaleLeaseError;
}

/** What ownership needs of a line: whether a call is on it, closing it, re-registering it. */
export interface OwnedLine {
  readonly busy: boolean;
  readonly ua: { refreshRegistration(): void };
  close(reason: string): Promise<void>;
}

/**
 * The lease of an agent this instance holds, as its line sees it (the agent leaves `Ownership`
 * when gone):
 *
 *              a renewal came back
 *      ┌───────────────────────────────┐
 *      ▼                               │
 *   serving ──not renewed in time──► fenced
 *      │                               │
 *      └──── lost / released ──────────┴──► gone
 *
 * Serving: the line takes calls while the lease surely lasts (`mayServe`). Fenced: no new calls,
 * no re-registration, calls in progress keep their media.
 */
export type LeaseState = 'serving' | 'fenced' | 'gone';
export type LeaseEvent = 'late' | 'renewed' | 'lost' | 'released';

/** The one transition function of `LeaseState`. */
export function nextLeaseState(state: LeaseState, event: LeaseEvent): LeaseState {
  if (state === 'gone') return 'gone';
  switch (event) {
    case 'late':
      return 'fenced';
    case 'renewed':
      return 'serving';
    case 'lost':
    case 'released':
      return 'gone';
  }
}

/** The owner's call in progress, recorded with its lease for an instance that adopts the agent. */
interface CallRecord {
  callId: string;
  startedAt: number;
  transactionId?: string;
}

/** One agent this instance holds: its lease grant, how long it is surely ours, its line and call. */
interface Owned<L> {
  agent: AgentRef;
  epoch: number;
  /** `performance.now()` time the lease surely lasts to: last renewal sent + leaseMs */
  validUntil: number;
  /** fenced: it ran out before a renewal came back; the line takes no new calls until one does */
  state: LeaseState;
  /** unset while the claim is being completed */
  line: L | undefined;
  /** the call recorded with the lease */
  record: CallRecord | undefined;
}

export interface OwnershipDeps {
  store: OwnershipStore;
  /** where the end of a call lost with its instance is announced */
  events: CallEventsPort;
  logger: CallsLogger;
  /** a lease was lost to another instance (metrics) */
  onLeaseLost?: () => void;
  /** asks `target` to take the agent now (it reconciles the agent) */
  handTo(target: string, agent: AgentRef): Promise<void>;
  /** the domains and their agents' ids, as configured */
  domains(): readonly string[];
  agentIds(domain: string): readonly string[];
  /** the agents of `domain` among `ids` that need a server-side line now */
  needingLines(domain: string, ids: readonly string[]): Promise<ReadonlySet<string>>;
  /** re-applies the registration rules for the agent (in the background) */
  reconcileSoon(agent: AgentRef): void;
  /** true while a reconcile of the agent is in progress here */
  reconciling(agent: AgentRef): boolean;
}

/**
 * The agents this instance owns, one state each (`Owned`), and the ticks that keep them: renewals,
 * fencing, heartbeat, claims of unowned agents, rebalancing; hand-over on drain.
 */
export class Ownership<L extends OwnedLine> {
  private readonly owned = new Map<string, Owned<L>>();
  /** lines whose lease was lost: their events are no longer ours to publish */
  private readonly silenced = new WeakSet<L>();
  /** lines one of whose events the store refused (a later lease grant exists): logged once */
  private readonly refusedLines = new WeakSet<L>();
  /** live instances at the last heartbeat, and how many heartbeats each has been seen in a row */
  private members: string[] = [];
  private readonly seenFor = new Map<string, number>();
  /** agents needing a line that the last sweep found without an owner */
  private unowned = new Set<string>();
  private sweeps = 0;
  /** resolved (and cleared) whenever a call of a line of ours ends */
  private callEndWaiters: (() => void)[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private ticking: Promise<void> | undefined;
  private storeDown = false;
  private stopping = false;
  private drainingFlag = false;

  constructor(private readonly deps: OwnershipDeps) {}

  get instanceId(): string {
    return this.deps.store.instanceId;
  }

  /** True from the start of a graceful shutdown: no new agents, idle ones handed over. */
  get draining(): boolean {
    return this.drainingFlag;
  }

  /** False once stopping or draining: no agent is claimed any more. */
  get accepting(): boolean {
    return !this.stopping && !this.drainingFlag;
  }

  /** The gateway instances alive at the last heartbeat (this one included unless draining). */
  get liveInstances(): readonly string[] {
    return this.members;
  }

  /** The agent's line here, if this instance owns it. */
  line(agent: AgentRef): L | undefined {
    return this.owned.get(key(agent))?.line;
  }

  /** The lines this instance runs. */
  lines(): L[] {
    return [...this.owned.values()].flatMap((o) => (o.line ? [o.line] : []));
  }

  /** Leases this instance holds. */
  get leaseCount(): number {
    return this.owned.size;
  }

  /** True when this instance holds the agent's lease (its line may still be opening). */
  holds(agent: AgentRef): boolean {
    return this.owned.has(key(agent));
  }

  /** True while the agent's lease is surely ours: its line may take new calls. */
  mayServe(agent: AgentRef): boolean {
    const owned = this.owned.get(key(agent));
    return owned !== undefined && performance.now() < owned.validUntil;
  }

  /** True once the line's lease was lost: its events are not published. */
  isSilenced(line: L): boolean {
    return this.silenced.has(line);
  }

  // ---- lifecycle ----

  /** The first tick, then one every third of the lease. */
  async start(): Promise<void> {
    await this.tick();
    this.schedule();
  }

  /** Stops ticking (after the tick in progress). */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    await this.ticking;
  }

  /** Closes every line and gives their leases up (a claim still opening its line is left to expire). */
  async dropAll(reason: string): Promise<void> {
    await Promise.allSettled(this.lineKeys().map((k) => this.drop(k, reason)));
  }

  /** The keys of the agents whose line runs here. */
  private lineKeys(): string[] {
    return [...this.owned].filter(([, o]) => o.line !== undefined).map(([k]) => k);
  }

  /** Leaves the live set now rather than when the heartbeat lapses, so others stop routing here. */
  async leaveCluster(): Promise<void> {
    await this.deps.store.leave().catch((err: unknown) => {
      this.deps.logger.warn(`leaving the live instances failed: ${(err as Error).message}`);
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
    const { logger } = this.deps;
    logger.log(`draining ${this.lines().length} line(s), deadline ${deadlineMs} ms`);
    await this.leaveCluster();
    this.members = this.members.filter((id) => id !== this.instanceId);
    const deadline = performance.now() + deadlineMs;
    for (;;) {
      const idle = this.lineKeys().filter((k) => !this.owned.get(k)?.line?.busy);
      await Promise.allSettled(idle.map((k) => this.handOver(k, 'draining')));
      if (this.lineKeys().length === 0) break;
      const remaining = deadline - performance.now();
      if (remaining <= 0) {
        logger.warn(`drain deadline reached: ending ${this.lineKeys().length} call(s)`);
        await Promise.allSettled(this.lineKeys().map((k) => this.handOver(k, 'drain deadline')));
        break;
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.callEndWaiters.push(resolve)),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, remaining);
        }),
      ]);
      clearTimeout(timer);
    }
    logger.log('drained');
  }

  /** A call of a line of ours ended (or its relay closed): a drain waiting for it goes on. */
  callEnded(): void {
    const waiters = this.callEndWaiters;
    this.callEndWaiters = [];
    for (const resolve of waiters) resolve();
  }

  // ---- one agent ----

  /**
   * Claims the agent's lease and, when granted, announces a call lost with the previous owner and
   * opens the line with `open(epoch)`. Resolves with the line and its grant, or null when another
   * instance owns the agent.
   */
  async claim(agent: AgentRef, open: (epoch: number) => L): Promise<{ line: L; epoch: number } | null> {
    const k = key(agent);
    const claim = await this.deps.store.claim(agent);
    if (!claim.granted) {
      this.deps.logger.debug(`${k}: owned by ${claim.lease.owner}`);
      return null;
    }
    const epoch = claim.lease.epoch;
    const owned: Owned<L> = {
      agent,
      epoch,
      validUntil: performance.now() + this.deps.store.leaseMs,
      state: 'serving',
      line: undefined,
      record: undefined,
    };
    this.owned.set(k, owned);
    if (claim.lostCall) await this.announceLostCall(agent, claim.lostCall, epoch);
    const line = open(epoch);
    owned.line = line;
    return { line, epoch };
  }

  /** Closes the agent's line (ending its call, if any) and gives its lease up. */
  release(agent: AgentRef, reason: string): Promise<void> {
    return this.drop(key(agent), reason);
  }

  private async drop(k: string, reason: string): Promise<void> {
    const owned = this.owned.get(k);
    this.owned.delete(k);
    if (!owned) return;
    owned.state = nextLeaseState(owned.state, 'released');
    await owned.line?.close(reason);
    await this.deps.store.release(owned.agent, owned.epoch).catch((err: unknown) => {
      this.deps.logger.warn(`${k}: releasing the lease failed (it will expire): ${(err as Error).message}`);
    });
  }

  /** Gives an agent to the instance it hashes to among the others, which takes it at once. */
  private async handOver(k: string, reason: string): Promise<void> {
    const owned = this.owned.get(k);
    await this.drop(k, reason);
    if (!owned) return;
    const others = this.members.filter((id) => id !== this.instanceId);
    const target = this.deps.store.preferred(owned.agent, others);
    if (target === undefined) return;
    this.deps.logger.log(`${k}: handed over to ${target} (${reason})`);
    await this.deps.handTo(target, owned.agent).catch((err: unknown) => {
      this.deps.logger.warn(
        `${k}: ${target} did not take it now (${(err as Error).message}); it will at its next tick`,
      );
    });
  }

  /** The lease was taken by another instance: stop at once, without announcing anything. */
  private async lost(k: string, why = 'lease taken by another instance'): Promise<void> {
    const owned = this.owned.get(k);
    this.owned.delete(k);
    if (owned) owned.state = nextLeaseState(owned.state, 'lost');
    const line = owned?.line;
    if (!line) return;
    this.silenced.add(line);
    this.deps.onLeaseLost?.();
    this.deps.logger.warn(`${k}: ${why}; dropping the line`);
    await line.close('lease lost');
  }

  /**
   * Publishes an event of `line` under its lease grant with `send`. When the store refuses it (a
   * later grant of the agent's lease exists: the new owner speaks for the agent now, and may have
   * ended this call already), the line is closed without a word, as when a renewal finds the lease
   * lost; logged once per line. Resolves false when refused.
   */
  async publishUnderLease(
    agent: AgentRef,
    line: L,
    type: string,
    callId: string | undefined,
    send: () => Promise<unknown>,
  ): Promise<boolean> {
    try {
      await send();
      return true;
    } catch (err) {
      if (!this.deps.store.isStaleLease(err)) throw err;
      await this.refused(key(agent), line, type, callId, err);
      return false;
    }
  }

  private async refused(
    k: string,
    line: L,
    type: string,
    callId: string | undefined,
    err: StaleLeaseError,
  ): Promise<void> {
    if (this.refusedLines.has(line)) return;
    this.refusedLines.add(line);
    const why = `lease taken by another instance (${type}${callId ? ` of call ${callId}` : ''} refused: lease epoch ${err.epoch} is stale, the lease is at epoch ${err.current})`;
    if (this.owned.get(k)?.line === line) return this.lost(k, why);
    this.deps.logger.warn(`${k}: ${why}; the line is closed`);
    if (this.silenced.has(line)) return;
    this.silenced.add(line);
    await line.close('lease lost');
  }

  private async announceLostCall(agent: AgentRef, raw: string, epoch: number): Promise<void> {
    const { logger } = this.deps;
    let record: CallRecord;
    try {
      record = JSON.parse(raw) as CallRecord;
    } catch {
      logger.warn(`${key(agent)}: unreadable call record left by the previous owner: ${raw}`);
      return;
    }
    logger.warn(`${key(agent)}: call ${record.callId} was lost with its instance`);
    const announced = this.deps.events.publish(
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
        leaseEpoch: epoch,
      },
    );
    await announced.catch((err: unknown) => {
      if (!this.deps.store.isStaleLease(err)) throw err;
      logger.warn(`${key(agent)}: end of lost call ${record.callId} not announced: ${err.message}`);
    });
  }

  /** Records the line's call with its lease when it starts (its `call.ended` append clears the record). */
  async recordCall(
    agent: AgentRef,
    type: string,
    call: { callId: string; transactionId?: string },
  ): Promise<void> {
    const owned = this.owned.get(key(agent));
    if (!owned) return;
    if (type === 'call.ended') {
      // The record is cleared by the `call.ended` append itself (same atomic step, see EventBus).
      if (owned.record?.callId === call.callId) owned.record = undefined;
      return;
    }
    if (owned.record?.callId === call.callId) return;
    const record: CallRecord = { startedAt: Date.now(), ...call };
    owned.record = record;
    await this.deps.store.recordCall(agent, owned.epoch, JSON.stringify(record));
  }

  /** After a lease was written back (the store lost it, e.g. a Redis restart): its call record too. */
  private rerecord(k: string, owned: Owned<L>): void {
    const record = owned.record;
    if (!record) return;
    this.deps.store.recordCall(owned.agent, owned.epoch, JSON.stringify(record)).catch((err: unknown) => {
      this.deps.logger.warn(`${k}: recording call ${record.callId} again failed: ${(err as Error).message}`);
    });
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
      Math.max(1, Math.floor(this.deps.store.leaseMs / 3)),
    );
    (this.timer as { unref?: () => void }).unref?.();
  }

  /** Renews the leases, fences the late ones, marks this instance alive and sweeps. */
  async tick(): Promise<void> {
    const { logger, store } = this.deps;
    try {
      await this.renew();
      this.fence();
      if (!this.drainingFlag) {
        this.members = await store.heartbeat();
        for (const id of [...this.seenFor.keys()]) if (!this.members.includes(id)) this.seenFor.delete(id);
        for (const id of this.members) this.seenFor.set(id, (this.seenFor.get(id) ?? 0) + 1);
        await this.sweep();
      }
      if (this.storeDown) logger.log('coordination store reachable again');
      this.storeDown = false;
    } catch (err) {
      this.fence();
      if (!this.storeDown) logger.warn(`ownership tick failed: ${(err as Error).message}`);
      this.storeDown = true;
    }
  }

  private async renew(): Promise<void> {
    const held = [...this.owned.entries()];
    if (held.length === 0) return;
    const sentAt = performance.now();
    const results = await this.deps.store.renew(held.map(([, o]) => ({ agent: o.agent, epoch: o.epoch })));
    for (const [i, result] of results.entries()) {
      const [k, owned] = held[i] ?? [];
      if (k === undefined || owned === undefined || this.owned.get(k) !== owned) continue;
      switch (result) {
        case 'renewed':
        case 'reasserted':
          owned.validUntil = sentAt + this.deps.store.leaseMs;
          if (result === 'reasserted') {
            this.deps.logger.warn(`${k}: lease was gone from the store; written back`);
            this.rerecord(k, owned);
          }
          if (owned.state === 'fenced') {
            owned.state = nextLeaseState(owned.state, 'renewed');
            this.deps.logger.log(`${k}: lease renewed; serving again`);
            owned.line?.ua.refreshRegistration();
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
    for (const [k, owned] of this.owned) {
      if (owned.state === 'fenced' || now < owned.validUntil) continue;
      owned.state = nextLeaseState(owned.state, 'late');
      this.deps.logger.warn(
        `${k}: lease not renewed in time; fenced (no new calls, no re-registration) until it is`,
      );
    }
  }

  /** Claims the agents that need a line, have no owner and hash here; hands idle ones to joiners. */
  private async sweep(): Promise<void> {
    const { deps } = this;
    let handovers = 0;
    this.sweeps += 1;
    const seenUnowned = new Set<string>();
    for (const domain of deps.domains()) {
      const ids = deps.agentIds(domain);
      const [needing, owners] = await Promise.all([
        deps.needingLines(domain, ids),
        deps.store.owners(domain, ids),
      ]);
      for (const ipphone of ids) {
        const agent = { domain, ipphone };
        const k = key(agent);
        const wanted = needing.has(ipphone);
        const owner = owners.get(ipphone)?.owner;
        const preferred = deps.store.preferred(agent, this.members);
        const line = this.owned.get(k)?.line;
        if (wanted && owner === undefined) seenUnowned.add(k);
        // An agent without an owner is claimed on the second sweep that finds it so: its owner, if
        // alive, writes its lease back at the start of every tick (after a Redis restart, say).
        // The first sweep after this instance started claims at once (a cluster starting cold).
        const claimable =
          owner === undefined && preferred === this.instanceId && (this.sweeps === 1 || this.unowned.has(k));
        if (wanted && !line && (owner === this.instanceId || claimable)) {
          deps.reconcileSoon(agent);
        } else if (!wanted && line) {
          deps.reconcileSoon(agent);
        } else if (
          line &&
          !line.busy &&
          !deps.reconciling(agent) &&
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
}
