/**
 * The CRM's login token (DESIGN.md §3, 3C "Bước 1"): an HS256 JWT signed with the domain's
 * `accessKey`, payload `{ "ipphone": "5000", "expired": "2026-12-31 23:59:59" }`.
 *
 * `verifyCrmToken()` checks the signature and the expiry only; it does not check that the agent
 * exists. `authenticateCrmLogin()` does the whole login check with a {@link DomainRegistry}.
 */
import { CallgateError } from '@callgate/contracts';
import { jwtVerify, type JWTPayload } from 'jose';
import { IPPHONE_PATTERN, type AgentConfig, type DomainConfig, type DomainRegistry } from './domains.js';
import { CLOCK_SKEW_SECONDS, MAX_EPOCH_SECONDS, parseExpiredClaim } from './expired-claim.js';
import { checkCompactHs256, invalidToken as invalid, joseRefusal, SESSION_TOKEN_TYPE } from './jwt-common.js';
import { boundTokenLifetime } from './token-lifetime.js';

export interface CrmTokenClaims {
  /** the agent's id: letters, digits, `_`, `-`, `.` (see `IPPHONE_PATTERN`) */
  readonly ipphone: string;
  /** when the login stops being valid: the earlier of `expired` and `exp`, else `iat` (or now) + the default lifetime */
  readonly expiresAt: Date;
  /** `iat` (ms), when the token carries it: a `session.logout` voids tokens issued before it */
  readonly issuedAt?: number;
}

const SESSION_NOT_CRM = 'token is a gateway session token, not a CRM login token';

const keys = new WeakMap<DomainConfig, { readonly accessKey: string; readonly key: Promise<CryptoKey> }>();

/** The domain's access key as an HMAC key, imported once per domain object. */
function verificationKey(domain: DomainConfig): Promise<CryptoKey> {
  const cached = keys.get(domain);
  if (cached !== undefined && cached.accessKey === domain.accessKey) return cached.key;
  const key = crypto.subtle.importKey(
    'raw',
    new TextEncoder().encode(domain.accessKey),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['verify'],
  );
  keys.set(domain, { accessKey: domain.accessKey, key });
  return key;
}

function ipphoneOf(payload: JWTPayload): string {
  const value = payload['ipphone'];
  if (typeof value === 'string' && IPPHONE_PATTERN.test(value)) return value;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return String(value);
  if (value === undefined) throw invalid('token has no ipphone claim');
  throw invalid(
    "token ipphone claim must be the agent's id: 1 to 64 letters, digits, '_', '-' or '.' (no spaces, '@' or ';')",
  );
}

/**
 * Verifies a CRM login token for `domain`.
 *
 * - HS256 only, signed with `domain.accessKey`; `alg: none`, any other algorithm, a bad
 *   signature, malformed input, a token over 8 KB and a gateway session
 *   token are refused with `INVALID_TOKEN`.
 * - `ipphone` (string or number of digits) is required.
 * - `expired` (`"YYYY-MM-DD HH:mm:ss"` or ISO 8601 without offset in `domain.timezone`, ISO 8601
 *   with an offset, epoch seconds; see `parseExpiredClaim`) and `exp` are both honoured, the
 *   earlier wins; more than {@link CLOCK_SKEW_SECONDS} in the past → `TOKEN_EXPIRED` (a token
 *   inside that margin lives until the margin ends). With neither, the token lives
 *   `domain.tokenLifetimeSeconds` from `iat`; an `iat` in the future counts as now, so a token
 *   never lives longer than the default lifetime from the moment it is presented.
 * - `nbf` in the future is refused with `INVALID_TOKEN`.
 *
 * It does not check that the agent exists: see {@link authenticateCrmLogin}.
 * @throws CallgateError `INVALID_TOKEN` | `TOKEN_EXPIRED`
 */
export async function verifyCrmToken(
  token: string,
  domain: DomainConfig,
  now: Date = new Date(),
): Promise<CrmTokenClaims> {
  const header = checkCompactHs256(token, 'token');
  if (header.typ === SESSION_TOKEN_TYPE) throw invalid(SESSION_NOT_CRM);
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, await verificationKey(domain), {
      algorithms: ['HS256'],
      currentDate: now,
      clockTolerance: CLOCK_SKEW_SECONDS,
    }));
  } catch (error) {
    throw joseRefusal(error, 'TOKEN_EXPIRED', 'token');
  }
  if (payload['typ'] === SESSION_TOKEN_TYPE) throw invalid(SESSION_NOT_CRM);
  const ipphone = ipphoneOf(payload);

  const nowMs = now.getTime();
  const expired = parseExpiredClaim(payload['expired'], domain.timezone);
  if (payload.exp !== undefined && !(payload.exp > 0 && payload.exp <= MAX_EPOCH_SECONDS)) {
    // a date past year 9999 (epoch milliseconds, typically) is not a date: never a 500 later on
    throw invalid('token exp claim is out of range: it must be epoch seconds');
  }
  const exp = payload.exp === undefined ? undefined : payload.exp * 1000;
  let expiresAt: number;
  if (expired === undefined && exp === undefined) {
    const issued = payload.iat === undefined ? nowMs : Math.min(payload.iat * 1000, nowMs);
    expiresAt = issued + domain.tokenLifetimeSeconds * 1000;
    if (expiresAt <= nowMs) {
      throw new CallgateError(
        'TOKEN_EXPIRED',
        `token has expired (issued more than ${domain.tokenLifetimeSeconds} s ago)`,
      );
    }
  } else {
    expiresAt = Math.min(expired ?? Infinity, exp ?? Infinity);
    const skewMs = CLOCK_SKEW_SECONDS * 1000;
    if (expiresAt <= nowMs - skewMs) {
      const claim =
        expired !== undefined && expired <= nowMs - skewMs
          ? `expired is past in ${domain.timezone}`
          : 'exp is past';
      throw new CallgateError('TOKEN_EXPIRED', `token has expired (${claim})`);
    }
  }
  // A separate step: the domain's maximum lifetime and the clock skew (token-lifetime.ts).
  const bounded = boundTokenLifetime(
    expiresAt,
    nowMs,
    domain.maxTokenLifetimeSeconds,
    expired !== undefined || exp !== undefined,
  );
  return {
    ipphone,
    expiresAt: new Date(bounded),
    ...(typeof payload.iat === 'number' ? { issuedAt: payload.iat * 1000 } : {}),
  };
}

export interface CrmLogin {
  readonly domain: DomainConfig;
  readonly agent: AgentConfig;
  readonly expiresAt: Date;
  /** the token's `iat` (ms), when it has one */
  readonly issuedAt?: number;
}

/**
 * The whole login check: the domain exists, the token is valid for it, the agent exists.
 * The agent is looked up only after the signature is checked, so an unauthenticated caller
 * cannot learn which agents exist.
 * @throws CallgateError `DOMAIN_NOT_FOUND` | `INVALID_TOKEN` | `TOKEN_EXPIRED` | `AGENT_NOT_FOUND`
 */
export async function authenticateCrmLogin(
  registry: DomainRegistry,
  domainName: string,
  token: string,
  now: Date = new Date(),
): Promise<CrmLogin> {
  const domain = registry.domain(domainName);
  const { ipphone, expiresAt, issuedAt } = await verifyCrmToken(token, domain, now);
  return {
    domain,
    agent: registry.agent(domainName, ipphone),
    expiresAt,
    ...(issuedAt === undefined ? {} : { issuedAt }),
  };
}
