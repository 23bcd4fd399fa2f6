/** What CRM tokens and gateway session tokens share: the shape check and jose's refusals. */
import { CallgateError } from '@callgate/contracts';
import { decodeProtectedHeader, errors, type ProtectedHeaderParameters } from 'jose';

/** Tokens longer than this (8 KB) are refused before any parsing. */
export const MAX_TOKEN_LENGTH = 8192;

/** The `typ` (header and claim) of a gateway session token; a CRM token never carries it. */
export const SESSION_TOKEN_TYPE = 'callgate-session';

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** The `name` of an error from any realm (Jest runs modules in a VM context, so `instanceof` is unreliable). */
export function errorName(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { name?: unknown }).name : undefined;
}

export function invalidToken(message: string): CallgateError {
  return new CallgateError('INVALID_TOKEN', message);
}

/**
 * Checks the shape and the header before any cryptography, so that a refusal says what is
 * wrong: missing, too long, not a compact JWS, or not HS256 (`none` included).
 * Returns the (unverified) protected header.
 * @param what the token's name in messages ("token", "session token")
 * @throws CallgateError `INVALID_TOKEN`
 */
export function checkCompactHs256(token: unknown, what: string): ProtectedHeaderParameters {
  if (typeof token !== 'string' || token === '') throw invalidToken(`${what} is missing`);
  if (token.length > MAX_TOKEN_LENGTH) throw invalidToken(`${what} is longer than ${MAX_TOKEN_LENGTH} bytes`);
  if (!COMPACT_JWS.test(token)) {
    throw invalidToken(`${what} is malformed: not a compact JWT (header.payload.signature)`);
  }
  let header: ProtectedHeaderParameters;
  try {
    header = decodeProtectedHeader(token);
  } catch (error) {
    // jose reports a bad header as a TypeError
    if (error instanceof errors.JOSEError || errorName(error) === 'TypeError') {
      throw invalidToken(`${what} is malformed: its header is not base64url-encoded JSON`);
    }
    throw error;
  }
  const alg: unknown = header.alg;
  if (alg !== 'HS256') {
    const name = typeof alg === 'string' ? JSON.stringify(alg.slice(0, 32)) : 'missing';
    throw invalidToken(`${what} algorithm ${name} is not accepted: only HS256`);
  }
  return header;
}

/**
 * Maps a refusal from jose's `jwtVerify` to our codes. Anything that is not a jose error is a bug
 * and is returned unchanged, to be rethrown.
 */
export function joseRefusal(
  error: unknown,
  expiredCode: 'TOKEN_EXPIRED' | 'SESSION_EXPIRED',
  what: string,
): unknown {
  if (!(error instanceof errors.JOSEError)) return error;
  if (error instanceof errors.JWTExpired)
    return new CallgateError(expiredCode, `${what} has expired (exp is past)`);
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return invalidToken(`${what} signature is not valid`);
  if (error instanceof errors.JWTClaimValidationFailed) {
    return invalidToken(`${what} is refused: "${error.claim}" is not valid (${error.reason})`);
  }
  if (error instanceof errors.JOSEAlgNotAllowed)
    return invalidToken(`${what} algorithm is not accepted: only HS256`);
  return invalidToken(`${what} is malformed: ${error.message}`);
}
