/**
 * Phone numbers as callgate accepts them. A dialled number becomes the user part of a SIP URI
 * on the domain's own PBX, so it must never carry anything that could reach another domain,
 * add URI parameters or inject a header: only digits, '*', '#', and one leading '+'.
 */
const DIALLED = /^\+?[0-9*#]{1,32}$/;
const MOBILE = /^\+?[0-9]{8,15}$/;

export const MAX_DIALLED_LENGTH = 32;

export type NumberCheck = { ok: true; value: string } | { ok: false; reason: string };

/** A number an agent may dial (`call.dial`, `csCallout`). */
export function checkDialledNumber(input: unknown): NumberCheck {
  // Strictly a string: a JSON number would lose its leading zero (0909123456 -> 909123456).
  if (typeof input !== 'string') return { ok: false, reason: 'the number must be a string' };
  const value = input;
  if (value.length === 0) return { ok: false, reason: 'the number is empty' };
  if (value.length > MAX_DIALLED_LENGTH + 1) {
    return { ok: false, reason: `the number is longer than ${MAX_DIALLED_LENGTH} characters` };
  }
  if (!DIALLED.test(value)) {
    return { ok: false, reason: "the number may hold only digits, '*', '#' and a leading '+'" };
  }
  return { ok: true, value };
}

/** A mobile number that can receive calls (device type 3). */
export function checkMobileNumber(input: unknown): NumberCheck {
  if (typeof input !== 'string') return { ok: false, reason: 'the mobile number must be a string' };
  if (!MOBILE.test(input)) {
    return { ok: false, reason: "a mobile number is 8 to 15 digits with an optional leading '+'" };
  }
  return { ok: true, value: input };
}
