// In-memory coordination: the Redis store's semantics in one process. Entries carry an expiry
// checked lazily on access (as Redis expires keys), fences only grow, and each instance renews
// what it holds every third of its lease until `close()`. Instances given the same
// `MemoryBackend` see one another's locks, presence and state, as instances sharing a Redis do.
import { type CallStatus, type DeviceType } from '@callgate/contracts';
import {
  StaleLeaseError,
  assertTtl,
  flip,
  mergeAgentState,
  resolveOptions,
  unavailable,
  type ResolvedOptions,
  type StoredAgentFields,
} from './common.js';
import { coordinationKeys, type CoordinationKeys } from './keys.js';
import { compareEventIds, parseEventId } from '@callgate/contracts';
import { overlapStart } from './event-window.js';
import { AgentFile } from './agent-file.js';
import { RpcPeer } from './rpc.js';
import { memoryTransferStore, TransferTable, type TransferStore } from './transfer-store.js';
import type {
  AgentLeases,
  AgentRef,
  AgentState,
  AgentStateStore,
  Cluster,
  Coordination,
  CoordinationOptions,
  EventLog,
  Lease,
  LeaseCondition,
  LeaseRenewal,
  LoggedEvent,
  LoginRegistry,
  Presence,
  VoiceHolder,
  VoiceLock,
} from './types.js';

interface Expiring<T> {
  value: T;
  /** `performance.now()` time at which the entry is gone */
  expiresAt: number;
}

/**
 * The shared state of in-memory coordination, keyed like Redis (see keys.ts). Every method is
 * one atomic step, the counterpart of one Redis command or script; the memory store calls them,
 * other code has no reason to.
 */
export class MemoryBackend {
  private readonly locks = new Map<string, Expiring<VoiceHolder>>();
  private readonly counters = new Map<string, number>();
  private readonly logs = new Map<
    string,
    { entries: LoggedEvent[]; ms: number; seq: number; maxDeleted: string }
  >();
  /** Every log starts above this id: the time the backend was made (see `logAppend`). */
  private readonly logFloor = (() => {
    const ms = Date.now();
    return { ms, seq: 0, maxDeleted: `${ms}-0` };
  })();
  private readonly presence = new Map<string, Map<string, number>>();
  private readonly agents = new Map<string, StoredAgentFields>();
  private readonly revocations = new Map<string, { atMs: number; expiresAt: number }>();
  private readonly leases = new Map<string, Expiring<Lease>>();
  private readonly calls = new Map<string, string>();
  private readonly instances = new Map<string, number>();
  /** pending transfers and their targets' reservations */
  readonly transfers = new TransferTable();
  /** the request handlers of the instances using this backend, by instance id */
  readonly peers = new Map<string, RpcPeer>();

  private now(): number {
    return performance.now();
  }

  holder(lockKey: string): VoiceHolder | null {
    const entry = this.locks.get(lockKey);
    if (entry === undefined) return null;
    if (entry.expiresAt <= this.now()) {
      this.locks.delete(lockKey);
      return null;
    }
    return { ...entry.value };
  }

  acquireIfFree(
    lockKey: string,
    fenceKey: string,
    tabId: string,
    instanceId: string,
    leaseMs: number,
  ): { granted: boolean; holder: VoiceHolder } {
    const current = this.holder(lockKey);
    if (current !== null) return { granted: false, holder: current };
    return { granted: true, holder: this.grant(lockKey, fenceKey, tabId, instanceId, leaseMs) };
  }

  steal(
    lockKey: string,
    fenceKey: string,
    tabId: string,
    instanceId: string,
    leaseMs: number,
  ): { holder: VoiceHolder; previous: VoiceHolder | null } {
    const previous = this.holder(lockKey);
    return { holder: this.grant(lockKey, fenceKey, tabId, instanceId, leaseMs), previous };
  }

  release(lockKey: string, tabId: string): boolean {
    if (this.holder(lockKey)?.tabId !== tabId) return false;
    this.locks.delete(lockKey);
    return true;
  }

