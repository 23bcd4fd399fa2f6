import type { CallStatus, DeviceType } from '@callgate/contracts';
export { compareEventIds, EVENT_ID_PATTERN } from '@callgate/contracts';
import type { MemoryBackend } from './memory.js';
import type { TransferStore } from './transfer-store.js';

/** An agent across the whole deployment. */
export interface AgentRef {
  domain: string;
  ipphone: string;
}

/** Who holds an agent's voice lock. */
export interface VoiceHolder {
  /** the tab (Socket.IO socket id) holding voice */
  tabId: string;
  /** the gateway instance the tab is connected to, which renews the lock */
  instanceId: string;
  /** fencing token: grows by one on every grant, never reused for an agent */
  fence: number;
}

/**
 * One tab of an agent holds voice. Every grant takes one round trip to the store and
 * hands out a fencing token larger than any before it for that agent.
 * Locks held by this instance are renewed in the background until released or `close()`.
 */
export interface VoiceLock {
  /**
   * Grant the lock to `tabId` only when nobody holds it (first tab wins). `holder` is the new
   * holder when granted, else the one that holds it (possibly `tabId` itself, with no new fence).
   */
  acquireIfFree(agent: AgentRef, tabId: string): Promise<{ granted: boolean; holder: VoiceHolder }>;
  /** Grant the lock to `tabId` whoever holds it; returns the new holder and the one it replaced. */
  steal(agent: AgentRef, tabId: string): Promise<{ holder: VoiceHolder; previous: VoiceHolder | null }>;
  /** Free the lock when `tabId` holds it; true when it did. */
  release(agent: AgentRef, tabId: string): Promise<boolean>;
  holder(agent: AgentRef): Promise<VoiceHolder | null>;
  /** True when `tabId` holds the lock and `fence` is its current token. */
  checkFence(agent: AgentRef, tabId: string, fence: number): Promise<boolean>;
  /**
   * `listener` hears of a lock this instance held that its renewal found granted to another tab
   * with no larger fence: the store lost the lock (a Redis restart) and granted it again before
   * this instance wrote it back. Nobody stole it, so nobody told `lost.tabId`; the caller does.
   * (A steal always grows the fence and is told by whoever stole.) The in-memory store never loses
   * a lock, so never calls it.
   */
  onLostToReset(listener: (agent: AgentRef, lost: VoiceHolder, holder: VoiceHolder) => void): void;
}

/** Live tabs per agent, shared by all instances; entries of a dead instance expire. */
export interface Presence {
  /** Record a live tab; returns the agent's live tab count after it. */
  join(agent: AgentRef, tabId: string): Promise<number>;
  /** Forget a tab; returns the agent's live tab count after it. */
  leave(agent: AgentRef, tabId: string): Promise<number>;
  count(agent: AgentRef): Promise<number>;
  /** Live tab counts of the given agents of one domain (0 for agents with none). */
  counts(domain: string, ipphones: readonly string[]): Promise<Map<string, number>>;
}

/** What the gateway keeps about an agent besides its tabs. */
export interface AgentState {
  deviceType: DeviceType;
  mobile?: string;
  callStatus: CallStatus;
}

/** Agent state shared by all instances; `defaults` apply to an agent never written. */
export interface AgentStateStore {
  get(agent: AgentRef, defaults: AgentState): Promise<AgentState>;
  getMany(domain: string, defaults: ReadonlyMap<string, AgentState>): Promise<Map<string, AgentState>>;
  /** Replace the device (type and mobile together; mobile cleared when absent). */
  setDevice(
    agent: AgentRef,
    device: { deviceType: DeviceType; mobile?: string },
    defaults: AgentState,
  ): Promise<AgentState>;
  /** Flip on/off atomically; returns the new status. */
  toggleCallStatus(agent: AgentRef, defaults: AgentState): Promise<CallStatus>;
  /** Sets the call status (the gateway marks `noAnswer` after a distributed call rang out). */
  setCallStatus(agent: AgentRef, status: CallStatus): Promise<void>;
}

/** One event in a domain's log: its id and what was stored (an opaque JSON string). */
export interface LoggedEvent {
  id: string;
  body: string;
}

