/**
 * Text from outside (SIP headers, handshake fields, command payloads) as it may appear in a log
 * line or an event: control characters escaped, length bounded. Pure; used at every edge.
 */

/** The longest piece of outside text one log line carries (the rest is counted, not printed). */
export const LOG_TEXT_MAX = 120;

// C0 and C1 controls, DEL, the Unicode line/paragraph separators and the bidi overrides.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** `value` for a log line: controls as `\xNN`/`\uNNNN`, at most `max` characters kept. */
export function logText(value: unknown, max = LOG_TEXT_MAX): string {
  const text = typeof value === 'string' ? value : String(value);
  const cut = text.length > max ? text.slice(0, max) : text;
  const escaped = cut.replace(CONTROL, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`;
  });
  return text.length > max ? `${escaped}…(+${text.length - max} chars)` : escaped;
}

/** Caller ids that are words, not numbers, as PBXs send them (lower case). */
export const NAMED_CALLER_IDS = ['anonymous', 'unknown', 'restricted', 'private', 'unavailable'] as const;
export type NamedCallerId = (typeof NAMED_CALLER_IDS)[number];

/** The longest display name kept beside a caller id. */
export const CALLER_DISPLAY_MAX = 64;
const CALLER_DIGITS_MAX = 32;

export interface CallerId {
  /** what the CRM matches on: digits with an optional leading '+', or one of NAMED_CALLER_IDS */
  number: string;
  /** the raw text as sent, controls escaped and bounded, when it differed from `number` */
  display?: string;
}

/**
 * A caller id from the PBX (user part or display of the From header), in either device mode.
 * Separators (spaces, dots, dashes, brackets) are dropped; a named id is kept as its word; any
 * other text becomes `unknown` with the raw text in `display`, so the call is still reported.
 */
export function normaliseCallerId(raw: unknown): CallerId {
  const text = typeof raw === 'string' || typeof raw === 'number' ? String(raw).trim() : '';
  const display = text === '' ? undefined : logText(text, CALLER_DISPLAY_MAX);
  const withDisplay = (number: string): CallerId =>
    display === undefined || display === number ? { number } : { number, display };
  const lower = text.toLowerCase();
  const named = NAMED_CALLER_IDS.find((word) => lower === word);
  if (named) return withDisplay(named);
  const compact = text.replace(/[\s.\-()/]/g, '');
  if (/^\+?[0-9*#]{1,32}$/.test(compact) && compact.length <= CALLER_DIGITS_MAX + 1)
    return withDisplay(compact);
  return withDisplay('unknown');
}
