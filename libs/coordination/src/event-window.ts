/**
 * The start (inclusive) of the look-back window of a resume after `afterId`: the first id of the
 * millisecond `overlapMs` of stream time before it (`<ms - overlapMs>-0`, not below `0-0`).
 * `undefined` when there is no window: no overlap asked, or a resume from the very start.
 * `afterId` is an id `parseEventId` accepted.
 */
export function overlapStart(afterId: string, overlapMs: number | undefined): string | undefined {
  if (overlapMs === undefined || overlapMs === 0) return undefined;
  if (!Number.isSafeInteger(overlapMs) || overlapMs < 0)
    throw new RangeError(`coordination: overlapMs must be a non-negative integer, got ${overlapMs}`);
  const [ms = '0', seq = '0'] = afterId.split('-');
  if (ms === '0' && seq === '0') return undefined;
  const start = BigInt(ms) - BigInt(overlapMs);
  return `${start > 0n ? start : 0n}-0`;
}