/**
 * The writer's grant of the agent's ownership lease, as a condition on an event about that agent:
 * the event is stored only while the writer may still act under it (the lease is still this grant
 * of this instance, or it lapsed and nobody has claimed it since). A stalled owner's events thus never follow what the
 * agent's new owner published.
 */
export interface LeaseCondition {
  epoch: number;
  /**
   * The event ends the line's call: the call record kept with the lease (`recordCall`) is cleared
   * in the same step, so an instance that claims the lease never finds a call whose end is stored.
   */
  endsCall?: boolean;
}

/** Options of `EventLog.since` / `sinceForAgent`. */
export interface SinceOptions {
  /** Also return the events of this much stream time (ms) before the resume point. */
  overlapMs?: number;
}

/**
 * A capped log of each domain's events, shared by all instances (a Redis stream). Its ids only
 * grow within a domain (`<ms>-<seq>`, Redis stream ids), so a client that lost its connection
 * resumes after the last id it saw.
 */
export interface EventLog {
  /**
   * Stores an event of `domain`; resolves with its id. With `ipphone`, the event is also kept, with
   * the same id and in the same step, in that agent's own capped log (its partition), which
   * `sinceForAgent` reads: one agent's burst trims its own partition, never another agent's.
   * With `lease` (and `ipphone`), the write is conditional on that grant of the agent's lease, in
   * the same atomic step: refused with a `StaleLeaseError` when a later grant exists.
   */
  append(domain: string, body: string, ipphone?: string, lease?: LeaseCondition): Promise<string>;
  /**
   * The events stored after `afterId`, oldest first, at most `limit` of them. `gap` is true when
   * events after `afterId` have already been trimmed from the log (or the id is unknown or
   * malformed): the client missed something it can no longer get and must resync.
   *
   * With `overlapMs`, the events of the `overlapMs` of stream time before `afterId` (ids from
   * `<afterId's ms - overlapMs>-0`, up to but not including `afterId`, at most `limit` of the most
   * recent) come first: live delivery can hand a client id N+1 before id N, so a resume after N+1
   * must look back. `gap` still judges `afterId` itself, never the window's start.
   */
  since(
    domain: string,
    afterId: string,
    limit: number,
    options?: SinceOptions,
  ): Promise<{ events: LoggedEvent[]; gap: boolean }>;
  /** As `since`, from the agent's partition (the events appended with its `ipphone`). */
  sinceForAgent(
    agent: AgentRef,
    afterId: string,
    limit: number,
    options?: SinceOptions,
  ): Promise<{ events: LoggedEvent[]; gap: boolean }>;
}

/** Agents' logouts everywhere (`session.logout`): sessions and logins issued before are void. */
export interface LoginRegistry {
  /** `session.logout`: every session and login of the agent issued up to `atMs` is void (for `ttlMs`). */
  revoke(agent: AgentRef, atMs: number, ttlMs: number): Promise<void>;
  /** When the agent last logged out everywhere (ms), if that is still remembered. */
  revokedAt(agent: AgentRef): Promise<number | undefined>;
}

/** Who holds an agent's ownership lease: the instance whose SIP user agent registers the agent. */
export interface Lease {
  owner: string;
  /** grows by one on every new grant for the agent (fencing token) */
  epoch: number;
}

/** What a renewal found: still ours; gone and written back (the store lost it); taken by another. */
export type LeaseRenewal = 'renewed' | 'reasserted' | 'lost';

/**
 * Ownership of server-side agents (device modes 2, 3, 4): one instance at a time registers an
 * agent, under a lease it renews (`renew`, every third of `leaseMs`). When the owner stops renewing,
 * the lease expires and another instance may `claim` it. The owner records its call in progress
 * with the lease, so that an instance adopting the agent learns which call died with the owner.
 */
