/**
 * How long a CRM token may live, and how far the CRM's clock may be from ours (DESIGN.md §11).
 * A separate step after the claims are read (`verifyCrmToken` calls it last), so changes to the
 * claim formats (`expired`, `exp`) and to this policy stay apart.
 */
import { CallgateError } from '@callgate/contracts';
import { CLOCK_SKEW_SECONDS } from './expired-claim.js';

/**
 * The login's end as the gateway will honour it, or a refusal:
 * - not a finite instant (an absurd `exp`, a date past year 275760) → `INVALID_TOKEN`;
 * - further than `maxLifetimeSeconds` (+ skew) from now → `INVALID_TOKEN` (an `expired` of
 *   9999-12-31, or `exp` written in milliseconds);
 * - up to the skew in the past → accepted, ending at `expiresAt` + skew (the CRM's clock is behind).
 * `fromClaims` false (the domain's default lifetime applied): capped at the maximum, never refused.
 * @throws CallgateError `INVALID_TOKEN`
 */
export function boundTokenLifetime(
  expiresAtMs: number,
  nowMs: number,
  maxLifetimeSeconds: number,
  fromClaims = true,
): number {
  const skewMs = CLOCK_SKEW_SECONDS * 1000;
  const latest = nowMs + maxLifetimeSeconds * 1000;
  if (!Number.isFinite(expiresAtMs) || Number.isNaN(new Date(expiresAtMs).getTime())) {
    throw new CallgateError('INVALID_TOKEN', 'token expiry is not a valid time');
  }
  if (!fromClaims) return Math.min(expiresAtMs, latest);
  if (expiresAtMs > latest + skewMs) {
    throw new CallgateError(
      'INVALID_TOKEN',
      `token lives longer than this domain allows (${maxLifetimeSeconds} s); is exp in seconds?`,
    );
  }
  if (expiresAtMs <= nowMs) return expiresAtMs + skewMs;
  return Math.min(expiresAtMs, latest);
}