  /** Extend the lock when `expected` (same grant) still holds it, or write it back when nobody does. */
  renewLock(lockKey: string, expected: VoiceHolder, leaseMs: number): boolean {
    const current = this.holder(lockKey);
    if (current !== null && !sameGrant(current, expected)) return false;
    this.locks.set(lockKey, { value: current ?? { ...expected }, expiresAt: this.now() + leaseMs });
    return true;
  }

  lease(key: string): Lease | null {
    const entry = this.leases.get(key);
    if (entry === undefined) return null;
    if (entry.expiresAt > this.now()) return { ...entry.value };
    this.leases.delete(key);
    return null;
  }

  claimLease(
    key: string,
    epochKey: string,
    callKey: string,
    instanceId: string,
    leaseMs: number,
  ): { granted: boolean; lease: Lease; lostCall: string | null } {
    const current = this.lease(key);
    if (current !== null && current.owner !== instanceId)
      return { granted: false, lease: current, lostCall: null };
    const lease = current ?? { owner: instanceId, epoch: this.incr(epochKey) };
    this.leases.set(key, { value: lease, expiresAt: this.now() + leaseMs });
    const lostCall = current === null ? (this.calls.get(callKey) ?? null) : null;
    if (current === null) this.calls.delete(callKey);
    return { granted: true, lease: { ...lease }, lostCall };
  }

  renewLease(key: string, instanceId: string, epoch: number, leaseMs: number): LeaseRenewal {
    const current = this.lease(key);
    if (current !== null && (current.owner !== instanceId || current.epoch !== epoch)) return 'lost';
    this.leases.set(key, { value: { owner: instanceId, epoch }, expiresAt: this.now() + leaseMs });
    return current === null ? 'reasserted' : 'renewed';
  }

  releaseLease(key: string, callKey: string, instanceId: string, epoch: number): boolean {
    const current = this.lease(key);
    if (current?.owner !== instanceId || current.epoch !== epoch) return false;
    this.leases.delete(key);
    this.calls.delete(callKey);
    return true;
  }

  recordCall(
    key: string,
    epochKey: string,
    callKey: string,
    instanceId: string,
    epoch: number,
    record: string | null,
  ): boolean {
    if (this.staleLease(key, epochKey, instanceId, epoch) !== null) return false;
    if (record === null) this.calls.delete(callKey);
    else this.calls.set(callKey, record);
    return true;
  }

  /**
   * Checks an event's lease condition and, when it holds and the event ends the call, clears the
   * call record (the Redis script's first step). Returns the later epoch that refuses it, else null.
   */
  leaseRefusal(
    key: string,
    epochKey: string,
    callKey: string,
    instanceId: string,
    condition: LeaseCondition,
  ): number | null {
    const stale = this.staleLease(key, epochKey, instanceId, condition.epoch);
    if (stale === null && condition.endsCall === true) this.calls.delete(callKey);
    return stale;
  }

  /**
   * Null when `instanceId` may still act under its grant `epoch`: the lease is that grant, or it
   * lapsed and nobody has been granted it since. Else the later epoch.
   */
  private staleLease(key: string, epochKey: string, instanceId: string, epoch: number): number | null {
    const lease = this.lease(key);
    const latest = this.counters.get(epochKey) ?? 0;
    if (lease !== null)
      return lease.owner === instanceId && lease.epoch === epoch ? null : Math.max(lease.epoch, latest);
    return latest > epoch ? latest : null;
  }

  /** Marks an instance alive for `leaseMs`; returns the live ones, sorted. */
  heartbeat(instanceId: string, leaseMs: number): string[] {
    const now = this.now();
    this.instances.set(instanceId, now + leaseMs);
    for (const [id, expiresAt] of this.instances) if (expiresAt <= now) this.instances.delete(id);
    return [...this.instances.keys()].sort();
  }

  leave(instanceId: string): void {
    this.instances.delete(instanceId);
  }

  incr(key: string): number {
    const next = (this.counters.get(key) ?? 0) + 1;
    this.counters.set(key, next);
    return next;
  }

