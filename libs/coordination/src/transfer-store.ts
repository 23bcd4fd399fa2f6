// Pending transfers in the shared store, so that a transfer outlives the instance that runs it
// (its "home") and a target is asked by one source at a time across the whole deployment.
//
// Each transfer is a record (its target, its home, an opaque body the gateway writes) with a
// lease its home renews; the target's reservation names the transfer. When the home stops
// renewing (killed), the lease lapses: the transfer is an orphan, and another instance `adopt`s
// it (atomically: one adopter), becomes its home and finishes it. A reservation only ends with
// `finish`, by the transfer's current home, so a target stays reserved while its transfer is
// orphaned, and a second source is refused (TARGET_BUSY) wherever it runs.
//
// Redis layout (keys.ts): a hash per transfer {domain, ipphone, home, body}; a string per
// target holding the transfer id; one sorted set of transfer ids scored by lease expiry on the
// Redis server's clock (TIME), so instances with skewed clocks agree on what lapsed. Every
// change is one Lua script, one round trip.
import type { Redis } from 'ioredis';
import type { CoordinationKeys } from './keys.js';
import type { AgentRef } from './types.js';

/** One transfer as the store keeps it. */
export interface StoredTransfer {
  transferId: string;
  /** the agent asked to take the call: reserved until the transfer is finished */
  target: AgentRef;
  /** the instance that runs the transfer and renews its lease */
  home: string;
  /** what the gateway needs to finish the transfer (opaque JSON) */
  body: string;
}

/** What `reserve` found: the target is now reserved for this transfer, or by another one. */
export type Reservation = { reserved: true } | { reserved: false; holder: string };

/**
 * Pending transfers and their targets' reservations, shared by all instances. Every method is
 * one atomic step; methods that change a transfer act only when this instance is its home.
 */
export interface TransferStore {
  /**
   * Reserve `target` for a new transfer homed here, with its lease, unless another live or
   * orphaned transfer holds it (`holder` is that transfer's id).
   */
  reserve(target: AgentRef, transferId: string, body: string): Promise<Reservation>;
  /** Replace the body (a state change); false when the transfer is not (any more) homed here. */
  update(transferId: string, body: string): Promise<boolean>;
  /** Extend the leases of these transfers; false for each that is no longer homed here. */
  renew(transferIds: readonly string[]): Promise<boolean[]>;
  /** Remove the transfer and its target's reservation; true when this instance removed it. */
  finish(transferId: string, target: AgentRef): Promise<boolean>;
  /** The transfer that holds `target`'s reservation, if any. */
  reservedBy(target: AgentRef): Promise<string | null>;
  /** Transfers whose lease lapsed (their home stopped renewing), oldest lapse first. */
  orphans(): Promise<StoredTransfer[]>;
  /** Become the home of an orphan (renewing its lease); null when it is not an orphan any more. */
  adopt(transferId: string): Promise<StoredTransfer | null>;
}

interface TableEntry {
  target: AgentRef;
  home: string;
  body: string;
  /** `performance.now()` time at which the lease lapses */
  expiresAt: number;
}

/**
 * The shared state of the in-memory transfer store (held by a `MemoryBackend`, so instances
 * sharing a backend share it). Each method is one atomic step, the counterpart of one script.
 */
export class TransferTable {
  private readonly entries = new Map<string, TableEntry>();
  /** reservation key (domain, ipphone) → transfer id */
  private readonly targets = new Map<string, string>();

  private static targetKey(target: AgentRef): string {
    return `${encodeURIComponent(target.domain)}:${encodeURIComponent(target.ipphone)}`;
  }

  reserve(target: AgentRef, transferId: string, home: string, body: string, leaseMs: number): Reservation {
    const key = TransferTable.targetKey(target);
    const current = this.targets.get(key);
    if (current !== undefined && this.entries.has(current)) return { reserved: false, holder: current };
    this.targets.set(key, transferId);
    this.entries.set(transferId, {
      target: { ...target },
      home,
      body,
      expiresAt: performance.now() + leaseMs,
    });
    return { reserved: true };
  }

