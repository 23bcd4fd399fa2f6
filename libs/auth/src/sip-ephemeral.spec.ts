import { createHmac } from 'node:crypto';
import { ephemeralSipCredentials } from './sip-ephemeral.js';

describe('ephemeralSipCredentials', () => {
  const now = new Date('2026-12-02T12:00:00.500Z');

  it('names the expiry first, then the user, and signs that name with HMAC-SHA1', () => {
    const creds = ephemeralSipCredentials('shared-secret-0123456789', '5001', 600, now);
    const expiry = Math.floor(now.getTime() / 1000) + 600;
    expect(creds.username).toBe(`${expiry}:5001`);
    expect(creds.expiresAt).toEqual(new Date(expiry * 1000));
    // The same value computed independently; the expiry counts whole seconds from `now`.
    expect(creds.password).toBe(
      createHmac('sha1', 'shared-secret-0123456789').update(`${expiry}:5001`).digest('base64'),
    );
    expect(ephemeralSipCredentials('Jefe', 'user', 1, new Date(0)).password).toBe(
      createHmac('sha1', 'Jefe').update('1:user').digest('base64'),
    );
  });

  it('gives different passwords for other users, secrets and expiries', () => {
    const a = ephemeralSipCredentials('shared-secret-0123456789', '5001', 600, now).password;
    expect(ephemeralSipCredentials('shared-secret-0123456789', '5002', 600, now).password).not.toBe(a);
    expect(ephemeralSipCredentials('shared-secret-012345678X', '5001', 600, now).password).not.toBe(a);
    expect(ephemeralSipCredentials('shared-secret-0123456789', '5001', 601, now).password).not.toBe(a);
  });

  it('refuses an empty secret and a lifetime that is not a positive integer', () => {
    expect(() => ephemeralSipCredentials('', '5001', 600, now)).toThrow(RangeError);
    expect(() => ephemeralSipCredentials('s', '5001', 0, now)).toThrow(RangeError);
    expect(() => ephemeralSipCredentials('s', '5001', 1.5, now)).toThrow(RangeError);
  });
});