  /**
   * Appends to a capped log. Ids are `<ms>-<seq>` as Redis stream ids are: the wall clock's
   * millisecond (never below the last id's), then a counter within it. So the ids of a process
   * that restarted continue above the ids its previous run handed out (a tab's old `lastEventId`
   * never hides new events), and an id from before this backend existed is below its floor:
   * `logSince` answers a gap (resync), as for events trimmed away.
   */
  logAppend(key: string, body: string, maxLen: number): string {
    const log = this.logs.get(key) ?? { entries: [] as LoggedEvent[], ...this.logFloor };
    this.logs.set(key, log);
    const ms = Math.max(Date.now(), log.ms);
    log.seq = ms === log.ms ? log.seq + 1 : 0;
    log.ms = ms;
    const id = `${ms}-${log.seq}`;
    log.entries.push({ id, body });
    while (log.entries.length > maxLen) log.maxDeleted = log.entries.shift()?.id ?? log.maxDeleted;
    return id;
  }

  /** Appends with an id another log handed out (an agent's partition of the domain log). */
  logAppendAs(key: string, id: string, body: string, maxLen: number): void {
    const log = this.logs.get(key) ?? { entries: [] as LoggedEvent[], ...this.logFloor };
    this.logs.set(key, log);
    const [ms, seq] = id.split('-').map(Number);
    log.ms = ms ?? log.ms;
    log.seq = seq ?? log.seq;
    log.entries.push({ id, body });
    while (log.entries.length > maxLen) log.maxDeleted = log.entries.shift()?.id ?? log.maxDeleted;
  }

  /**
   * What followed `afterId` (at most `limit`); with `overlapMs`, first the most recent `limit` of
   * the events from `overlapMs` of stream time before it (see `EventLog.since`).
   */
  logSince(
    key: string,
    afterId: string,
    limit: number,
    overlapMs?: number,
  ): { events: LoggedEvent[]; gap: boolean } {
    const log = this.logs.get(key) ?? { entries: [] as LoggedEvent[], ...this.logFloor };
    // `0` / `0-0`: from the start of this log, complete unless it was trimmed.
    const fromStart = compareEventIds(afterId, '0-0') === 0;
    const trimmed = log.maxDeleted !== this.logFloor.maxDeleted;
    const gap = fromStart
      ? trimmed
      : compareEventIds(log.maxDeleted, afterId) > 0 || compareEventIds(afterId, `${log.ms}-${log.seq}`) > 0;
    const after = log.entries.filter((e) => compareEventIds(e.id, afterId) > 0).slice(0, limit);
    const windowStart = overlapStart(afterId, overlapMs);
    const before =
      windowStart === undefined
        ? []
        : log.entries
            .filter((e) => compareEventIds(e.id, windowStart) >= 0 && compareEventIds(e.id, afterId) < 0)
            .slice(-limit);
    return { events: [...before, ...after], gap };
  }

  /** Add or refresh a live tab; returns the live count. */
  presenceTouch(key: string, tabId: string, leaseMs: number): number {
    const tabs = this.livePresence(key) ?? new Map<string, number>();
    tabs.set(tabId, this.now() + leaseMs);
    this.presence.set(key, tabs);
    return tabs.size;
  }

  presenceLeave(key: string, tabId: string): number {
    const tabs = this.livePresence(key);
    if (tabs === undefined) return 0;
    tabs.delete(tabId);
    if (tabs.size === 0) this.presence.delete(key);
    return tabs.size;
  }

  presenceCount(key: string): number {
    return this.livePresence(key)?.size ?? 0;
  }

  agentFields(key: string): StoredAgentFields {
    return { ...this.agents.get(key) };
  }

  setDevice(key: string, deviceType: DeviceType, mobile: string | undefined): StoredAgentFields {
    const fields: StoredAgentFields = { ...this.agents.get(key), deviceType: String(deviceType) };
    if (mobile === undefined) delete fields.mobile;
    else fields.mobile = mobile;
    this.agents.set(key, fields);
    return { ...fields };
  }

