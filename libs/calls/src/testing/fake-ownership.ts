// An in-memory fake of the ownership store (libs/coordination's leases and live instances), with
// the knobs an ownership test turns: another instance takes a lease, renewals fail or hang,
// instances join, and where an agent hashes to.
import type { AgentRef, OwnedLine, OwnershipStore } from '../index.js';
import type { Lease, LeaseRenewal, StaleLeaseError } from '@callgate/coordination';

const agentKey = (agent: AgentRef): string => `${agent.domain}/${agent.ipphone}`;

/** The store's refusal of an event under a stale grant (libs/coordination's `StaleLeaseError`). */
export class FakeStaleLease extends Error {
  override readonly name = 'StaleLeaseError';
  constructor(
    readonly epoch: number,
    readonly current: number,
  ) {
    super(`lease epoch ${epoch} is stale (the agent's lease is at epoch ${current})`);
  }
}

/** Leases and live instances shared by the instances' views (`view(instanceId)`). */
export class FakeLeaseBackend {
  readonly leases = new Map<string, Lease>();
  /** the call each agent's owner recorded with its lease */
  readonly records = new Map<string, string>();
  /** every `recordCall` that wrote a record, in order */
  readonly recordWrites: string[] = [];
  /** the instances `heartbeat` reports alive */
  live: string[] = [];
  /** where an agent hashes to among the instances given (default: the first of them) */
  readonly preferredOf = new Map<string, string>();
  /** set: renewals reject with it (the store is unreachable) */
  renewFails: Error | undefined;
  /** set: renewals come back this many ms after they were sent (on the test's timers) */
  renewDelayMs: number | undefined;
  private epochs = 0;

  constructor(readonly leaseMs = 3_000) {}

  view(instanceId: string): FakeOwnershipStore {
    return new FakeOwnershipStore(this, instanceId);
  }

  /** Another instance takes the agent's lease (as after this one's lapsed). */
  take(agent: AgentRef, owner: string): Lease {
    const lease = { owner, epoch: ++this.epochs };
    this.leases.set(agentKey(agent), lease);
    return lease;
  }

  /** The lease vanishes from the store (its owner is gone or the store lost it); the record stays. */
  expire(agent: AgentRef): void {
    this.leases.delete(agentKey(agent));
  }

  nextEpoch(): number {
    return ++this.epochs;
  }
}

export class FakeOwnershipStore implements OwnershipStore {
  readonly released: string[] = [];
  heartbeats = 0;
  left = false;

  constructor(
    private readonly backend: FakeLeaseBackend,
    readonly instanceId: string,
  ) {}

  get leaseMs(): number {
    return this.backend.leaseMs;
  }

  claim(agent: AgentRef): Promise<{ granted: boolean; lease: Lease; lostCall: string | null }> {
    const k = agentKey(agent);
    const current = this.backend.leases.get(k);
    if (current && current.owner !== this.instanceId) {
      return Promise.resolve({ granted: false, lease: current, lostCall: null });
    }
    const lease = { owner: this.instanceId, epoch: this.backend.nextEpoch() };
    this.backend.leases.set(k, lease);
    const lostCall = this.backend.records.get(k) ?? null;
    this.backend.records.delete(k);
    return Promise.resolve({ granted: true, lease, lostCall });
  }

  renew(held: readonly { agent: AgentRef; epoch: number }[]): Promise<LeaseRenewal[]> {
    if (this.backend.renewFails) return Promise.reject(this.backend.renewFails);
    const delay = this.backend.renewDelayMs;
    const results = (): LeaseRenewal[] =>
      held.map(({ agent, epoch }): LeaseRenewal => {
        const current = this.backend.leases.get(agentKey(agent));
        if (current === undefined) {
          this.backend.leases.set(agentKey(agent), { owner: this.instanceId, epoch });
          return 'reasserted';
        }
        return current.owner === this.instanceId && current.epoch === epoch ? 'renewed' : 'lost';
      });
    if (delay === undefined) return Promise.resolve(results());
    return new Promise((resolve) => setTimeout(() => resolve(results()), delay));
  }

  release(agent: AgentRef, epoch: number): Promise<boolean> {
    const k = agentKey(agent);
    const current = this.backend.leases.get(k);
    if (current?.owner !== this.instanceId || current.epoch !== epoch) return Promise.resolve(false);
    this.backend.leases.delete(k);
    this.backend.records.delete(k);
    this.released.push(k);
    return Promise.resolve(true);
  }

  owners(domain: string, ipphones: readonly string[]): Promise<Map<string, Lease>> {
    const found = new Map<string, Lease>();
    for (const ipphone of ipphones) {
      const lease = this.backend.leases.get(agentKey({ domain, ipphone }));
      if (lease) found.set(ipphone, lease);
    }
    return Promise.resolve(found);
  }

  recordCall(agent: AgentRef, epoch: number, record: string | null): Promise<boolean> {
    const k = agentKey(agent);
    if (this.backend.leases.get(k)?.epoch !== epoch) return Promise.resolve(false);
    if (record === null) this.backend.records.delete(k);
    else {
      this.backend.records.set(k, record);
      this.backend.recordWrites.push(record);
    }
    return Promise.resolve(true);
  }

  heartbeat(): Promise<string[]> {
    this.heartbeats += 1;
    if (!this.backend.live.includes(this.instanceId)) this.backend.live.push(this.instanceId);
    return Promise.resolve([...this.backend.live].sort());
  }

  leave(): Promise<void> {
    this.left = true;
    this.backend.live = this.backend.live.filter((id) => id !== this.instanceId);
    return Promise.resolve();
  }

  preferred(agent: AgentRef, instances: readonly string[]): string | undefined {
    const wanted = this.backend.preferredOf.get(agentKey(agent));
    return wanted !== undefined && instances.includes(wanted) ? wanted : instances[0];
  }

  isStaleLease(err: unknown): err is StaleLeaseError {
    return err instanceof FakeStaleLease;
  }
}

/** A line as ownership sees it: busy or not, closed once with a reason, re-registered on demand. */
export class FakeOwnedLine implements OwnedLine {
  busy = false;
  closedWith: string | undefined;
  refreshes = 0;
  readonly ua = {
    refreshRegistration: (): void => {
      this.refreshes += 1;
    },
  };

  constructor(
    readonly agent: AgentRef,
    readonly epoch: number,
  ) {}

  close(reason: string): Promise<void> {
    this.closedWith ??= reason;
    return Promise.resolve();
  }
}
