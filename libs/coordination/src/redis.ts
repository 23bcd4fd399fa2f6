// Redis coordination (ioredis 5). Voice-lock grants, releases and presence changes are Lua
// scripts (redis-scripts.ts), one round trip each; reads are one command; batched reads and the
// background renewal are one pipeline.
//
// Failure behaviour: the gateway must learn at once that Redis is gone, not queue commands
// behind a dead socket. So:
//   - `enableOfflineQueue: false`: a command issued while disconnected rejects immediately;
//   - `maxRetriesPerRequest: 0`: commands in flight when the connection drops reject at once
//     (and are not replayed after reconnecting, where a steal would run twice);
//   - `commandTimeout`: a command with no answer (a half-open connection) rejects after
//     `commandTimeoutMs` (default 1000). Its effect is then unknown; callers treat it as failed;
//   - the client reconnects by itself (every 100 ms, backing off to 1 s) and works again once
//     Redis is back. `createCoordination` waits for the first connection and rejects when
//     Redis cannot be reached (bounded by `connectTimeout`).
// Connection-level failures surface as `CallgateError('COORDINATION_UNAVAILABLE')` with the
// ioredis error as `cause`; error replies from Redis itself are rethrown unchanged.
import { once } from 'node:events';
import { Redis, type ChainableCommander, type Command } from 'ioredis';
import {
  DEFAULT_COMMAND_TIMEOUT_MS,
  StaleLeaseError,
  assertTtl,
  mergeAgentState,
  parseCallStatus,
  resolveOptions,
  unavailable,
  type ResolvedOptions,
  type StoredAgentFields,
} from './common.js';
import { coordinationKeys, type CoordinationKeys } from './keys.js';
import { compareEventIds, parseEventId } from '@callgate/contracts';
import { overlapStart } from './event-window.js';
import { scripts, type ScriptName } from './redis-scripts.js';
import type {
  AgentLeases,
  AgentRef,
  AgentState,
  AgentStateStore,
  Cluster,
  Coordination,
  CoordinationLogger,
  CoordinationOptions,
  EventLog,
  LoggedEvent,
  Lease,
  LeaseRenewal,
  LoginRegistry,
  Presence,
  RedisCommandObserver,
  SinceOptions,
  VoiceHolder,
  VoiceLock,
} from './types.js';
import { RpcPeer } from './rpc.js';
import { redisTransferStore, type TransferStore } from './transfer-store.js';

const CONNECT_TIMEOUT_MS = 2_000;
/** The longest pause between two reconnection attempts (ioredis' retryStrategy below). */
const RECONNECT_MAX_MS = 1_000;
/**
 * How long voice grants wait after the store is found to have lost its data (a Redis restart
 * without persistence). Every instance writes its held locks back as the first command of its new
 * connection, so two reconnection pauses cover them on a live machine; never more than a lease.
 */
const QUIET_AFTER_LOSS_MS = 2 * RECONNECT_MAX_MS;
/** An agent's event partition not written for this long is dropped (a tab resuming from it resyncs). */
const AGENT_LOG_TTL_MS = 86_400_000;

type ScriptArg = string | number;
/** The commands ioredis adds for each entry of `scripts`, on the client and on pipelines. */
type ScriptCommands<R> = Record<ScriptName, (...args: ScriptArg[]) => R>;

function runScript(client: Redis, name: ScriptName, ...args: ScriptArg[]): Promise<unknown> {
  return (client as unknown as ScriptCommands<Promise<unknown>>)[name](...args);
}

function queueScript(pipeline: ChainableCommander, name: ScriptName, ...args: ScriptArg[]): void {
  (pipeline as unknown as ScriptCommands<ChainableCommander>)[name](...args);
}

/**
 * Times every command the client sends (pipelines and scripts included: both go through
 * `sendCommand`) and tells the observer when its reply, or its failure, arrives.
 */
