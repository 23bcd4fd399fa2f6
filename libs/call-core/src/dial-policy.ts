/**
 * What a domain lets the PBX dial on its behalf (DESIGN.md §11): callouts, mobile forwards (device
 * type 3), transfers and queues. Pure: the domains file gives the policy, the gateway asks before
 * every dial and turns a refusal into `DIAL_NOT_ALLOWED` plus a `security.refused` event.
 *
 * A number is judged as the agent or the file gave it (digits, `*`, `#`, one leading `+`), before
 * any `mobilePrefix` is put in front of it. International means a leading `+`
 * or `00`, unless it starts with one of the domain's `domesticPrefixes` (e.g. `+84`). Premium means
 * a `premiumPrefixes` match, checked on the number and on its domestic form.
 */

export const DialPurposes = ['callout', 'mobile', 'transfer', 'queue'] as const;
export type DialPurpose = (typeof DialPurposes)[number];

export interface DialPolicy {
  /** dial `+…`/`00…` numbers (other than `domesticPrefixes`); default false */
  readonly allowInternational: boolean;
  /** dial `premiumPrefixes` numbers; default false */
  readonly allowPremium: boolean;
  /** international forms that are really domestic (`+84`, `0084`) */
  readonly domesticPrefixes: readonly string[];
  /** premium-rate prefixes, domestic form (`1900`) */
  readonly premiumPrefixes: readonly string[];
  /** per purpose, the only prefixes allowed (absent: any number the rules above allow) */
  readonly allow: Readonly<Partial<Record<DialPurpose, readonly string[]>>>;
}

/** Premium-rate prefixes refused by default (Vietnam's 1900, the common 0900 and 1-900 forms). */
export const DEFAULT_PREMIUM_PREFIXES: readonly string[] = ['1900', '0900'];

export const DEFAULT_DIAL_POLICY: DialPolicy = Object.freeze({
  allowInternational: false,
  allowPremium: false,
  domesticPrefixes: Object.freeze([]),
  premiumPrefixes: DEFAULT_PREMIUM_PREFIXES,
  allow: Object.freeze({}),
});

export type DialRefusal = 'international' | 'premium' | 'not_allowed' | 'not_a_number';

export type DialCheck = { ok: true } | { ok: false; refusal: DialRefusal; reason: string };

const NUMBER = /^\+?[0-9*#]{1,32}$/;

/**
 * Whether `number` may be dialled for `purpose` under `policy`. A SIP user that is not a number
 * (a queue named `queue1`) is not a phone number: allowed for `queue`, refused otherwise.
 */
export function checkDial(policy: DialPolicy, purpose: DialPurpose, number: string): DialCheck {
  if (!NUMBER.test(number)) {
    return purpose === 'queue'
      ? { ok: true }
      : { ok: false, refusal: 'not_a_number', reason: `${purpose} target is not a phone number` };
  }
  const domestic = policy.domesticPrefixes.find((prefix) => number.startsWith(prefix));
  const international = domestic === undefined && (number.startsWith('+') || number.startsWith('00'));
  if (international && !policy.allowInternational) {
    return {
      ok: false,
      refusal: 'international',
      reason: `international numbers are not allowed (${purpose})`,
    };
  }
  // The domestic form of `+84 1900…` is `1900…`: premium is checked on both.
  const local = domestic === undefined ? number : number.slice(domestic.length);
  const premium = policy.premiumPrefixes.some((p) => local.startsWith(p) || number.startsWith(p));
  if (premium && !policy.allowPremium) {
    return { ok: false, refusal: 'premium', reason: `premium-rate numbers are not allowed (${purpose})` };
  }
  const allowed = policy.allow[purpose];
  if (allowed !== undefined && !allowed.some((prefix) => number.startsWith(prefix))) {
    return {
      ok: false,
      refusal: 'not_allowed',
      reason: `the domain's dial policy does not allow this ${purpose} number`,
    };
  }
  return { ok: true };
}
