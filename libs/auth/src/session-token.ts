/**
 * Gateway session tokens: what `POST /{domain}/thirdParty/login` hands back as `user.token`.
 *
 * HS256 with the gateway's own secret (never a domain's access key), `typ: "callgate-session"`
 * in the header and in the claims, `iss: "callgate"`. A CRM token can never pass as a session
 * token (wrong `typ`, wrong key) and a session token can never pass as a CRM token
 * (`verifyCrmToken` refuses the `typ` even if a domain's access key equalled the secret).
 */
import { randomUUID } from 'node:crypto';
import { CallgateError } from '@callgate/contracts';
import { jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { DOMAIN_NAME_PATTERN, IPPHONE_PATTERN } from './domains.js';
import { checkCompactHs256, invalidToken, joseRefusal, SESSION_TOKEN_TYPE } from './jwt-common.js';

export const SESSION_TOKEN_ISSUER = 'callgate';
/** The least secret length, in bytes (UTF-8). */
export const MIN_SESSION_SECRET_BYTES = 32;

export interface SessionClaims {
  readonly domain: string;
  readonly ipphone: string;
}

export interface IssueSessionRequest extends SessionClaims {
  /** the session never outlives this, typically the CRM token's `expiresAt` */
  readonly notAfter?: Date;
}

export interface IssuedSession {
  readonly token: string;
  readonly expiresAt: Date;
}

export interface VerifiedSession extends SessionClaims {
  readonly expiresAt: Date;
  /** when it was issued, in ms (`ims`, else `iat`): a `session.logout` voids sessions issued before it */
  readonly issuedAtMs: number;
}

export class SessionTokens {
  /** the `typ` header and claim of every session token */
  static readonly TYPE = SESSION_TOKEN_TYPE;

  readonly #secret: Uint8Array<ArrayBuffer>;
  readonly #ttlSeconds: number;
  #key: Promise<CryptoKey> | undefined;

  /**
   * @param secret the gateway's own secret, at least 32 bytes
   * @param ttlSeconds how long a session token lives at most
   * @throws RangeError when the secret is too short or the lifetime not a positive whole number
   */
  constructor(secret: string, ttlSeconds: number) {
    this.#secret = new TextEncoder().encode(secret);
    if (this.#secret.byteLength < MIN_SESSION_SECRET_BYTES) {
      throw new RangeError(`the session secret must be at least ${MIN_SESSION_SECRET_BYTES} bytes`);
    }
    if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds <= 0) {
      throw new RangeError('the session lifetime must be a positive whole number of seconds');
    }
    this.#ttlSeconds = ttlSeconds;
  }

  /**
   * Issues a session token that expires at `min(now + ttl, notAfter)`, to the second.
   * @throws CallgateError `TOKEN_EXPIRED` when `notAfter` leaves less than a second
   * @throws RangeError when `domain` or `ipphone` is not a valid name
   */
  async issue(request: IssueSessionRequest, now: Date = new Date()): Promise<IssuedSession> {
    const { domain, ipphone, notAfter } = request;
    if (!DOMAIN_NAME_PATTERN.test(domain))
      throw new RangeError(`not a domain name: ${JSON.stringify(domain)}`);
    if (!IPPHONE_PATTERN.test(ipphone)) throw new RangeError(`not an ipphone: ${JSON.stringify(ipphone)}`);
    const nowMs = now.getTime();
    const issuedAt = Math.floor(nowMs / 1000);
    const expiresAt = Math.floor(
      Math.min(nowMs + this.#ttlSeconds * 1000, notAfter?.getTime() ?? Infinity) / 1000,
    );
    if (expiresAt <= issuedAt) {
      throw new CallgateError('TOKEN_EXPIRED', 'cannot issue a session: the login it comes from has expired');
    }
    const token = await new SignJWT({ typ: SESSION_TOKEN_TYPE, domain, ims: nowMs })
      .setProtectedHeader({ alg: 'HS256', typ: SESSION_TOKEN_TYPE })
      .setIssuer(SESSION_TOKEN_ISSUER)
      .setSubject(ipphone)
      .setIssuedAt(issuedAt)
      .setExpirationTime(expiresAt)
      .setJti(randomUUID())
      .sign(await this.#cryptoKey());
    return { token, expiresAt: new Date(expiresAt * 1000) };
  }

  /**
   * Verifies a session token issued by {@link SessionTokens.issue} with the same secret.
   * @throws CallgateError `SESSION_EXPIRED` for an authentic token past its expiry,
   * `INVALID_TOKEN` for anything else (a CRM token included)
   */
  async verify(token: string, now: Date = new Date()): Promise<VerifiedSession> {
    const header = checkCompactHs256(token, 'session token');
    if (header.typ !== SESSION_TOKEN_TYPE) throw invalidToken('token is not a gateway session token');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, await this.#cryptoKey(), {
        algorithms: ['HS256'],
        typ: SESSION_TOKEN_TYPE,
        issuer: SESSION_TOKEN_ISSUER,
        requiredClaims: ['sub', 'iat', 'exp'],
        currentDate: now,
      }));
    } catch (error) {
      throw joseRefusal(error, 'SESSION_EXPIRED', 'session token');
    }
    const domain = payload['domain'];
    const ipphone = payload.sub;
    if (
      payload['typ'] !== SESSION_TOKEN_TYPE ||
      typeof domain !== 'string' ||
      !DOMAIN_NAME_PATTERN.test(domain) ||
      ipphone === undefined ||
      !IPPHONE_PATTERN.test(ipphone) ||
      payload.exp === undefined
    ) {
      throw invalidToken('session token claims are not valid');
    }
    const ims = payload['ims'];
    const issuedAtMs = typeof ims === 'number' && Number.isSafeInteger(ims) ? ims : (payload.iat ?? 0) * 1000;
    return { domain, ipphone, expiresAt: new Date(payload.exp * 1000), issuedAtMs };
  }

  #cryptoKey(): Promise<CryptoKey> {
    this.#key ??= crypto.subtle.importKey('raw', this.#secret, { name: 'HMAC', hash: 'SHA-256' }, false, [
      'sign',
      'verify',
    ]);
    return this.#key;
  }
}