function observeCommands(client: Redis, observer: RedisCommandObserver): void {
  const send = client.sendCommand.bind(client) as (command: Command, ...rest: unknown[]) => unknown;
  client.sendCommand = (command: Command, ...rest: unknown[]) => {
    // CLIENT SETNAME / SETINFO: ioredis's own connection set-up, whose failures it ignores
    // (SETINFO is unknown before Redis 7.2), not the gateway's commands.
    if (command.name === 'client') return send(command, ...rest);
    const started = performance.now();
    const result = send(command, ...rest);
    const done = (failed: boolean) => () =>
      observer.redisCommand(command.name, (performance.now() - started) / 1000, failed);
    // A new promise: the caller still sees the rejection; this one is settled either way.
    command.promise.then(done(false), done(true));
    return result;
  };
}

/** A grant this instance made, with the exact stored value its renewal compares against. */
interface HeldLock {
  agent: AgentRef;
  raw: string;
  holder: VoiceHolder;
  fenceKey: string;
}

/** The Redis store; resolves once connected, rejects with COORDINATION_UNAVAILABLE if it cannot. */
export async function createRedisCoordination(
  options: CoordinationOptions & { redisUrl: string },
): Promise<Coordination> {
  const resolved = resolveOptions(options);
  const commandTimeout = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  if (!Number.isInteger(commandTimeout) || commandTimeout <= 0) {
    throw new RangeError(`coordination: commandTimeoutMs must be a positive integer, got ${commandTimeout}`);
  }
  const client = new Redis(options.redisUrl, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout,
    connectTimeout: CONNECT_TIMEOUT_MS,
    retryStrategy: (attempt: number) => Math.min(attempt * 100, RECONNECT_MAX_MS),
    // CLIENT LIST shows which instance a connection belongs to (names may not contain spaces).
    connectionName: `callgate:${resolved.instanceId.replace(/\s/g, '_')}`,
    scripts,
  });
  if (options.redisObserver) observeCommands(client, options.redisObserver);
  const coordination = new RedisCoordination(resolved, client);
  try {
    await client.connect();
  } catch (error) {
    client.disconnect();
    const reason = coordination.connectionError() ?? messageOf(error);
    throw unavailable(`coordination: cannot reach Redis at ${redactUrl(options.redisUrl)}: ${reason}`, error);
  }
  // Not fatal: without the mark, the first voice grant reads the store as one that lost its data
  // and waits its quiet window once (2 s); nothing else depends on it.
  await coordination.markStore().catch((error: unknown) => {
    resolved.logger.warn('could not mark the store; the first voice grant will wait 2 s', {
      instanceId: resolved.instanceId,
      error: messageOf(error),
    });
  });
  try {
    await coordination.listen();
  } catch (error) {
    await coordination.close();
    throw unavailable(
      `coordination: cannot subscribe at ${redactUrl(options.redisUrl)}: ${messageOf(error)}`,
      error,
    );
  }
  coordination.start();
  return coordination;
}

class RedisCoordination implements Coordination {
  readonly kind = 'redis' as const;
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
  /** locks granted through this instance, by lock key: renewed until lost, released or closed */
  private readonly held = new Map<string, HeldLock>();
  private readonly lostToReset: ((agent: AgentRef, lost: VoiceHolder, holder: VoiceHolder) => void)[] = [];
  /** the pub/sub connection of requests between instances (a subscribed client can do nothing else) */
  private readonly subscriber: Redis;
  private readonly rpc: RpcPeer;
  /** tabs joined through this instance, by presence key */
  private readonly tabs = new Map<string, Set<string>>();
  private timer: NodeJS.Timeout | null = null;
  private renewal: Promise<void> | null = null;
  private closing: Promise<void> | null = null;
  /** 'new' until the first connection; logged transitions are up → down → up */
  private state: 'new' | 'up' | 'down' = 'new';
  private lastConnectionError: string | null = null;
  /** the loss of the store's data was logged (once per loss: cleared when the connection is back) */
  private quietLogged = false;