  toggleCallStatus(key: string, fallback: CallStatus): CallStatus {
    const fields = this.agents.get(key) ?? {};
    const current =
      fields.callStatus === 'on' || fields.callStatus === 'off' || fields.callStatus === 'noAnswer'
        ? fields.callStatus
        : fallback;
    const next = flip(current);
    this.agents.set(key, { ...fields, callStatus: next });
    return next;
  }

  /** Puts back an agent's fields kept across a restart (the embedded default's agent file). */
  restoreAgent(key: string, fields: StoredAgentFields): void {
    this.agents.set(key, { ...fields });
  }

  setCallStatus(key: string, status: CallStatus): void {
    this.agents.set(key, { ...this.agents.get(key), callStatus: status });
  }

  setRevocation(key: string, atMs: number, ttlMs: number): void {
    this.revocations.set(key, { atMs, expiresAt: this.now() + ttlMs });
  }

  revocation(key: string): number | undefined {
    const entry = this.revocations.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt > this.now()) return entry.atMs;
    this.revocations.delete(key);
    return undefined;
  }

  private grant(
    lockKey: string,
    fenceKey: string,
    tabId: string,
    instanceId: string,
    leaseMs: number,
  ): VoiceHolder {
    const holder: VoiceHolder = { tabId, instanceId, fence: this.incr(fenceKey) };
    this.locks.set(lockKey, { value: holder, expiresAt: this.now() + leaseMs });
    return { ...holder };
  }

  /** The agent's tabs with expired ones pruned; undefined when none is left. */
  private livePresence(key: string): Map<string, number> | undefined {
    const tabs = this.presence.get(key);
    if (tabs === undefined) return undefined;
    const now = this.now();
    for (const [tabId, expiresAt] of tabs) if (expiresAt <= now) tabs.delete(tabId);
    if (tabs.size > 0) return tabs;
    this.presence.delete(key);
    return undefined;
  }
}

function sameGrant(a: VoiceHolder, b: VoiceHolder): boolean {
  return a.fence === b.fence && a.tabId === b.tabId && a.instanceId === b.instanceId;
}

/** The in-memory store; `createCoordination` returns one when no `redisUrl` is set. */
export function createMemoryCoordination(options: CoordinationOptions): Coordination {
  const resolved = resolveOptions(options);
  const backend = options.memoryBackend ?? new MemoryBackend();
  const agentFile =
    options.agentsFile === undefined ? undefined : new AgentFile(options.agentsFile, resolved.logger);
  return new MemoryCoordination(resolved, backend, agentFile);
}

class MemoryCoordination implements Coordination {
  readonly kind = 'memory' as const;
  readonly instanceId: string;
  readonly voice: VoiceLock;
  readonly presence: Presence;
  readonly agents: AgentStateStore;
  readonly events: EventLog;
  readonly logins: LoginRegistry;
  readonly leases: AgentLeases;
  readonly cluster: Cluster;
  readonly transfers: TransferStore;
  readonly leaseMs: number;