export interface AgentLeases {
  /**
   * Take the lease when nobody holds it (or this instance already does). `lease` is the holder
   * after the attempt. `lostCall` is the call record another owner left behind (handed to the new
   * owner once, then removed).
   */
  claim(agent: AgentRef): Promise<{ granted: boolean; lease: Lease; lostCall: string | null }>;
  /** Extend these leases of this instance in one round trip. */
  renew(held: readonly { agent: AgentRef; epoch: number }[]): Promise<LeaseRenewal[]>;
  /** Give the lease up (when it is still this grant); true when it was. */
  release(agent: AgentRef, epoch: number): Promise<boolean>;
  /** Current holders of the given agents of one domain (absent: nobody). */
  owners(domain: string, ipphones: readonly string[]): Promise<Map<string, Lease>>;
  /**
   * Record (or clear, with null) the owner's call in progress; false when a later grant exists
   * (the same condition as an event's `LeaseCondition`: a lapsed, unclaimed grant still records).
   */
  recordCall(agent: AgentRef, epoch: number, record: string | null): Promise<boolean>;
}

/** The gateway instances alive, and requests from one instance to another. */
export interface Cluster {
  /** Marks this instance alive for `leaseMs`; returns the ids of every live instance, sorted. */
  heartbeat(): Promise<string[]>;
  /** Removes this instance from the live set at once (graceful stop). */
  leave(): Promise<void>;
  /** Answers requests addressed to this instance (one handler; a later call replaces it). */
  serve(handler: (body: string) => Promise<string>): void;
  /**
   * Sends a request to another instance and resolves with its answer. Rejects with the
   * CallgateError the handler threw, or `INSTANCE_UNREACHABLE` when no such instance listens or
   * it did not answer within `timeoutMs`.
   */
  request(instanceId: string, body: string, timeoutMs: number): Promise<string>;
}

/** Everything the gateway coordinates with other instances, behind one handle. */
export interface Coordination {
  readonly kind: 'redis' | 'memory';
  readonly instanceId: string;
  readonly voice: VoiceLock;
  readonly presence: Presence;
  readonly agents: AgentStateStore;
  readonly events: EventLog;
  readonly logins: LoginRegistry;
  readonly leases: AgentLeases;
  readonly cluster: Cluster;
  /** pending transfers with a lease, and their targets' reservations (transfer-store.ts) */
  readonly transfers: TransferStore;
  /** lifetime of locks, presence entries and leases not renewed (ms) */
  readonly leaseMs: number;
  /** Resolves when the store answers a ping. */
  ping(): Promise<void>;
  /**
   * Stop renewing and disconnect. Locks and presence this instance held are NOT released:
   * they expire as an instance's that died would (graceful handover releases them first).
   */
  close(): Promise<void>;
}

/** Where the store reports what it cannot throw to a caller (background renewal, reconnects). */
export interface CoordinationLogger {
  warn(msg: string, ctx?: object): void;
}

export interface CoordinationOptions {
  instanceId: string;
  /** unset: in-memory store (one process; see `memoryBackend`) */
  redisUrl?: string;
  /** prefix of every Redis key, so tests and tenants can share a server (default `cg:`) */
  keyPrefix?: string;
  /** lifetime of a voice lock or presence entry not renewed; renewed every third of it (default 5000) */
  leaseMs?: number;
  /** how many events each domain's log keeps (approximately, in Redis); default 10 000 */
  eventLogMaxLen?: number;
  /**
   * how many events each agent's partition keeps (approximately, in Redis); default 1000. A
   * partition not written for a day is dropped (Redis); a tab resuming from it then resyncs.
   */
  agentLogMaxLen?: number;
  /** background failures (renewal, connection loss); default: `console.warn` with a `[coordination]` tag */
  logger?: CoordinationLogger;
  /**
   * Redis only: a command that gets no answer within this time rejects with
   * `COORDINATION_UNAVAILABLE` (default 1000). Commands issued while disconnected reject at once.
   */
  commandTimeoutMs?: number;
  /**
   * Memory only: the state to use. Instances given the same backend share it as instances
   * sharing one Redis do (tests run several instances this way); default: a private one.
   */
  memoryBackend?: MemoryBackend;
  /**
   * Memory only: a file that keeps each agent's device and call status across a restart of the
   * process (the embedded default's DATA_DIR); unset: they live in memory only.
   */
  agentsFile?: string;
  /** Redis only: told of every command of the main client, with its latency (for metrics). */
  redisObserver?: RedisCommandObserver;
}

/** Sees each Redis command: its name, how long until its reply, and whether it failed. */
export interface RedisCommandObserver {
  redisCommand(command: string, seconds: number, failed: boolean): void;
}
