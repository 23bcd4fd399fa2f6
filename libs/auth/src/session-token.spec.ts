import { CallgateError } from '@callgate/contracts';
import { decodeJwt, decodeProtectedHeader, SignJWT, type JWTPayload } from 'jose';
import { verifyCrmToken } from './crm-token.js';
import { DomainRegistry, validateDomainsFile } from './domains.js';
import { SessionTokens } from './session-token.js';

const SECRET = 'gateway-session-secret-0123456789abcdef';
const NOW = new Date('2026-07-01T10:00:00Z');
const NOW_S = NOW.getTime() / 1000;

function registryWithKey(accessKey: string): DomainRegistry {
  return new DomainRegistry(
    validateDomainsFile(
      {
        domains: {
          acme: {
            accessKey,
            apiKeys: ['api-key-0123456789abcdef'],
            allowedOrigins: ['*'],
            timezone: 'Asia/Ho_Chi_Minh',
            pbx: { wsUri: 'ws://127.0.0.1:5066', sipDomain: '127.0.0.1', mobilePrefix: '' },
            agents: {
              '5000': { name: 'Agent 5000', sip: { user: '5000', password: 'p' }, defaultDevice: 1 },
            },
          },
        },
      },
      'test',
    ),
  );
}

function b64url(value: string): string {
  return Buffer.from(value).toString('base64url');
}

function sign(payload: JWTPayload, key: string, typ = 'JWT'): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ }).sign(new TextEncoder().encode(key));
}

async function refusalOf(promise: Promise<unknown>): Promise<CallgateError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof CallgateError) return error;
    throw error;
  }
  throw new Error('the token was accepted');
}