  update(transferId: string, home: string, body: string): boolean {
    const entry = this.entries.get(transferId);
    if (entry?.home !== home) return false;
    entry.body = body;
    return true;
  }

  renew(transferId: string, home: string, leaseMs: number): boolean {
    const entry = this.entries.get(transferId);
    if (entry?.home !== home) return false;
    entry.expiresAt = performance.now() + leaseMs;
    return true;
  }

  finish(transferId: string, home: string): boolean {
    const entry = this.entries.get(transferId);
    if (entry?.home !== home) return false;
    this.entries.delete(transferId);
    const key = TransferTable.targetKey(entry.target);
    if (this.targets.get(key) === transferId) this.targets.delete(key);
    return true;
  }

  reservedBy(target: AgentRef): string | null {
    const current = this.targets.get(TransferTable.targetKey(target));
    return current !== undefined && this.entries.has(current) ? current : null;
  }

  orphans(): StoredTransfer[] {
    const now = performance.now();
    return [...this.entries]
      .filter(([, entry]) => entry.expiresAt <= now)
      .sort(([, a], [, b]) => a.expiresAt - b.expiresAt)
      .map(([transferId, entry]) => stored(transferId, entry));
  }

  adopt(transferId: string, home: string, leaseMs: number): StoredTransfer | null {
    const entry = this.entries.get(transferId);
    const now = performance.now();
    if (entry === undefined || entry.expiresAt > now) return null;
    entry.home = home;
    entry.expiresAt = now + leaseMs;
    return stored(transferId, entry);
  }
}

function stored(transferId: string, entry: TableEntry): StoredTransfer {
  return { transferId, target: { ...entry.target }, home: entry.home, body: entry.body };
}

/** One atomic step of the in-memory store, refused (rejected) once its instance is closed. */
export type MemoryStep = <T>(step: () => T) => Promise<T>;

/** The in-memory transfer store of one instance over a shared table. */
export function memoryTransferStore(
  table: TransferTable,
  instanceId: string,
  leaseMs: number,
  op: MemoryStep,
): TransferStore {
  return {
    reserve: (target, transferId, body) =>
      op(() => table.reserve(target, transferId, instanceId, body, leaseMs)),
    update: (transferId, body) => op(() => table.update(transferId, instanceId, body)),
    renew: (transferIds) => op(() => transferIds.map((id) => table.renew(id, instanceId, leaseMs))),
    finish: (transferId) => op(() => table.finish(transferId, instanceId)),
    reservedBy: (target) => op(() => table.reservedBy(target)),
    orphans: () => op(() => table.orphans()),
    adopt: (transferId) => op(() => table.adopt(transferId, instanceId, leaseMs)),
  };
}

const NOW_MS = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/** The Lua of the Redis transfer store; KEYS and ARGV as each comment says. */
const LUA = {
  /** KEYS target, record, index; ARGV id, domain, ipphone, home, body, leaseMs → {1} | {0, holder} */
  reserve: `
local current = redis.call('GET', KEYS[1])
if current and redis.call('ZSCORE', KEYS[3], current) then return { 0, current } end
${NOW_MS}
redis.call('SET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], 'domain', ARGV[2], 'ipphone', ARGV[3], 'home', ARGV[4], 'body', ARGV[5])
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[6]), ARGV[1])
return { 1 }
`,
  /** KEYS record; ARGV home, body → 1 | 0 */
  update: `
if redis.call('HGET', KEYS[1], 'home') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'body', ARGV[2])
return 1
`,
  /** KEYS record, index; ARGV id, home, leaseMs → 1 | 0 */
  renew: `
if redis.call('HGET', KEYS[1], 'home') ~= ARGV[2] then return 0 end
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then return 0 end
${NOW_MS}
redis.call('ZADD', KEYS[2], 'XX', now + tonumber(ARGV[3]), ARGV[1])
return 1
`,
  /** KEYS record, index, target; ARGV id, home → 1 | 0 */
  finish: `
if redis.call('HGET', KEYS[1], 'home') ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('GET', KEYS[3]) == ARGV[1] then redis.call('DEL', KEYS[3]) end
return 1
`,
  /** KEYS target, index → the holder's id or false */
  reservedBy: `
local current = redis.call('GET', KEYS[1])
if current and redis.call('ZSCORE', KEYS[2], current) then return current end
return false
`,
  /** KEYS index → ids whose lease lapsed, oldest lapse first */
  orphans: `
${NOW_MS}
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
`,
  /** KEYS record, index; ARGV id, home, leaseMs → {domain, ipphone, body} | false */
  adopt: `
local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not score then return false end
${NOW_MS}
if tonumber(score) > now then return false end
local fields = redis.call('HMGET', KEYS[1], 'domain', 'ipphone', 'body')
if not fields[1] then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return false
end
redis.call('HSET', KEYS[1], 'home', ARGV[2])
redis.call('ZADD', KEYS[2], 'XX', now + tonumber(ARGV[3]), ARGV[1])
return fields
`,
} as const;