  constructor(
    private readonly options: ResolvedOptions,
    private readonly client: Redis,
  ) {
    this.instanceId = options.instanceId;
    this.leaseMs = options.leaseMs;
    this.keys = coordinationKeys(options.keyPrefix);
    const { keys } = this;
    const { leaseMs, instanceId, logger } = options;
    this.subscriber = client.duplicate({
      enableOfflineQueue: true,
      connectionName: `callgate:${instanceId.replace(/\s/g, '_')}:rpc`,
    });
    this.subscriber.on('error', () => undefined); // the main client logs connection trouble
    this.rpc = new RpcPeer(
      instanceId,
      (to, message) => this.call('cluster.request', () => client.publish(keys.rpc(to), message)),
      logger,
    );
    this.subscriber.on('message', (_channel: string, message: string) => this.rpc.receive(message));

    // Connection changes are logged once per outage, not once per reconnect attempt.
    client.on('error', (error: Error) => {
      if (this.lastConnectionError === error.message) return;
      this.lastConnectionError = error.message;
      // Before the first connection the error goes to createCoordination's caller instead.
      if (this.state !== 'new') logger.warn('redis connection error', { instanceId, error: error.message });
    });
    client.on('close', () => {
      if (this.state !== 'up' || this.closing !== null) return;
      this.state = 'down';
      logger.warn('redis connection lost', { instanceId });
    });
    client.on('ready', () => {
      this.lastConnectionError = null;
      const restored = this.state === 'down';
      this.state = 'up';
      if (!restored) return;
      logger.warn('redis connection restored', { instanceId });
      this.quietLogged = false;
      // A restarted Redis may have lost every voice lock: write ours back at once, as the first
      // command on the new connection, rather than at the next tick (up to a third of the lease
      // later), while a tab connecting elsewhere would find the lock free and take voice too.
      this.renewNow();
    });

    /** A voice grant script, asked again while the store is quiet after losing its data. */
    const grant = async (name: 'cgVoiceAcquireIfFree' | 'cgVoiceSteal', agent: AgentRef, tabId: string) => {
      const key = keys.voiceLock(agent);
      const deadline = performance.now() + 2 * Math.min(leaseMs, QUIET_AFTER_LOSS_MS) + leaseMs;
      for (;;) {
        const reply = await this.call(`voice.${name === 'cgVoiceSteal' ? 'steal' : 'acquireIfFree'}`, () =>
          runScript(
            client,
            name,
            key,
            keys.voiceFence(agent),
            keys.store(),
            keys.storeQuiet(),
            tabId,
            instanceId,
            leaseMs,
            Math.min(leaseMs, QUIET_AFTER_LOSS_MS),
          ),
        );
        const [first, second] = tuple(reply, 2, key);
        if (first !== -1) return { key, first, second };
        const waitMs = typeof second === 'number' && second > 0 ? second : leaseMs;
        if (!this.quietLogged) {
          this.quietLogged = true;
          logger.warn(
            'redis lost its data (a restart?): voice grants wait for held locks to be written back',
            {
              instanceId,
              waitMs,
            },
          );
        }
        if (performance.now() + waitMs > deadline)
          throw unavailable(`coordination: ${name}: the store stays quiet`);
        await new Promise((resolve) => setTimeout(resolve, waitMs));
      }
    };

    this.voice = {
      acquireIfFree: async (agent, tabId) => {
        const { key, first: flag, second: raw } = await grant('cgVoiceAcquireIfFree', agent, tabId);
        const holder = parseHolder(raw, key);
        const granted = flag === 1;
        if (granted)
          this.held.set(key, { agent, raw: asString(raw, key), holder, fenceKey: keys.voiceFence(agent) });
        return { granted, holder };
      },
      steal: async (agent, tabId) => {
        const { key, first: raw, second: previousRaw } = await grant('cgVoiceSteal', agent, tabId);
        const holder = parseHolder(raw, key);
        this.held.set(key, { agent, raw: asString(raw, key), holder, fenceKey: keys.voiceFence(agent) });
        return { holder, previous: previousRaw === null ? null : parseHolder(previousRaw, key) };
      },
      release: async (agent, tabId) => {
        const key = keys.voiceLock(agent);
        if (this.held.get(key)?.holder.tabId === tabId) this.held.delete(key);
        const reply = await this.call('voice.release', () => runScript(client, 'cgVoiceRelease', key, tabId));
        return reply === 1;
      },
      holder: async (agent) => {
        const key = keys.voiceLock(agent);
        const raw = await this.call('voice.holder', () => client.get(key));
        return raw === null ? null : parseHolder(raw, key);
      },
      checkFence: async (agent, tabId, fence) => {
        const key = keys.voiceLock(agent);
        const raw = await this.call('voice.checkFence', () => client.get(key));
        if (raw === null) return false;
        const holder = parseHolder(raw, key);
        return holder.tabId === tabId && holder.fence === fence;
      },
      onLostToReset: (listener) => {
        this.lostToReset.push(listener);
      },
    };

    this.presence = {
      join: async (agent, tabId) => {
        const key = keys.presence(agent);
        const tabs = this.tabs.get(key) ?? new Set<string>();
        tabs.add(tabId);
        this.tabs.set(key, tabs);
        const reply = await this.call('presence.join', () =>
          runScript(client, 'cgPresenceTouch', key, tabId, leaseMs),
        );
        return asCount(reply, key);
      },
      leave: async (agent, tabId) => {
        const key = keys.presence(agent);
        const tabs = this.tabs.get(key);
        tabs?.delete(tabId);
        if (tabs?.size === 0) this.tabs.delete(key);
        const reply = await this.call('presence.leave', () =>
          runScript(client, 'cgPresenceLeave', key, tabId),
        );
        return asCount(reply, key);
      },
      count: async (agent) => {
        const key = keys.presence(agent);
        return asCount(
          await this.call('presence.count', () => runScript(client, 'cgPresenceCount', key)),
          key,
        );
      },
      counts: async (domain, ipphones) => {
        const counts = new Map<string, number>();
        if (ipphones.length === 0) return counts;
        const replies = await this.pipelined('presence.counts', (pipeline) => {
          for (const ipphone of ipphones)
            queueScript(pipeline, 'cgPresenceCount', keys.presence({ domain, ipphone }));
        });
        ipphones.forEach((ipphone, i) => counts.set(ipphone, asCount(replies[i], `presence of ${ipphone}`)));
        return counts;
      },
    };

    const stateOf = (key: string, reply: unknown, defaults: AgentState): AgentState =>
      mergeAgentState(agentFields(reply, key), defaults, key);
    this.agents = {
      get: async (agent, defaults) => {
        const key = keys.agentState(agent);
        return stateOf(key, await this.call('agents.get', () => client.hgetall(key)), defaults);
      },
      getMany: async (domain, defaults) => {
        const entries = [...defaults];
        const states = new Map<string, AgentState>();
        if (entries.length === 0) return states;
        const agentKeys = entries.map(([ipphone]) => keys.agentState({ domain, ipphone }));
        const replies = await this.pipelined('agents.getMany', (pipeline) => {
          for (const key of agentKeys) pipeline.hgetall(key);
        });
        entries.forEach(([ipphone, fallback], i) => {
          states.set(ipphone, stateOf(agentKeys[i] ?? ipphone, replies[i], fallback));
        });
        return states;
      },
      setDevice: async (agent, device, defaults) => {
        const key = keys.agentState(agent);
        const hasMobile = device.mobile === undefined ? '0' : '1';
        const reply = await this.call('agents.setDevice', () =>
          runScript(client, 'cgAgentSetDevice', key, device.deviceType, hasMobile, device.mobile ?? ''),
        );
        return stateOf(key, reply, defaults);
      },
      toggleCallStatus: async (agent, defaults) => {
        const key = keys.agentState(agent);
        const reply = await this.call('agents.toggleCallStatus', () =>
          runScript(client, 'cgAgentToggleCallStatus', key, defaults.callStatus),
        );
        return parseCallStatus(reply, key);
      },
      setCallStatus: async (agent, status) => {
        const key = keys.agentState(agent);
        await this.call('agents.setCallStatus', () => client.hset(key, 'callStatus', status));
      },
    };

    // One round trip: the log's bounds, whether afterId is still in it, and what follows it.
    // (MAXLEN trimming does not move Redis 7's max-deleted-entry-id, so the bounds decide.)
    const since = async (
      key: string,
      rawAfterId: string,
      limit: number,
      sinceOptions: SinceOptions = {},
    ): Promise<{ events: LoggedEvent[]; gap: boolean }> => {
      // Bounded before XRANGE sees it: Redis refuses a part past 64 bits and `(` before the max id.
      const afterId = parseEventId(rawAfterId);
      if (afterId === undefined) return { events: [], gap: true };
      const windowStart = overlapStart(afterId, sinceOptions.overlapMs);
      const [info, self, range, before] = await this.pipelined('events.since', (p) => {
        p.xinfo('STREAM', key);
        p.xrange(key, afterId, afterId);
        p.xrange(key, `(${afterId}`, '+', 'COUNT', limit);
        // The look-back window, newest first (so at most `limit` of the most recent), up to afterId.
        if (windowStart !== undefined) p.xrevrange(key, `(${afterId}`, windowStart, 'COUNT', limit);
      }).catch((error: unknown) => {
        // XINFO on a stream that does not exist yet: nothing was ever logged.
        if (error instanceof Error && /no such key/i.test(error.message)) return [null, [], [], []];
        throw error;
      });
      const fields = Array.isArray(info) ? (info as unknown[]) : [];
      const field = (name: string): unknown => fields[fields.indexOf(name) + 1];
      const lastId =
        typeof field('last-generated-id') === 'string' ? (field('last-generated-id') as string) : '0-0';
      const trimmed = Number(field('entries-added') ?? 0) > Number(field('length') ?? 0);
      const entries = (list: unknown): LoggedEvent[] =>
        ((list ?? []) as [string, string[]][]).map(([id, kv]) => ({ id, body: kv[1] ?? '' }));
      const events: LoggedEvent[] = [...entries(before).reverse(), ...entries(range)];
      const present = (self as unknown[]).length > 0;
      // An id still in the log, or the very start of an untrimmed log: nothing was lost after it.
      // Otherwise it was trimmed (so may what followed), or it never was one of ours.
      const gap =
        compareEventIds(afterId, lastId) > 0 ||
        !(present || (compareEventIds(afterId, '0-0') === 0 && !trimmed));
      return { events, gap };
    };

    this.events = {
      append: async (domain, body, ipphone, lease) => {
        if (lease !== undefined && ipphone === undefined)
          throw new RangeError('coordination: a lease condition needs the agent (ipphone)');
        const id = await this.call('events.append', () => {
          if (ipphone === undefined)
            return client.xadd(
              keys.eventLog(domain),
              'MAXLEN',
              '~',
              String(options.eventLogMaxLen),
              '*',
              'e',
              body,
            );
          const agent = { domain, ipphone };
          return runScript(
            client,
            'cgEventAppend',
            keys.eventLog(domain),
            keys.agentEventLog(agent),
            keys.lease(agent),
            keys.leaseEpoch(agent),
            keys.leaseCall(agent),
            options.eventLogMaxLen,
            options.agentLogMaxLen,
            AGENT_LOG_TTL_MS,
            body,
            lease === undefined ? '' : lease.epoch,
            lease?.endsCall === true ? '1' : '0',
            instanceId,
          );
        });
        if (typeof id === 'number' && lease !== undefined) throw new StaleLeaseError(lease.epoch, id);
        if (typeof id !== 'string') throw unavailable('coordination: XADD returned no id');
        return id;
      },
      since: (domain, afterId, limit, sinceOptions) =>
        since(keys.eventLog(domain), afterId, limit, sinceOptions),
      sinceForAgent: (agent, afterId, limit, sinceOptions) =>
        since(keys.agentEventLog(agent), afterId, limit, sinceOptions),
    };

    this.logins = {
      revoke: async (agent, atMs, ttlMs) => {
        assertTtl(ttlMs);
        const key = keys.logout(agent);
        await this.call('logins.revoke', () => client.set(key, String(atMs), 'PX', ttlMs));
      },
      revokedAt: async (agent) => {
        const value = await this.call('logins.revokedAt', () => client.get(keys.logout(agent)));
        const at = value === null ? NaN : Number(value);
        return Number.isFinite(at) ? at : undefined;
      },
    };

    this.transfers = redisTransferStore(client, keys, instanceId, leaseMs, (what, operation) =>
      this.call(what, operation),
    );

    this.leases = {
      claim: async (agent) => {
        const key = keys.lease(agent);
        const reply = await this.call('leases.claim', () =>
          runScript(
            client,
            'cgLeaseClaim',
            key,
            keys.leaseEpoch(agent),
            keys.leaseCall(agent),
            instanceId,
            leaseMs,
          ),
        );
        const [granted, owner, epoch, lostCall] = tuple(reply, 4, key);
        return {
          granted: granted === 1,
          lease: { owner: asString(owner, key), epoch: asEpoch(epoch, key) },
          lostCall: typeof lostCall === 'string' ? lostCall : null,
        };
      },
      renew: async (held) => {
        if (held.length === 0) return [];
        const replies = await this.pipelined('leases.renew', (pipeline) => {
          for (const { agent, epoch } of held)
            queueScript(
              pipeline,
              'cgLeaseRenew',
              keys.lease(agent),
              keys.leaseEpoch(agent),
              instanceId,
              epoch,
              leaseMs,
            );
        });
        return replies.map((reply): LeaseRenewal =>
          reply === 1 ? 'renewed' : reply === 2 ? 'reasserted' : 'lost',
        );
      },
      release: async (agent, epoch) => {
        const reply = await this.call('leases.release', () =>
          runScript(client, 'cgLeaseRelease', keys.lease(agent), keys.leaseCall(agent), instanceId, epoch),
        );
        return reply === 1;
      },
      owners: async (domain, ipphones) => {
        const owners = new Map<string, Lease>();
        if (ipphones.length === 0) return owners;
        const replies = await this.pipelined('leases.owners', (pipeline) => {
          for (const ipphone of ipphones) pipeline.hmget(keys.lease({ domain, ipphone }), 'owner', 'epoch');
        });
        ipphones.forEach((ipphone, i) => {
          const [owner, epoch] = (replies[i] as (string | null)[] | undefined) ?? [];
          if (typeof owner === 'string') owners.set(ipphone, { owner, epoch: Number(epoch) });
        });
        return owners;
      },
      recordCall: async (agent, epoch, record) => {
        const reply = await this.call('leases.recordCall', () =>
          runScript(
            client,
            'cgLeaseRecordCall',
            keys.lease(agent),
            keys.leaseCall(agent),
            keys.leaseEpoch(agent),
            instanceId,
            epoch,
            record ?? '',
          ),
        );
        return reply === 1;
      },
    };

    this.cluster = {
      heartbeat: async () => {
        const reply = await this.call('cluster.heartbeat', () =>
          runScript(client, 'cgClusterBeat', keys.instances(), instanceId, leaseMs),
        );
        if (!Array.isArray(reply)) throw malformed('instance list', keys.instances());
        return reply.map((id) => asString(id, keys.instances()));
      },
      leave: async () => {
        await this.call('cluster.leave', () => client.zrem(keys.instances(), instanceId));
      },
      serve: (handler) => this.rpc.serve(handler),
      request: (to, body, timeoutMs) => this.rpc.request(to, body, timeoutMs),
    };
  }

