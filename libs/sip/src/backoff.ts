/** Exponential back-off with jitter, for retries that must not hammer a server (REGISTER after a 401). */
export interface BackoffOptions {
  /** The first delay (ms). */
  initialMs: number;
  /** The longest delay (ms), before jitter. */
  maxMs: number;
  /** Growth per failure. Default 2. */
  factor?: number;
  /** Each delay is moved at random by up to this fraction, both ways (0..1). Default 0.2. */
  jitter?: number;
}

/**
 * The delay before retry number `failures` (1 after the first failure): initialMs × factor^(failures-1),
 * capped at maxMs, then spread by ±jitter so that many clients failing together do not retry together.
 * `random` returns a number in [0, 1).
 */
export function backoffDelay(
  failures: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const factor = options.factor ?? 2;
  const jitter = Math.min(1, Math.max(0, options.jitter ?? 0.2));
  const exponent = Math.max(0, failures - 1);
  const base = Math.min(options.maxMs, options.initialMs * Math.pow(factor, Math.min(exponent, 64)));
  const spread = base * jitter * (2 * random() - 1);
  return Math.max(0, Math.round(base + spread));
}