/** Runs one store operation, turning connection failures into COORDINATION_UNAVAILABLE. */
export type RedisStep = <T>(what: string, operation: () => Promise<T>) => Promise<T>;

/** The Redis transfer store of one instance. */
export function redisTransferStore(
  client: Redis,
  keys: CoordinationKeys,
  instanceId: string,
  leaseMs: number,
  call: RedisStep,
): TransferStore {
  const index = keys.transfers();
  const run = (what: string, lua: string, keyList: string[], args: (string | number)[]): Promise<unknown> =>
    call(`transfers.${what}`, () => client.eval(lua, keyList.length, ...keyList, ...args));
  const text = (value: unknown, where: string): string => {
    if (typeof value !== 'string') throw new Error(`coordination: malformed reply of ${where}`);
    return value;
  };
  return {
    reserve: async (target, transferId, body) => {
      const reply = await run(
        'reserve',
        LUA.reserve,
        [keys.transferTarget(target), keys.transfer(transferId), index],
        [transferId, target.domain, target.ipphone, instanceId, body, leaseMs],
      );
      if (!Array.isArray(reply)) throw new Error('coordination: malformed reply of transfers.reserve');
      return reply[0] === 1
        ? { reserved: true }
        : { reserved: false, holder: text(reply[1], 'transfers.reserve') };
    },
    update: async (transferId, body) =>
      (await run('update', LUA.update, [keys.transfer(transferId)], [instanceId, body])) === 1,
    renew: async (transferIds) => {
      // Few transfers are pending at once: one script each, sent together.
      const replies = await Promise.all(
        transferIds.map((id) =>
          run('renew', LUA.renew, [keys.transfer(id), index], [id, instanceId, leaseMs]),
        ),
      );
      return replies.map((reply) => reply === 1);
    },
    finish: async (transferId, target) =>
      (await run(
        'finish',
        LUA.finish,
        [keys.transfer(transferId), index, keys.transferTarget(target)],
        [transferId, instanceId],
      )) === 1,
    reservedBy: async (target) => {
      const reply = await run('reservedBy', LUA.reservedBy, [keys.transferTarget(target), index], []);
      return typeof reply === 'string' ? reply : null;
    },
    orphans: async () => {
      const ids = await run('orphans', LUA.orphans, [index], []);
      if (!Array.isArray(ids)) throw new Error('coordination: malformed reply of transfers.orphans');
      const found: StoredTransfer[] = [];
      for (const id of ids) {
        const transferId = text(id, 'transfers.orphans');
        const fields = await call('transfers.orphans', () =>
          client.hmget(keys.transfer(transferId), 'domain', 'ipphone', 'home', 'body'),
        );
        const [domain, ipphone, home, body] = fields;
        if (domain == null || ipphone == null || home == null || body == null) continue;
        found.push({ transferId, target: { domain, ipphone }, home, body });
      }
      return found;
    },
    adopt: async (transferId) => {
      const reply = await run(
        'adopt',
        LUA.adopt,
        [keys.transfer(transferId), index],
        [transferId, instanceId, leaseMs],
      );
      if (!Array.isArray(reply)) return null;
      const [domain, ipphone, body] = reply.map((v) => text(v, 'transfers.adopt'));
      if (domain === undefined || ipphone === undefined || body === undefined) return null;
      return { transferId, target: { domain, ipphone }, home: instanceId, body };
    },
  };
}
