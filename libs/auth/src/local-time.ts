/**
 * Wall-clock time in an IANA time zone, converted with `Intl` only (no date library).
 * Used for the 3C `expired` claim, `"YYYY-MM-DD HH:mm:ss"` in the domain's time zone.
 */

/** A wall-clock date and time, as read; no zone attached. */
export interface LocalDateTime {
  readonly year: number;
  /** 1 to 12 */
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
}

const LOCAL_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;

/** UTC milliseconds of a wall-clock time read as if it were UTC (years 0–99 are not shifted to 19xx). */
function wallClockMs(t: LocalDateTime): number {
  const date = new Date(0);
  date.setUTCFullYear(t.year, t.month - 1, t.day);
  date.setUTCHours(t.hour, t.minute, t.second, 0);
  return date.getTime();
}

/**
 * Reads `"YYYY-MM-DD HH:mm:ss"` (24-hour clock), refusing impossible dates such as
 * `2026-02-30` or `24:00:00`. Returns `undefined` when the text is not such a time.
 */
export function parseLocalDateTime(text: string): LocalDateTime | undefined {
  const match = LOCAL_DATE_TIME.exec(text);
  if (match === null) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const time: LocalDateTime = { year, month, day, hour, minute, second };
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  // a day past the month's end rolls over into the next month
  if (new Date(wallClockMs(time)).getUTCDate() !== day) return undefined;
  return time;
}

const offsetFormatters = new Map<string, Intl.DateTimeFormat>();

function offsetFormatter(timeZone: string): Intl.DateTimeFormat {
  let formatter = offsetFormatters.get(timeZone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', timeZoneName: 'longOffset' });
    offsetFormatters.set(timeZone, formatter);
  }
  return formatter;
}

/** `"GMT+07:00"`, `"GMT-03:30"`, `"GMT+07:06:40"` (historic), `"GMT"`, at the end of the formatted text. */
const LONG_OFFSET = /GMT(?:([+-])(\d{2}):(\d{2})(?::(\d{2}))?)?$/;

/**
 * The zone's offset from UTC at instant `ms`, in milliseconds (`+07:00` → 25 200 000), as
 * `Intl` spells it with `timeZoneName: 'longOffset'` (one `format()` call, about 1 µs).
 * @throws RangeError when `timeZone` is not a time zone `Intl` knows
 */
export function timeZoneOffsetMs(ms: number, timeZone: string): number {
  const text = offsetFormatter(timeZone).format(new Date(ms));
  const match = LONG_OFFSET.exec(text);
  if (match === null) {
    throw new RangeError(`cannot read the UTC offset of ${timeZone} from ${JSON.stringify(text)}`);
  }
  const [, sign, hours = '0', minutes = '0', seconds = '0'] = match;
  const magnitude = (Number(hours) * 3600 + Number(minutes) * 60 + Number(seconds)) * 1000;
  return sign === '-' ? -magnitude : magnitude;
}

const DAY_MS = 86_400_000;

/**
 * The instant a wall-clock time names in `timeZone`.
 *
 * Around a daylight-saving change it behaves like Temporal's `'compatible'` disambiguation:
 * a time that occurs twice (clocks turned back) is the earlier instant; a time that never
 * occurs (clocks turned forward) is read with the offset in force before the change, landing
 * after the gap.
 * @throws RangeError when `timeZone` is not a time zone `Intl` knows
 */
export function localTimeToInstant(time: LocalDateTime, timeZone: string): Date {
  const wallClock = wallClockMs(time);
  const before = timeZoneOffsetMs(wallClock - DAY_MS, timeZone);
  const after = timeZoneOffsetMs(wallClock + DAY_MS, timeZone);
  // the common case: no change of offset within a day either side (zones change offset at most
  // a few times a year, never twice within two days)
  if (before === after) return new Date(wallClock - before);
  const candidates = [...new Set([before, after])]
    .map((offset) => wallClock - offset)
    .filter((instant) => wallClock - timeZoneOffsetMs(instant, timeZone) === instant);
  if (candidates.length > 0) return new Date(Math.min(...candidates));
  return new Date(wallClock - before);
}

/** "YYYY-MM-DD HH:mm:ss" of an instant as seen in a timezone: how a CRM writes the 3C `expired` claim. */
export function formatLocalDateTime(date: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(date);
  const get = (type: string): string => parts.find((p) => p.type === type)?.value ?? '';
  return `${get('year')}-${get('month')}-${get('day')} ${get('hour')}:${get('minute')}:${get('second')}`;
}
