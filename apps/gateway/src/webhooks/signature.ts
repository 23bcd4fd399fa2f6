// Webhook signatures: `Callgate-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`
// with the webhook's secret. The timestamp is signed too, so a receiver that refuses old
// timestamps (say older than 5 minutes) refuses replays. Pure; the receiver's recipe is in README.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'callgate-signature';

export function signatureHeader(secret: string, body: string, timestamp: number): string {
  return `t=${timestamp},v1=${hmac(secret, `${timestamp}.${body}`)}`;
}

/**
 * Checks a `Callgate-Signature` header against the raw body: true when one `v1` matches and the
 * timestamp is within `toleranceSeconds` of `now` (unix seconds).
 */
export function verifySignature(
  secret: string,
  body: string,
  header: string,
  now: number,
  toleranceSeconds = 300,
): boolean {
  const parts = header.split(',').map((part) => part.trim().split('='));
  const t = Number(parts.find(([k]) => k === 't')?.[1]);
  if (!Number.isInteger(t) || Math.abs(now - t) > toleranceSeconds) return false;
  const expected = Buffer.from(hmac(secret, `${t}.${body}`), 'hex');
  return parts.some(([k, v]) => {
    if (k !== 'v1' || v === undefined || !/^[0-9a-f]{64}$/.test(v)) return false;
    return timingSafeEqual(expected, Buffer.from(v, 'hex'));
  });
}

function hmac(secret: string, payload: string): string {
  return createHmac('sha256', secret).update(payload).digest('hex');
}

/** Delay before retry `attempt` (1 = first retry): doubling from `baseMs`, capped, with ±20 % jitter. */
export function retryDelayMs(attempt: number, baseMs: number, capMs = 300_000, random = Math.random): number {
  const plain = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(plain * (0.8 + 0.4 * random()));
}
