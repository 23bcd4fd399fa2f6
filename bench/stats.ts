/** Statistics the benchmarks share. */

/** Nearest-rank percentile of sorted samples (NaN when there are none). */
export function percentile(sorted: readonly number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}