  private readonly keys: CoordinationKeys;
  private readonly rpc: RpcPeer;
  /** locks granted through this instance, by lock key: renewed until lost, released or closed */
  private readonly held = new Map<string, VoiceHolder>();
  /** tabs joined through this instance, by presence key */
  private readonly tabs = new Map<string, Set<string>>();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly options: ResolvedOptions,
    private readonly backend: MemoryBackend,
    agentFile?: AgentFile,
  ) {
    this.instanceId = options.instanceId;
    this.leaseMs = options.leaseMs;
    this.keys = coordinationKeys(options.keyPrefix);
    const { keys } = this;
    const { leaseMs, instanceId } = options;
    this.rpc = new RpcPeer(
      instanceId,
      (to, message) =>
        this.op(() => {
          const peer = backend.peers.get(to);
          if (!peer) return 0;
          // Delivered later, as over a network: never inside the sender's call stack.
          setImmediate(() => peer.receive(message));
          return 1;
        }),
      options.logger,
    );
    backend.peers.set(instanceId, this.rpc);
    this.transfers = memoryTransferStore(backend.transfers, instanceId, leaseMs, (step) => this.op(step));

    this.voice = {
      acquireIfFree: (agent, tabId) =>
        this.op(() => {
          const key = keys.voiceLock(agent);
          const result = backend.acquireIfFree(key, keys.voiceFence(agent), tabId, instanceId, leaseMs);
          if (result.granted) this.held.set(key, result.holder);
          return result;
        }),
      steal: (agent, tabId) =>
        this.op(() => {
          const key = keys.voiceLock(agent);
          const result = backend.steal(key, keys.voiceFence(agent), tabId, instanceId, leaseMs);
          this.held.set(key, result.holder);
          return result;
        }),
      release: (agent, tabId) =>
        this.op(() => {
          const key = keys.voiceLock(agent);
          if (this.held.get(key)?.tabId === tabId) this.held.delete(key);
          return backend.release(key, tabId);
        }),
      holder: (agent) => this.op(() => backend.holder(keys.voiceLock(agent))),
      checkFence: (agent, tabId, fence) =>
        this.op(() => {
          const holder = backend.holder(keys.voiceLock(agent));
          return holder !== null && holder.tabId === tabId && holder.fence === fence;
        }),
      onLostToReset: () => undefined,
    };

    this.presence = {
      join: (agent, tabId) =>
        this.op(() => {
          const key = keys.presence(agent);
          const tabs = this.tabs.get(key) ?? new Set<string>();
          tabs.add(tabId);
          this.tabs.set(key, tabs);
          return backend.presenceTouch(key, tabId, leaseMs);
        }),
      leave: (agent, tabId) =>
        this.op(() => {
          const key = keys.presence(agent);
          const tabs = this.tabs.get(key);
          tabs?.delete(tabId);
          if (tabs?.size === 0) this.tabs.delete(key);
          return backend.presenceLeave(key, tabId);
        }),
      count: (agent) => this.op(() => backend.presenceCount(keys.presence(agent))),
      counts: (domain, ipphones) =>
        this.op(
          () =>
            new Map(
              ipphones.map((ipphone) => [ipphone, backend.presenceCount(keys.presence({ domain, ipphone }))]),
            ),
        ),
    };

    const stateOf = (agent: AgentRef, defaults: AgentState): AgentState => {
      const key = keys.agentState(agent);
      return mergeAgentState(backend.agentFields(key), defaults, key);
    };
    for (const [key, fields] of agentFile?.load() ?? []) backend.restoreAgent(key, fields);
    /** Keeps an agent's fields in the agent file (if any) after a change. */
    const kept = <T>(key: string, value: T): T => {
      agentFile?.append(key, backend.agentFields(key));
      return value;
    };
    this.agents = {
      get: (agent, defaults) => this.op(() => stateOf(agent, defaults)),
      getMany: (domain, defaults) =>
        this.op(
          () =>
            new Map(
              [...defaults].map(([ipphone, fallback]) => [ipphone, stateOf({ domain, ipphone }, fallback)]),
            ),
        ),
      setDevice: (agent, device, defaults) =>
        this.op(() => {
          const key = keys.agentState(agent);
          const fields = backend.setDevice(key, device.deviceType, device.mobile);
          return kept(key, mergeAgentState(fields, defaults, key));
        }),
      toggleCallStatus: (agent, defaults) =>
        this.op(() => {
          const key = keys.agentState(agent);
          return kept(key, backend.toggleCallStatus(key, defaults.callStatus));
        }),
      setCallStatus: (agent, status) =>
        this.op(() => {
          const key = keys.agentState(agent);
          backend.setCallStatus(key, status);
          kept(key, undefined);
        }),
    };

    this.events = {
      append: (domain, body, ipphone, lease) =>
        this.op(() => {
          if (lease !== undefined) {
            if (ipphone === undefined)
              throw new RangeError('coordination: a lease condition needs the agent (ipphone)');
            const agent = { domain, ipphone };
            const refusedBy = backend.leaseRefusal(
              keys.lease(agent),
              keys.leaseEpoch(agent),
              keys.leaseCall(agent),
              instanceId,
              lease,
            );
            if (refusedBy !== null) throw new StaleLeaseError(lease.epoch, refusedBy);
          }
          const id = backend.logAppend(keys.eventLog(domain), body, options.eventLogMaxLen);
          if (ipphone !== undefined)
            backend.logAppendAs(keys.agentEventLog({ domain, ipphone }), id, body, options.agentLogMaxLen);
          return id;
        }),
      since: (domain, afterId, limit, sinceOptions) =>
        this.op(() => {
          const from = parseEventId(afterId);
          return from === undefined
            ? { events: [], gap: true }
            : backend.logSince(keys.eventLog(domain), from, limit, sinceOptions?.overlapMs);
        }),
      sinceForAgent: (agent, afterId, limit, sinceOptions) =>
        this.op(() => {
          const from = parseEventId(afterId);
          return from === undefined
            ? { events: [], gap: true }
            : backend.logSince(keys.agentEventLog(agent), from, limit, sinceOptions?.overlapMs);
        }),
    };

    this.logins = {
      revoke: (agent, atMs, ttlMs) =>
        this.op(() => {
          assertTtl(ttlMs);
          backend.setRevocation(keys.logout(agent), atMs, ttlMs);
        }),
      revokedAt: (agent) => this.op(() => backend.revocation(keys.logout(agent))),
    };

    this.leases = {
      claim: (agent) =>
        this.op(() =>
          backend.claimLease(
            keys.lease(agent),
            keys.leaseEpoch(agent),
            keys.leaseCall(agent),
            instanceId,
            leaseMs,
          ),
        ),
      renew: (held) =>
        this.op(() =>
          held.map(({ agent, epoch }) => backend.renewLease(keys.lease(agent), instanceId, epoch, leaseMs)),
        ),
      release: (agent, epoch) =>
        this.op(() => backend.releaseLease(keys.lease(agent), keys.leaseCall(agent), instanceId, epoch)),
      owners: (domain, ipphones) =>
        this.op(() => {
          const owners = new Map<string, Lease>();
          for (const ipphone of ipphones) {
            const lease = backend.lease(keys.lease({ domain, ipphone }));
            if (lease) owners.set(ipphone, lease);
          }
          return owners;
        }),
      recordCall: (agent, epoch, record) =>
        this.op(() =>
          backend.recordCall(
            keys.lease(agent),
            keys.leaseEpoch(agent),
            keys.leaseCall(agent),
            instanceId,
            epoch,
            record,
          ),
        ),
    };

    this.cluster = {
      heartbeat: () => this.op(() => backend.heartbeat(instanceId, leaseMs)),
      leave: () => this.op(() => backend.leave(instanceId)),
      serve: (handler) => this.rpc.serve(handler),
      request: (to, body, timeoutMs) => this.rpc.request(to, body, timeoutMs),
    };

    this.schedule();
  }

  ping(): Promise<void> {
    return this.op(() => undefined);
  }

  close(): Promise<void> {
    if (this.backend.peers.get(this.instanceId) === this.rpc) this.backend.peers.delete(this.instanceId);
    this.rpc.close();
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    return Promise.resolve();
  }

  /** One atomic step against the backend, refused once the instance is closed. */
  private op<T>(step: () => T): Promise<T> {
    if (this.closed) return Promise.reject(unavailable('coordination: this instance is closed'));
    try {
      return Promise.resolve(step());
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.renew();
      this.schedule();
    }, this.options.renewEveryMs);
    this.timer.unref();
  }

  /** Extend what this instance holds; forget locks another tab took or that expired meanwhile. */
  private renew(): void {
    const { leaseMs } = this.options;
    for (const [key, holder] of this.held) {
      if (!this.backend.renewLock(key, holder, leaseMs)) this.held.delete(key);
    }
    for (const [key, tabs] of this.tabs) {
      for (const tabId of tabs) this.backend.presenceTouch(key, tabId, leaseMs);
    }
  }
}
