import { CLOCK_SKEW_SECONDS } from './expired-claim.js';
import { boundTokenLifetime } from './token-lifetime.js';

const codeOf = (fn: () => unknown): string => {
  try {
    fn();
    return 'accepted';
  } catch (err) {
    return (err as { code?: string }).code ?? 'no code';
  }
};
const NOW = Date.UTC(2026, 11, 2, 1, 0, 0);
const DAY = 86_400;

describe('boundTokenLifetime', () => {
  it('keeps an expiry inside the maximum', () => {
    expect(boundTokenLifetime(NOW + 3_600_000, NOW, 3 * DAY)).toBe(NOW + 3_600_000);
  });

  it('refuses an expiry past the maximum (9999-12-31, exp in milliseconds)', () => {
    expect(() => boundTokenLifetime(Date.UTC(9999, 11, 31), NOW, 3 * DAY)).toThrow(
      /longer than this domain allows/,
    );
    expect(codeOf(() => boundTokenLifetime(NOW * 1000, NOW, 3 * DAY))).toBe('INVALID_TOKEN');
  });

  it('allows the skew both ways: a little over the maximum, a little in the past', () => {
    const max = NOW + 3 * DAY * 1000;
    expect(boundTokenLifetime(max + 30_000, NOW, 3 * DAY)).toBe(max);
    expect(() => boundTokenLifetime(max + CLOCK_SKEW_SECONDS * 1000 + 1, NOW, 3 * DAY)).toThrow();
    expect(boundTokenLifetime(NOW - 10_000, NOW, 3 * DAY)).toBe(NOW - 10_000 + CLOCK_SKEW_SECONDS * 1000);
  });

  it('refuses what is not a time with INVALID_TOKEN', () => {
    for (const bad of [Infinity, NaN, 1e300, -1e300])
      expect(codeOf(() => boundTokenLifetime(bad, NOW, 3 * DAY))).toBe('INVALID_TOKEN');
  });

  it('caps the default lifetime instead of refusing it', () => {
    expect(boundTokenLifetime(NOW + 10 * DAY * 1000, NOW, 3 * DAY, false)).toBe(NOW + 3 * DAY * 1000);
  });
});
