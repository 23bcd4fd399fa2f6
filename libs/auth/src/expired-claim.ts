/**
 * The 3C `expired` claim in every form real CRMs sign it (VENDOR-BEHAVIOUR §1):
 * `"YYYY-MM-DD HH:mm:ss"` in the domain's time zone, ISO 8601 with an offset
 * (`2025-01-13T03:25:28.157Z`, `...+07:00`) or without one (read in the domain's time zone),
 * and epoch seconds as a number or a numeric string.
 */
import { invalidToken } from './jwt-common.js';
import { localTimeToInstant, type LocalDateTime } from './local-time.js';

/** How far past its expiry a CRM token is still honoured: the CRM's clock may run behind ours. */
export const CLOCK_SKEW_SECONDS = 60;

/** Epoch seconds past 9999-12-31T23:59:59Z are not a date (epoch milliseconds, typically). */
export const MAX_EPOCH_SECONDS = 253_402_300_799;

const EPOCH_TEXT = /^[0-9]{1,15}(?:\.[0-9]{1,9})?$/;

/** Date, `T` or a space, `HH:mm`, optional `:ss`, optional fraction, optional `Z` / `±HH:mm` / `±HHmm` / `±HH`. */
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

const FORMS =
  '"YYYY-MM-DD HH:mm:ss" (domain time zone), ISO 8601 with or without an offset, or epoch seconds';

function fromEpochSeconds(seconds: number): number {
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw invalidToken('token expired claim is not a valid epoch time in seconds');
  }
  if (seconds > MAX_EPOCH_SECONDS) {
    throw invalidToken('token expired claim is too large for epoch seconds (milliseconds?)');
  }
  return Math.floor(seconds * 1000);
}

/** Epoch ms of a matched date-time, or undefined when a field is out of range (`2026-02-30`, `24:00`). */
function fromDateTime(match: RegExpExecArray, timeZone: string): number | undefined {
  const [year, month, day, hour, minute] = match.slice(1, 6).map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const second = match[6] === undefined ? 0 : Number(match[6]);
  const fraction = match[7] === undefined ? 0 : Number(`0.${match[7]}`);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  const check = new Date(Date.UTC(2000, month - 1, day));
  check.setUTCFullYear(year);
  if (check.getUTCDate() !== day) return undefined;
  const local: LocalDateTime = { year, month, day, hour, minute, second };
  const offset = match[8];
  let ms: number;
  if (offset === undefined) {
    ms = localTimeToInstant(local, timeZone).getTime();
  } else {
    const wall = Date.UTC(2000, month - 1, day, hour, minute, second);
    const shifted = new Date(wall);
    shifted.setUTCFullYear(year);
    let offsetMs = 0;
    if (offset.toUpperCase() !== 'Z') {
      const digits = offset.slice(1).replace(':', '');
      const hours = Number(digits.slice(0, 2));
      const minutes = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
      if (hours > 23 || minutes > 59) return undefined;
      offsetMs = (hours * 60 + minutes) * 60_000 * (offset.startsWith('-') ? -1 : 1);
    }
    ms = shifted.getTime() - offsetMs;
  }
  return ms + Math.floor(fraction * 1000);
}

/**
 * The instant (epoch ms) of an `expired` claim, or `undefined` when it is absent, `null` or `""`
 * (the domain's default lifetime then applies).
 * @throws CallgateError `INVALID_TOKEN` naming the accepted forms
 */
export function parseExpiredClaim(value: unknown, timeZone: string): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'number') return fromEpochSeconds(value);
  if (typeof value !== 'string') throw invalidToken(`token expired claim must be ${FORMS}`);
  const text = value.trim();
  if (EPOCH_TEXT.test(text)) return fromEpochSeconds(Number(text));
  const match = text.length <= 40 ? DATE_TIME.exec(text) : null;
  const ms = match === null ? undefined : fromDateTime(match, timeZone);
  if (ms === undefined || !Number.isFinite(ms)) {
    throw invalidToken(`token expired claim is not a date: it must be ${FORMS}`);
  }
  return ms;
}
