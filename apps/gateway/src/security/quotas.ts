import { Inject, Injectable } from '@nestjs/common';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { CallgateError } from '@callgate/contracts';
import type { GatewayConfig } from '../config.js';
import { GATEWAY_CONFIG } from '../tokens.js';

interface DomainLimiters {
  readonly loginsPerAddress: RateLimiterMemory;
  readonly logins: RateLimiterMemory;
  readonly commands: RateLimiterMemory;
}

/**
 * The domain's quotas (DESIGN.md §11), counted per instance with rate-limiter-flexible's memory
 * store: logins per client address and per domain (per minute), commands per socket (per second).
 * Over the limit: `RATE_LIMITED`. Tabs per agent are counted in the coordination store (cluster-wide)
 * by the /agent gateway, with `TOO_MANY_TABS`.
 */
@Injectable()
export class Quotas {
  private readonly limiters = new Map<string, DomainLimiters>();

  constructor(@Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig) {}

  /** @throws CallgateError `RATE_LIMITED` */
  async login(domain: string, address: string): Promise<void> {
    const limits = this.of(domain);
    await this.consume(
      limits.loginsPerAddress,
      `${address}`,
      'too many logins from this address; try again shortly',
    );
    await this.consume(limits.logins, 'domain', 'too many logins to this domain; try again shortly');
  }

  /** @throws CallgateError `RATE_LIMITED` */
  async command(domain: string, socketId: string): Promise<void> {
    await this.consume(this.of(domain).commands, socketId, 'too many commands from this tab; slow down');
  }

  /** The live tabs one agent may hold. */
  tabsPerAgent(domain: string): number {
    return this.config.domains.domain(domain).quotas.tabsPerAgent;
  }

  private of(domain: string): DomainLimiters {
    let limits = this.limiters.get(domain);
    if (!limits) {
      const quotas = this.config.domains.domain(domain).quotas;
      limits = {
        loginsPerAddress: new RateLimiterMemory({ points: quotas.loginsPerMinutePerAddress, duration: 60 }),
        logins: new RateLimiterMemory({ points: quotas.loginsPerMinute, duration: 60 }),
        commands: new RateLimiterMemory({ points: quotas.commandsPerSecond, duration: 1 }),
      };
      this.limiters.set(domain, limits);
    }
    return limits;
  }

  private async consume(limiter: RateLimiterMemory, key: string, message: string): Promise<void> {
    try {
      await limiter.consume(key);
    } catch (err) {
      // rate-limiter-flexible rejects with a RateLimiterRes when over the limit (an Error otherwise).
      if (err instanceof Error) throw err;
      throw new CallgateError('RATE_LIMITED', message);
    }
  }
}
