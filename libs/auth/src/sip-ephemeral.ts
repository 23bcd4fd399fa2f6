import { createHmac } from 'node:crypto';

/** Short-lived SIP credentials, as Kamailio's `auth_ephemeral` checks them (`username_format` 1). */
export interface EphemeralSipCredentials {
  /** `<expiry as Unix seconds>:<user>` (the digest user name) */
  readonly username: string;
  /** base64(HMAC-SHA1(secret, username)) */
  readonly password: string;
  /** when the PBX stops accepting them */
  readonly expiresAt: Date;
}

/**
 * Credentials for `user` valid `lifetimeSeconds` from `now` (the draft-uberti-rtcweb-turn-rest
 * scheme, IETF username format: the timestamp first). Pure: the clock is the caller's.
 */
export function ephemeralSipCredentials(
  secret: string,
  user: string,
  lifetimeSeconds: number,
  now: Date,
): EphemeralSipCredentials {
  if (secret === '') throw new RangeError('the shared secret is empty');
  if (!Number.isInteger(lifetimeSeconds) || lifetimeSeconds <= 0)
    throw new RangeError(`lifetimeSeconds must be a positive integer, got ${String(lifetimeSeconds)}`);
  const expiry = Math.floor(now.getTime() / 1000) + lifetimeSeconds;
  const username = `${expiry}:${user}`;
  const password = createHmac('sha1', secret).update(username).digest('base64');
  return { username, password, expiresAt: new Date(expiry * 1000) };
}