describe('SessionTokens', () => {
  const sessions = new SessionTokens(SECRET, 3600);

  it('issue() then verify() gives back the domain, the ipphone and the expiry', async () => {
    const issued = await sessions.issue({ domain: 'acme', ipphone: '5000' }, NOW);
    expect(issued.expiresAt).toEqual(new Date(NOW.getTime() + 3_600_000));
    await expect(sessions.verify(issued.token, NOW)).resolves.toEqual({
      domain: 'acme',
      ipphone: '5000',
      expiresAt: issued.expiresAt,
      issuedAtMs: NOW.getTime(),
    });
  });

  it('marks the token as a callgate session in the header and the claims', async () => {
    const { token } = await sessions.issue({ domain: 'acme', ipphone: '5000' }, NOW);
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'HS256', typ: 'callgate-session' });
    expect(decodeJwt(token)).toMatchObject({
      typ: 'callgate-session',
      iss: 'callgate',
      sub: '5000',
      domain: 'acme',
    });
    expect(SessionTokens.TYPE).toBe('callgate-session');
  });

  it('issues a different token each time', async () => {
    const first = await sessions.issue({ domain: 'acme', ipphone: '5000' }, NOW);
    const second = await sessions.issue({ domain: 'acme', ipphone: '5000' }, NOW);
    expect(first.token).not.toBe(second.token);
  });

  it('never outlives notAfter', async () => {
    const notAfter = new Date(NOW.getTime() + 60_000);
    const issued = await sessions.issue({ domain: 'acme', ipphone: '5000', notAfter }, NOW);
    expect(issued.expiresAt).toEqual(notAfter);
    const later = await sessions.issue(
      { domain: 'acme', ipphone: '5000', notAfter: new Date(NOW.getTime() + 10 ** 9) },
      NOW,
    );
    expect(later.expiresAt).toEqual(new Date(NOW.getTime() + 3_600_000));
  });

  it('refuses to issue for a login that has already expired', async () => {
    const refusal = await refusalOf(
      sessions.issue({ domain: 'acme', ipphone: '5000', notAfter: new Date(NOW.getTime() - 1) }, NOW),
    );
    expect(refusal.code).toBe('TOKEN_EXPIRED');
  });

  it('refuses to issue for a name that is not a domain or an ipphone', async () => {
    await expect(sessions.issue({ domain: 'Acme/x', ipphone: '5000' }, NOW)).rejects.toThrow(RangeError);
    await expect(sessions.issue({ domain: 'acme', ipphone: 'a@b' }, NOW)).rejects.toThrow(RangeError);
  });

  it('refuses an expired session token with SESSION_EXPIRED', async () => {
    const { token, expiresAt } = await sessions.issue({ domain: 'acme', ipphone: '5000' }, NOW);
    await expect(sessions.verify(token, new Date(expiresAt.getTime() - 1000))).resolves.toMatchObject({
      ipphone: '5000',
    });
    await expect(refusalOf(sessions.verify(token, expiresAt))).resolves.toMatchObject({
      code: 'SESSION_EXPIRED',
    });
  });

  it('refuses a token issued with another secret with INVALID_TOKEN', async () => {
    const { token } = await new SessionTokens('another-gateway-secret-0123456789abcdef', 3600).issue(
      { domain: 'acme', ipphone: '5000' },
      NOW,
    );
    await expect(refusalOf(sessions.verify(token, NOW))).resolves.toMatchObject({
      code: 'INVALID_TOKEN',
      message: 'session token signature is not valid',
    });
  });

  it('refuses an expired token signed with another secret with INVALID_TOKEN, not SESSION_EXPIRED', async () => {
    const { token } = await new SessionTokens('another-gateway-secret-0123456789abcdef', 60).issue(
      { domain: 'acme', ipphone: '5000' },
      NOW,
    );
    await expect(
      refusalOf(sessions.verify(token, new Date(NOW.getTime() + 3_600_000))),
    ).resolves.toMatchObject({
      code: 'INVALID_TOKEN',
    });
  });

  it('refuses a CRM token as a session token with INVALID_TOKEN', async () => {
    const crmToken = await sign({ ipphone: '5000', expired: '2026-12-31 23:59:59' }, SECRET);
    await expect(refusalOf(sessions.verify(crmToken, NOW))).resolves.toMatchObject({
      code: 'INVALID_TOKEN',
      message: 'token is not a gateway session token',
    });
  });

  it('refuses a token signed with the secret but without the session claims', async () => {
    // right key, right header, but not issued by SessionTokens: no iss, no sub
    const token = await sign(
      { typ: 'callgate-session', domain: 'acme', exp: NOW_S + 60 },
      SECRET,
      'callgate-session',
    );
    await expect(refusalOf(sessions.verify(token, NOW))).resolves.toMatchObject({ code: 'INVALID_TOKEN' });
  });

  it('refuses alg none dressed as a session token with INVALID_TOKEN', async () => {
    const header = b64url(JSON.stringify({ alg: 'none', typ: 'callgate-session' }));
    const payload = b64url(
      JSON.stringify({
        typ: 'callgate-session',
        iss: 'callgate',
        sub: '5000',
        domain: 'acme',
        iat: NOW_S,
        exp: NOW_S + 60,
      }),
    );
    await expect(refusalOf(sessions.verify(`${header}.${payload}.`, NOW))).resolves.toMatchObject({
      code: 'INVALID_TOKEN',
      message: 'session token algorithm "none" is not accepted: only HS256',
    });
  });

  it('refuses garbage with INVALID_TOKEN', async () => {
    for (const token of ['', 'garbage', 'a.b.c', 'x'.repeat(9000)]) {
      await expect(refusalOf(sessions.verify(token, NOW))).resolves.toMatchObject({ code: 'INVALID_TOKEN' });
    }
  });

  it("refuses a session token as a CRM token, even when a domain's access key is the gateway secret", async () => {
    const acme = registryWithKey(SECRET).domain('acme');
    const { token } = await sessions.issue({ domain: 'acme', ipphone: '5000' }, NOW);
    await expect(refusalOf(verifyCrmToken(token, acme, NOW))).resolves.toMatchObject({
      code: 'INVALID_TOKEN',
      message: 'token is a gateway session token, not a CRM login token',
    });
    // the session claim alone, under an ordinary JWT header, is refused too
    const claimOnly = await sign({ typ: 'callgate-session', ipphone: '5000' }, SECRET);
    await expect(refusalOf(verifyCrmToken(claimOnly, acme, NOW))).resolves.toMatchObject({
      code: 'INVALID_TOKEN',
    });
  });

  it('refuses a secret shorter than 32 bytes and a lifetime that is not a positive whole number', () => {
    expect(() => new SessionTokens('too-short', 3600)).toThrow(RangeError);
    expect(() => new SessionTokens('x'.repeat(31), 3600)).toThrow('at least 32 bytes');
    expect(() => new SessionTokens(SECRET, 0)).toThrow(RangeError);
    expect(() => new SessionTokens(SECRET, 1.5)).toThrow(RangeError);
    expect(() => new SessionTokens('x'.repeat(32), 1)).not.toThrow();
  });
});
