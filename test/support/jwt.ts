import { execFileSync } from 'node:child_process';

const b64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

/**
 * An HS256 JWT built without jose: the HMAC comes from `openssl dgst -sha256 -hmac`, the way a
 * PHP or shell CRM would sign it. Proves the gateway accepts tokens of independent tools.
 */
export function hs256ByOpenssl(payload: Record<string, unknown>, key: string): string {
  const signingInput = `${b64url(JSON.stringify({ typ: 'JWT', alg: 'HS256' }))}.${b64url(JSON.stringify(payload))}`;
  const mac = execFileSync('openssl', ['dgst', '-sha256', '-hmac', key, '-binary'], { input: signingInput });
  return `${signingInput}.${b64url(mac)}`;
}

/** A token with `alg: none` and no signature. */
export function unsignedToken(payload: Record<string, unknown>): string {
  return `${b64url(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${b64url(JSON.stringify(payload))}.`;
}

/** A token whose header claims RS256 (signature bytes are junk: it must be refused before use). */
export function rs256Token(payload: Record<string, unknown>): string {
  return `${b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }))}.${b64url(JSON.stringify(payload))}.${b64url('x'.repeat(256))}`;
}

/** "YYYY-MM-DD HH:mm:ss" of a moment as seen in a timezone (the 3C `expired` format). */
export { formatLocalDateTime as localTime } from '@callgate/auth';
