import { backoffDelay } from './backoff.js';

describe('backoffDelay()', () => {
  const options = { initialMs: 2_000, maxMs: 300_000, jitter: 0 };

  it('doubles from the initial delay after each failure', () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(n, options))).toEqual([
      2_000, 4_000, 8_000, 16_000, 32_000,
    ]);
  });

  it('stops growing at the cap (2 s → 5 min after 9 failures)', () => {
    expect(backoffDelay(9, options)).toBe(300_000);
    expect(backoffDelay(1_000, options)).toBe(300_000);
  });

  it('spreads each delay by at most ±jitter', () => {
    const spread = { ...options, jitter: 0.2 };
    expect(backoffDelay(3, spread, () => 0)).toBe(6_400);
    expect(backoffDelay(3, spread, () => 0.999_999)).toBe(9_600);
    expect(backoffDelay(3, spread, () => 0.5)).toBe(8_000);
  });

  it('treats 0 failures like the first', () => {
    expect(backoffDelay(0, options)).toBe(2_000);
  });
});