  async ping(): Promise<void> {
    const reply = await this.call('ping', () => this.client.ping());
    if (reply !== 'PONG') throw unavailable(`coordination: unexpected PING reply ${String(reply)}`);
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** The last connection error seen since the last successful connection, if any. */
  connectionError(): string | null {
    return this.lastConnectionError;
  }

  /**
   * Marks the store as serving (if no instance did yet). A store found later without the mark lost
   * its data: voice grants then wait a lease for held locks to come back (redis-scripts AFTER_LOSS).
   */
  async markStore(): Promise<void> {
    await this.call('store.mark', () => this.client.set(this.keys.store(), this.instanceId, 'NX'));
  }

  /** Listen for requests from other instances; resolves once subscribed. */
  async listen(): Promise<void> {
    await this.subscriber.subscribe(this.keys.rpc(this.instanceId));
  }

  /** Begin renewing; called once connected. */
  start(): void {
    if (this.closing !== null || this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.renewOnce().finally(() => this.start());
    }, this.options.renewEveryMs);
    this.timer.unref();
  }

  /** One renewal now, besides the timer's (after a reconnect), after any one still running. */
  private renewNow(): void {
    if (this.closing !== null) return;
    void this.renewOnce();
  }

  /** Runs one renewal, known to `shutdown` while it runs; never rejects. */
  private renewOnce(): Promise<void> {
    const run: Promise<void> = (this.renewal ?? Promise.resolve())
      .then(() => this.renew())
      .catch((error: unknown) => {
        this.options.logger.warn('renewal failed; retrying next tick', {
          instanceId: this.instanceId,
          error: messageOf(error),
        });
      })
      .finally(() => {
        if (this.renewal === run) this.renewal = null;
      });
    this.renewal = run;
    return run;
  }

