/**
 * A fixed-window counter of failed attempts per key (an agent, a client address), in memory:
 * `limit` failures within `windowMs` of the first one block the key until that window ends.
 * Pure (the clock is passed in), so the gateway's password login can use one per dimension.
 */
export interface FailureLimiterOptions {
  /** failures allowed in one window; the next attempt is refused */
  readonly limit: number;
  readonly windowMs: number;
  /** keys kept at most; the oldest windows are dropped first when full. Default 100 000. */
  readonly maxKeys?: number;
}

interface Window {
  startedAt: number;
  failures: number;
}

export type LimiterVerdict = { blocked: false } | { blocked: true; retryAfterMs: number };

export class FailureLimiter {
  readonly #windows = new Map<string, Window>();
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #maxKeys: number;

  constructor(options: FailureLimiterOptions) {
    if (!Number.isSafeInteger(options.limit) || options.limit < 1)
      throw new RangeError('limit must be a positive whole number');
    if (!Number.isFinite(options.windowMs) || options.windowMs <= 0)
      throw new RangeError('windowMs must be positive');
    this.#limit = options.limit;
    this.#windowMs = options.windowMs;
    this.#maxKeys = options.maxKeys ?? 100_000;
  }

  /** Whether `key` may try now (it has fewer than `limit` failures in its current window). */
  check(key: string, now: number): LimiterVerdict {
    const window = this.#current(key, now);
    if (!window || window.failures < this.#limit) return { blocked: false };
    return { blocked: true, retryAfterMs: window.startedAt + this.#windowMs - now };
  }

  /** Counts a failure of `key`; returns the failures in its window so far. */
  fail(key: string, now: number): number {
    let window = this.#current(key, now);
    if (!window) {
      this.#evict(now);
      window = { startedAt: now, failures: 0 };
      this.#windows.set(key, window);
    }
    window.failures += 1;
    return window.failures;
  }

  /** Forgets `key` (a success). */
  reset(key: string): void {
    this.#windows.delete(key);
  }

  /** Keys tracked now (for tests and metrics). */
  get size(): number {
    return this.#windows.size;
  }

  #current(key: string, now: number): Window | undefined {
    const window = this.#windows.get(key);
    if (window && now - window.startedAt >= this.#windowMs) {
      this.#windows.delete(key);
      return undefined;
    }
    return window;
  }

  /** Drops ended windows; when still full, the oldest ones (Map order is insertion order). */
  #evict(now: number): void {
    if (this.#windows.size < this.#maxKeys) return;
    for (const [key, window] of this.#windows) {
      if (now - window.startedAt >= this.#windowMs) this.#windows.delete(key);
    }
    for (const key of this.#windows.keys()) {
      if (this.#windows.size < this.#maxKeys) break;
      this.#windows.delete(key);
    }
  }
}
