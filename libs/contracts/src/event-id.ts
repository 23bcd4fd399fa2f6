/** The largest part of a Redis stream id (an unsigned 64-bit integer). */
const MAX_PART = (1n << 64n) - 1n;
/** An id is two parts of at most 20 digits; anything longer is refused before BigInt sees it. */
const SHAPE = /^(\d{1,20})-(\d{1,20})$/;

/**
 * A client-supplied event id (`lastEventId`, `?after=`) as an id every store accepts as the
 * exclusive start of a range: `<ms>-<seq>`, both unsigned 64-bit, not the largest id (nothing can
 * follow it), leading zeros dropped. Anything else (a number, an array, 20 nines, the max id) is
 * `undefined`: the caller answers with a code or a resync, and never hands it to the store.
 */
export function parseEventId(raw: unknown): string | undefined {
  if (typeof raw !== 'string') return undefined;
  const match = SHAPE.exec(raw);
  if (!match) return undefined;
  const ms = BigInt(match[1] ?? '');
  const seq = BigInt(match[2] ?? '');
  if (ms > MAX_PART || seq > MAX_PART) return undefined;
  if (ms === MAX_PART && seq === MAX_PART) return undefined;
  return `${ms}-${seq}`;
}