  private async shutdown(): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.renewal !== null) await this.renewal;
    this.rpc.close();
    await closeClient(this.subscriber, this.options.logger);
    await closeClient(this.client, this.options.logger);
  }

  /** One store operation; connection failures become COORDINATION_UNAVAILABLE. */
  private async call<T>(what: string, operation: () => Promise<T>): Promise<T> {
    if (this.closing !== null) throw unavailable(`coordination: ${what} after close()`);
    try {
      return await operation();
    } catch (error) {
      throw storeError(what, error);
    }
  }

  /** One pipeline; resolves with each command's reply in order, rejects on the first failure. */
  private async pipelined(what: string, build: (pipeline: ChainableCommander) => void): Promise<unknown[]> {
    const pipeline = this.client.pipeline();
    build(pipeline);
    const results = await this.call(what, () => pipeline.exec());
    if (results === null) throw unavailable(`coordination: ${what}: pipeline discarded`);
    return results.map(([error, reply]) => {
      if (error) throw storeError(what, error);
      return reply;
    });
  }

  /**
   * Extend this instance's locks and presence entries in one pipeline. A lock whose value is no
   * longer ours (stolen or expired) is dropped from the local set. Failures are logged and the
   * next tick tries again; nothing is thrown from the timer.
   */
  private async renew(): Promise<void> {
    const { leaseMs, logger, instanceId } = this.options;
    const locks = [...this.held];
    const tabs = [...this.tabs].flatMap(([key, ids]) => [...ids].map((tabId) => [key, tabId] as const));
    if (locks.length === 0 && tabs.length === 0) return;
    const pipeline = this.client.pipeline();
    for (const [key, lock] of locks)
      queueScript(pipeline, 'cgVoiceRenew', key, lock.fenceKey, lock.raw, leaseMs, lock.holder.fence);
    for (const [key, tabId] of tabs) queueScript(pipeline, 'cgPresenceTouch', key, tabId, leaseMs);
    let results: [error: Error | null, reply: unknown][] | null;
    try {
      results = await pipeline.exec();
    } catch (error) {
      logger.warn('renewal failed; retrying next tick', { instanceId, error: messageOf(error) });
      return;
    }
    if (results === null) {
      logger.warn('renewal pipeline discarded; retrying next tick', { instanceId });
      return;
    }
    const failures: string[] = [];
    results.forEach(([error, reply], i) => {
      if (error) {
        failures.push(error.message);
        return;
      }
      const lock = locks[i];
      if (lock !== undefined && typeof reply === 'string') {
        // Another holder: stolen (a larger fence; the stealer told our tab), or granted again by a
        // store that lost our lock (no larger fence; nobody told our tab, so the listeners do).
        const [key, mine] = lock;
        if (this.held.get(key) === mine) this.held.delete(key);
        const holder = parseHolder(reply, key);
        if (holder.fence <= mine.holder.fence) {
          logger.warn('voice lock was granted again by a store that lost it; its holder is told', {
            instanceId,
            lock: key,
            lost: mine.holder.tabId,
            holder: holder.tabId,
          });
          for (const listener of this.lostToReset) {
            try {
              listener(mine.agent, mine.holder, holder);
            } catch (error) {
              logger.warn('a voice-lost listener failed', { instanceId, error: messageOf(error) });
            }
          }
        }
      }
      if (lock !== undefined && reply === 2) {
        logger.warn('voice lock was gone from Redis; written back', { instanceId, lock: lock[0] });
      }
    });
    if (failures.length > 0) {
      logger.warn('renewal failed; retrying next tick', {
        instanceId,
        failed: failures.length,
        of: results.length,
        error: failures[0],
      });
    }
  }
}

