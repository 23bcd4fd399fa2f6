import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import { CallgateError } from '@callgate/contracts';
import type { GatewayConfig } from '../config.js';
import { GATEWAY_CONFIG } from '../tokens.js';

/**
 * One quota: counted in Redis when there is one (cluster-wide), else in memory. `local` is also
 * the fallback while Redis does not answer.
 */
interface Counter {
  readonly shared?: RateLimiterRedis;
  readonly local: RateLimiterMemory;
}

interface DomainLimiters {
  readonly loginsPerAddress: Counter;
  readonly logins: Counter;
  /** per socket: a socket lives on one instance, so a memory count is exact there */
  readonly commands: Counter;
  readonly agentCommands: Counter;
}

/** A quota counter that does not answer within this time counts in memory for that call. */
const QUOTA_STORE_TIMEOUT_MS = 500;
/** At most one "quota store unreachable" warning per this interval. */
const WARN_EVERY_MS = 30_000;

const seg = (value: string): string => encodeURIComponent(value);

/**
 * The domain's quotas (DESIGN.md §11) with rate-limiter-flexible: logins per client address and
 * per domain (per minute), commands per agent (per second) and per socket (per second). Over the
 * limit: `RATE_LIMITED`. Tabs per agent are counted in the coordination store by the /agent
 * gateway, with `TOO_MANY_TABS`.
 *
 * With Redis (`REDIS_URL`) the login and per-agent counters live in Redis (one atomic script per
 * count, keys `{prefix}quota:{domain}:{counter}:{key}`), so every instance counts against the same
 * figure. When Redis does not answer (down, cut, slower than 500 ms) that count falls back to an
 * in-memory counter of the same size on this instance (the insurance counter): during an outage an
 * instance admits at most its own full quota, nobody is locked out and nothing throws; a warning
 * with Redis's error is logged (at most every 30 s). The per-socket count is always in memory.
 * `QUOTAS=off` turns the login and command quotas off (benchmarks; a rate limiter in front).
 */
@Injectable()
export class Quotas implements OnModuleDestroy {
  private readonly logger = new Logger(Quotas.name);
  private readonly limiters = new Map<string, DomainLimiters>();
  private readonly redis: Redis | undefined;
  private lastWarning = 0;

  constructor(@Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig) {
    if (!config.quotasEnabled) this.logger.warn('QUOTAS=off: no login or command quotas');
    else if (config.redisUrl) {
      this.redis = new Redis(config.redisUrl, {
        connectionName: `callgate:${config.instanceId}:quotas`,
        // Counts fail at once while disconnected (the insurance counter answers), never queue.
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        commandTimeout: QUOTA_STORE_TIMEOUT_MS,
      });
      this.redis.on('error', (err: Error) => this.warn(`quota store (redis): ${err.message}`));
    }
  }

  async onModuleDestroy(): Promise<void> {
    const redis = this.redis;
    if (redis) await redis.quit().catch(() => redis.disconnect());
  }

  /** @throws CallgateError `RATE_LIMITED` */
  async login(domain: string, address: string): Promise<void> {
    if (!this.config.quotasEnabled) return;
    const limits = this.of(domain);
    await this.consume(
      limits.loginsPerAddress,
      seg(address),
      'too many logins from this address; try again shortly',
    );
    await this.consume(limits.logins, 'domain', 'too many logins to this domain; try again shortly');
  }

  /** @throws CallgateError `RATE_LIMITED` */
  async command(domain: string, ipphone: string, socketId: string): Promise<void> {
    if (!this.config.quotasEnabled) return;
    const limits = this.of(domain);
    await this.consume(limits.commands, socketId, 'too many commands from this tab; slow down');
    await this.consume(limits.agentCommands, seg(ipphone), 'too many commands for this agent; slow down');
  }

  /** The live tabs one agent may hold. */
  tabsPerAgent(domain: string): number {
    return this.config.domains.domain(domain).quotas.tabsPerAgent;
  }

  private of(domain: string): DomainLimiters {
    let limits = this.limiters.get(domain);
    if (!limits) {
      const quotas = this.config.domains.domain(domain).quotas;
      const shared = (name: string, points: number, duration: number): Counter => {
        const local = new RateLimiterMemory({ points, duration });
        if (!this.redis) return { local };
        const keyPrefix = `${this.config.redisKeyPrefix}quota:${seg(domain)}:${name}`;
        const options = { storeClient: this.redis, keyPrefix, points, duration, rejectIfRedisNotReady: true };
        return { shared: new RateLimiterRedis(options), local };
      };
      limits = {
        loginsPerAddress: shared('logins-address', quotas.loginsPerMinutePerAddress, 60),
        logins: shared('logins', quotas.loginsPerMinute, 60),
        commands: { local: new RateLimiterMemory({ points: quotas.commandsPerSecond, duration: 1 }) },
        agentCommands: shared('commands-agent', quotas.commandsPerSecondPerAgent, 1),
      };
      this.limiters.set(domain, limits);
    }
    return limits;
  }

  private async consume(counter: Counter, key: string, message: string): Promise<void> {
    // rate-limiter-flexible rejects with a RateLimiterRes when over the limit, an Error otherwise.
    const overLimit = (err: unknown): never => {
      if (err instanceof Error) throw err;
      throw new CallgateError('RATE_LIMITED', message);
    };
    if (counter.shared) {
      try {
        await counter.shared.consume(key);
        return;
      } catch (err) {
        if (!(err instanceof Error)) overLimit(err);
        this.warn(
          `quota store (redis) did not count (${(err as Error).message}): counting per instance until it answers`,
        );
      }
    }
    await counter.local.consume(key).catch(overLimit);
  }

  private warn(message: string): void {
    const now = Date.now();
    if (now - this.lastWarning < WARN_EVERY_MS) return;
    this.lastWarning = now;
    this.logger.warn(message);
  }
}