/** QUIT when connected, else drop the socket or the reconnect timer; resolves once it is gone. */
async function closeClient(client: Redis, logger: CoordinationLogger): Promise<void> {
  switch (client.status) {
    case 'ready': {
      const ended = once(client, 'end');
      try {
        await client.quit();
      } catch (error) {
        logger.warn('redis QUIT failed; disconnecting', { error: messageOf(error) });
        client.disconnect();
      }
      await ended;
      return;
    }
    case 'connecting':
    case 'connect': {
      // A socket is open or opening: close it and wait until it is gone (bounded by connectTimeout).
      const ended = once(client, 'end');
      client.disconnect();
      await ended;
      return;
    }
    case 'reconnecting':
    case 'close':
    case 'wait':
    case 'end':
      // No socket (Redis down, or never connected): at most a reconnect timer, which
      // disconnect() cancels.
      client.disconnect();
      return;
  }
}

function asEpoch(value: unknown, where: string): number {
  const epoch = typeof value === 'string' ? Number(value) : value;
  if (typeof epoch !== 'number' || !Number.isSafeInteger(epoch)) throw malformed('lease epoch', where);
  return epoch;
}

function storeError(what: string, error: unknown): Error {
  // An error reply from Redis (a script or type error) is not an outage: keep it as it is.
  if (error instanceof Error && error.name === 'ReplyError') return error;
  return unavailable(`coordination: ${what} failed: ${messageOf(error)}`, error);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}`;
  } catch {
    return '(unparsable URL)';
  }
}

function malformed(what: string, where: string, cause?: unknown): Error {
  return new Error(
    `coordination: malformed ${what} in ${where}`,
    cause === undefined ? undefined : { cause },
  );
}

function tuple(reply: unknown, length: number, where: string): unknown[] {
  if (!Array.isArray(reply) || reply.length > length) throw malformed('script reply', where);
  // Redis drops a trailing nil from a script's array reply.
  return Array.from({ length }, (_, i): unknown => (i < reply.length ? (reply[i] as unknown) : null));
}

function asString(value: unknown, where: string): string {
  if (typeof value !== 'string') throw malformed('voice lock value', where);
  return value;
}

function asCount(reply: unknown, where: string): number {
  if (typeof reply !== 'number' || !Number.isInteger(reply) || reply < 0) throw malformed('count', where);
  return reply;
}

function parseHolder(raw: unknown, where: string): VoiceHolder {
  let value: unknown;
  try {
    value = JSON.parse(asString(raw, where));
  } catch (error) {
    throw malformed('voice lock value', where, { cause: error });
  }
  if (typeof value !== 'object' || value === null) throw malformed('voice lock value', where);
  const { tabId, instanceId, fence } = value as Record<string, unknown>;
  if (typeof tabId !== 'string' || typeof instanceId !== 'string' || !Number.isSafeInteger(fence)) {
    throw malformed('voice lock value', where);
  }
  return { tabId, instanceId, fence: fence as number };
}

/** HGETALL's object, or the flat field/value array a script returns from HGETALL. */
function agentFields(reply: unknown, where: string): StoredAgentFields {
  let entries: [string, unknown][];
  if (Array.isArray(reply)) {
    entries = [];
    for (let i = 0; i + 1 < reply.length; i += 2) entries.push([String(reply[i]), reply[i + 1] as unknown]);
  } else if (typeof reply === 'object' && reply !== null) {
    entries = Object.entries(reply);
  } else {
    throw malformed('agent record', where);
  }
  const fields: StoredAgentFields = {};
  for (const [name, value] of entries) {
    if (typeof value !== 'string') throw malformed('agent record', where);
    if (name === 'deviceType' || name === 'mobile' || name === 'callStatus') fields[name] = value;
  }
  return fields;
}
