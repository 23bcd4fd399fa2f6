import { execFileSync } from 'node:child_process';
import { CallgateError } from '@callgate/contracts';
import { SignJWT, type JWTPayload } from 'jose';
import { authenticateCrmLogin, verifyCrmToken } from './crm-token.js';
import { DomainRegistry, validateDomainsFile, type DomainConfig, type DomainsFile } from './domains.js';

const ACME_KEY = 'acme-access-key-0123456789abcdef0123';
const OTHER_KEY = 'other-access-key-0123456789abcdef012';

function domainsFile(lifetime?: number): DomainsFile {
  const agents = {
    '5000': { name: 'Agent 5000', sip: { user: '5000', password: 'p' }, defaultDevice: 1 },
    '5001': { name: 'Agent 5001', sip: { user: '5001', password: 'p' }, defaultDevice: 1 },
  };
  const domain = (accessKey: string) => ({
    accessKey,
    apiKeys: ['api-key-0123456789abcdef'],
    allowedOrigins: ['*'],
    timezone: 'Asia/Ho_Chi_Minh',
    ...(lifetime !== undefined && { tokenLifetimeSeconds: lifetime }),
    pbx: { wsUri: 'ws://127.0.0.1:5066', sipDomain: '127.0.0.1', mobilePrefix: '' },
    agents,
    // these fixtures sign 3C's example tokens (expired months ahead); the cap is tested below
    maxTokenLifetimeSeconds: 366 * 86_400,
  });
  return validateDomainsFile({ domains: { acme: domain(ACME_KEY), other: domain(OTHER_KEY) } }, 'test');
}

const file = domainsFile();
const registry = new DomainRegistry(file);
const acme = registry.domain('acme');

/** 2026-07-01 10:00:00 UTC, 17:00 in Ho Chi Minh City (UTC+7). */
const NOW = new Date('2026-07-01T10:00:00Z');
const NOW_S = NOW.getTime() / 1000;

function sign(payload: JWTPayload, key = ACME_KEY): Promise<string> {
  return new SignJWT(payload)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .sign(new TextEncoder().encode(key));
}

function b64url(value: string | Buffer): string {
  return Buffer.from(value).toString('base64url');
}

/** A JWT built by hand, with a signature made by OpenSSL: no jose involved. */
function mintWithOpenssl(header: object, payload: object | string, key: string): string {
  const payloadText = typeof payload === 'string' ? payload : JSON.stringify(payload);
  const signingInput = `${b64url(JSON.stringify(header))}.${b64url(payloadText)}`;
  const mac = execFileSync('openssl', ['dgst', '-sha256', '-hmac', key, '-binary'], { input: signingInput });
  return `${signingInput}.${b64url(mac)}`;
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

describe('verifyCrmToken()', () => {
  it('accepts a 3C token and reads expired in the domain time zone', async () => {
    const token = await sign({ ipphone: '5000', expired: '2026-12-31 23:59:59' });
    await expect(verifyCrmToken(token, acme, NOW)).resolves.toEqual({
      ipphone: '5000',
      expiresAt: new Date('2026-12-31T16:59:59Z'),
    });
  });

  it('accepts a token minted by OpenSSL, as a PHP CRM would', async () => {
    const token = mintWithOpenssl(
      { typ: 'JWT', alg: 'HS256' },
      { ipphone: '5001', expired: '2026-07-02 00:00:00' },
      ACME_KEY,
    );
    await expect(verifyCrmToken(token, acme, NOW)).resolves.toEqual({
      ipphone: '5001',
      expiresAt: new Date('2026-07-01T17:00:00Z'),
    });
  });

  it('normalises a numeric ipphone to a string', async () => {
    const token = await sign({ ipphone: 5000, exp: NOW_S + 60 });
    await expect(verifyCrmToken(token, acme, NOW)).resolves.toMatchObject({ ipphone: '5000' });
  });

  it('refuses alg none with INVALID_TOKEN', async () => {
    const token = `${b64url(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${b64url(JSON.stringify({ ipphone: '5000' }))}.`;
    const refusal = await refusalOf(verifyCrmToken(token, acme, NOW));
    expect(refusal.code).toBe('INVALID_TOKEN');
    expect(refusal.message).toBe('token algorithm "none" is not accepted: only HS256');
  });

  it('refuses an RS256 header with INVALID_TOKEN', async () => {
    const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }));
    const token = `${header}.${b64url(JSON.stringify({ ipphone: '5000' }))}.${b64url('not-an-rsa-signature')}`;
    const refusal = await refusalOf(verifyCrmToken(token, acme, NOW));
    expect(refusal.code).toBe('INVALID_TOKEN');
    expect(refusal.message).toBe('token algorithm "RS256" is not accepted: only HS256');
  });

  it('refuses HS512, even with a valid HMAC, with INVALID_TOKEN', async () => {
    const token = await new SignJWT({ ipphone: '5000' })
      .setProtectedHeader({ alg: 'HS512' })
      .sign(new TextEncoder().encode(ACME_KEY));
    await expect(refusalOf(verifyCrmToken(token, acme, NOW))).resolves.toMatchObject({
      code: 'INVALID_TOKEN',
    });
  });

  it("refuses a token signed with another domain's key with INVALID_TOKEN", async () => {
    const token = await sign({ ipphone: '5000', expired: '2026-12-31 23:59:59' }, OTHER_KEY);
    const refusal = await refusalOf(verifyCrmToken(token, acme, NOW));
    expect(refusal).toMatchObject({ code: 'INVALID_TOKEN', message: 'token signature is not valid' });
    await expect(verifyCrmToken(token, registry.domain('other'), NOW)).resolves.toMatchObject({
      ipphone: '5000',
    });
  });

  it('refuses a token whose payload was changed after signing', async () => {
    const [header, , signature] = (await sign({ ipphone: '5000', exp: NOW_S + 60 })).split('.');
    const forged = `${header}.${b64url(JSON.stringify({ ipphone: '5001', exp: NOW_S + 60 }))}.${signature}`;
    await expect(refusalOf(verifyCrmToken(forged, acme, NOW))).resolves.toMatchObject({
      code: 'INVALID_TOKEN',
    });
  });

  it('refuses an expired that is past in Asia/Ho_Chi_Minh with TOKEN_EXPIRED', async () => {
    const token = await sign({ ipphone: '5000', expired: '2017-07-30 00:00:00' });
    const refusal = await refusalOf(verifyCrmToken(token, acme, NOW));
    expect(refusal).toMatchObject({
      code: 'TOKEN_EXPIRED',
      message: 'token has expired (expired is past in Asia/Ho_Chi_Minh)',
    });
  });

  it('applies the time zone: 16:00 is past at 17:00 in UTC+7 though not yet past in UTC', async () => {
    // NOW is 10:00 UTC = 17:00 UTC+7. Read as UTC, "16:00" would still be six hours away.
    const past = await sign({ ipphone: '5000', expired: '2026-07-01 16:00:00' });
    await expect(refusalOf(verifyCrmToken(past, acme, NOW))).resolves.toMatchObject({
      code: 'TOKEN_EXPIRED',
    });
    const future = await sign({ ipphone: '5000', expired: '2026-07-01 17:00:01' });
    await expect(verifyCrmToken(future, acme, NOW)).resolves.toMatchObject({
      expiresAt: new Date('2026-07-01T10:00:01Z'),
    });
  });

  it('reads expired in the time zone of the domain it is verified for', async () => {
    const token = await sign({ ipphone: '5000', expired: '2026-07-01 12:00:00' });
    const newYork: DomainConfig = { ...acme, timezone: 'America/New_York' };
    await expect(verifyCrmToken(token, newYork, NOW)).resolves.toMatchObject({
      expiresAt: new Date('2026-07-01T16:00:00Z'),
    });
  });

  it.each<[string, unknown, string]>([
    ['local time, domain zone', '2026-07-01 18:00:00', '2026-07-01T11:00:00.000Z'],
    ['ISO 8601 with Z and milliseconds', '2026-07-01T11:00:00.157Z', '2026-07-01T11:00:00.157Z'],
    ['ISO 8601 with an offset', '2026-07-01T20:00:00+09:00', '2026-07-01T11:00:00.000Z'],
    ['ISO 8601 with a compact offset', '2026-07-01T06:00:00-0500', '2026-07-01T11:00:00.000Z'],
    ['ISO 8601 without offset, domain zone', '2026-07-01T18:00:00', '2026-07-01T11:00:00.000Z'],
    ['ISO 8601 without seconds', '2026-07-01T18:00', '2026-07-01T11:00:00.000Z'],
    ['epoch seconds (number)', NOW_S + 3600, '2026-07-01T11:00:00.000Z'],
    ['epoch seconds (string)', String(NOW_S + 3600), '2026-07-01T11:00:00.000Z'],
  ])('accepts expired as %s', async (_form, expired, at) => {
    const claims = await verifyCrmToken(await sign({ ipphone: '5000', expired }), acme, NOW);
    expect(claims.expiresAt.toISOString()).toBe(at);
  });

  it.each<[string, unknown]>([
    ['day-first local time', '31/12/2026 23:59:59'],
    ['an impossible local date', '2026-02-30 00:00:00'],
    ['hour 24', '2026-12-31 24:00:00'],
    ['a date without a time', '2026-12-31'],
    ['an ISO date with a bad offset', '2026-12-31T23:59:59+25:00'],
    ['an impossible ISO date', '2026-13-01T00:00:00Z'],
    ['ISO garbage after the time', '2026-12-31T23:59:59Zjunk'],
    ['epoch milliseconds', (NOW_S + 3600) * 1000],
    ['epoch milliseconds as text', String((NOW_S + 3600) * 1000)],
    ['a negative epoch', -5],
    ['a non-numeric string', 'tomorrow'],
    ['a boolean', true],
    ['an object', { at: '2026-12-31 23:59:59' }],
    ['a huge string', '9'.repeat(500)],
  ])('refuses expired as %s with INVALID_TOKEN', async (_form, expired) => {
    const refusal = await refusalOf(verifyCrmToken(await sign({ ipphone: '5000', expired }), acme, NOW));
    expect(refusal.code).toBe('INVALID_TOKEN');
    expect(refusal.message).toMatch(/^token expired claim /);
  });

  it('refuses an exp past year 9999 (epoch milliseconds, 1e20) with INVALID_TOKEN, never a crash', async () => {
    for (const exp of [(NOW_S + 3600) * 1000, 1e20]) {
      await expect(
        refusalOf(verifyCrmToken(await sign({ ipphone: '5000', exp }), acme, NOW)),
      ).resolves.toMatchObject({
        code: 'INVALID_TOKEN',
        message: 'token exp claim is out of range: it must be epoch seconds',
      });
    }
  });

  it('honours a bounded clock skew: 60 s past expiry is accepted (until the margin ends), 61 s is not', async () => {
    const justPast = await sign({ ipphone: '5000', exp: NOW_S - 30 });
    await expect(verifyCrmToken(justPast, acme, NOW)).resolves.toMatchObject({
      expiresAt: new Date((NOW_S + 30) * 1000),
    });
    const localPast = await sign({ ipphone: '5000', expired: '2026-07-01 16:59:30' });
    await expect(verifyCrmToken(localPast, acme, NOW)).resolves.toMatchObject({ ipphone: '5000' });
    const tooOld = await sign({ ipphone: '5000', exp: NOW_S - 61 });
    await expect(refusalOf(verifyCrmToken(tooOld, acme, NOW))).resolves.toMatchObject({
      code: 'TOKEN_EXPIRED',
    });
  });

  it('ignores extra header fields ("algorithm" next to alg) but keeps alg pinned to HS256', async () => {
    const header = { alg: 'HS256', typ: 'JWT', algorithm: 'HS256', kid: 'crm-1' };
    const token = mintWithOpenssl(header, { ipphone: '401_202', expired: '2026-07-01 18:00:00' }, ACME_KEY);
    const claims = await verifyCrmToken(token, acme, NOW);
    expect(claims.ipphone).toBe('401_202');
    const hs512 = mintWithOpenssl({ alg: 'HS512', algorithm: 'HS256' }, { ipphone: '5000' }, ACME_KEY);
    await expect(refusalOf(verifyCrmToken(hs512, acme, NOW))).resolves.toMatchObject({
      code: 'INVALID_TOKEN',
    });
  });

  it('refuses an exp in the past with TOKEN_EXPIRED', async () => {
    const token = await sign({ ipphone: '5000', exp: NOW_S - 61 }); // past the 60 s clock skew
    await expect(refusalOf(verifyCrmToken(token, acme, NOW))).resolves.toMatchObject({
      code: 'TOKEN_EXPIRED',
    });
  });

  it('takes the earlier of exp and expired', async () => {
    const expEarlier = await sign({ ipphone: '5000', exp: NOW_S + 60, expired: '2026-12-31 23:59:59' });
    await expect(verifyCrmToken(expEarlier, acme, NOW)).resolves.toMatchObject({
      expiresAt: new Date((NOW_S + 60) * 1000),
    });
    const expiredEarlier = await sign({
      ipphone: '5000',
      exp: NOW_S + 86_400,
      expired: '2026-07-01 18:00:00',
    });
    await expect(verifyCrmToken(expiredEarlier, acme, NOW)).resolves.toMatchObject({
      expiresAt: new Date('2026-07-01T11:00:00Z'),
    });
    const expiredPast = await sign({ ipphone: '5000', exp: NOW_S + 86_400, expired: '2026-07-01 16:58:00' }); // past the skew
    await expect(refusalOf(verifyCrmToken(expiredPast, acme, NOW))).resolves.toMatchObject({
      code: 'TOKEN_EXPIRED',
    });
  });

  it('gives a token with neither expired nor exp the default lifetime from iat, or from now', async () => {
    await expect(verifyCrmToken(await sign({ ipphone: '5000' }), acme, NOW)).resolves.toEqual({
      ipphone: '5000',
      expiresAt: new Date(NOW.getTime() + 86_400_000),
    });
    await expect(
      verifyCrmToken(await sign({ ipphone: '5000', iat: NOW_S - 3600 }), acme, NOW),
    ).resolves.toMatchObject({
      expiresAt: new Date((NOW_S - 3600 + 86_400) * 1000),
    });
    // an iat in the future counts as now: the token cannot outlive the lifetime from today
    await expect(
      verifyCrmToken(await sign({ ipphone: '5000', iat: NOW_S + 10 ** 9 }), acme, NOW),
    ).resolves.toMatchObject({
      expiresAt: new Date(NOW.getTime() + 86_400_000),
    });
  });

  it('treats an empty or null expired as absent, as a PHP CRM may send it', async () => {
    for (const expired of ['', null]) {
      await expect(
        verifyCrmToken(await sign({ ipphone: '5000', expired }), acme, NOW),
      ).resolves.toMatchObject({
        expiresAt: new Date(NOW.getTime() + 86_400_000),
      });
    }
  });

  it('refuses a token with neither expired nor exp whose iat is older than the lifetime', async () => {
    const token = await sign({ ipphone: '5000', iat: NOW_S - 86_400 });
    await expect(refusalOf(verifyCrmToken(token, acme, NOW))).resolves.toMatchObject({
      code: 'TOKEN_EXPIRED',
    });
  });

  it("uses the domain's tokenLifetimeSeconds", async () => {
    const shortLived = new DomainRegistry(domainsFile(600)).domain('acme');
    await expect(verifyCrmToken(await sign({ ipphone: '5000' }), shortLived, NOW)).resolves.toMatchObject({
      expiresAt: new Date(NOW.getTime() + 600_000),
    });
  });

  it('refuses a token that is not valid yet (nbf) with INVALID_TOKEN', async () => {
    const token = await sign({ ipphone: '5000', nbf: NOW_S + 120 }); // past the 60 s clock skew
    await expect(refusalOf(verifyCrmToken(token, acme, NOW))).resolves.toMatchObject({
      code: 'INVALID_TOKEN',
    });
  });

  it('refuses a token without ipphone, or with one not safe as an agent id, with INVALID_TOKEN', async () => {
    await expect(
      refusalOf(verifyCrmToken(await sign({ expired: '2026-12-31 23:59:59' }), acme, NOW)),
    ).resolves.toMatchObject({
      code: 'INVALID_TOKEN',
      message: 'token has no ipphone claim',
    });
    for (const ipphone of [
      '50@0',
      '5000;transport=tcp',
      '50 00',
      ' 5000',
      'x'.repeat(200),
      '',
      -5000,
      50.5,
      ['5000'],
      { id: '5000' },
    ]) {
      await expect(refusalOf(verifyCrmToken(await sign({ ipphone }), acme, NOW))).resolves.toMatchObject({
        code: 'INVALID_TOKEN',
        message: expect.stringMatching(
          /^token ipphone claim must be the agent's id: 1 to 64 letters/,
        ) as unknown,
      });
    }
  });

  it('accepts ipphones of letters, digits, _, - and . (401_202, agent.7, A-1)', async () => {
    for (const ipphone of ['401_202', '284_284', 'agent.7', 'A-1', 'x'.repeat(64)]) {
      await expect(verifyCrmToken(await sign({ ipphone }), acme, NOW)).resolves.toMatchObject({ ipphone });
    }
  });

  it.each([
    ['empty', '', 'token is missing'],
    ['garbage', 'garbage', 'token is malformed: not a compact JWT (header.payload.signature)'],
    ['four parts', 'a.b.c.d', 'token is malformed: not a compact JWT (header.payload.signature)'],
    [
      'a header that is not JSON',
      'bm90LWpzb24.e30.c2ln',
      'token is malformed: its header is not base64url-encoded JSON',
    ],
    ['longer than 8 KB', `${'a'.repeat(4096)}.${'b'.repeat(4096)}.c`, 'token is longer than 8192 bytes'],
  ])('refuses %s with INVALID_TOKEN', async (_name, token, message) => {
    await expect(refusalOf(verifyCrmToken(token, acme, NOW))).resolves.toMatchObject({
      code: 'INVALID_TOKEN',
      message,
    });
  });

  it('refuses a payload that is not JSON with INVALID_TOKEN', async () => {
    for (const payload of ['{oops', '"a string"', '[1]']) {
      const token = mintWithOpenssl({ alg: 'HS256' }, payload, ACME_KEY);
      await expect(refusalOf(verifyCrmToken(token, acme, NOW))).resolves.toMatchObject({
        code: 'INVALID_TOKEN',
      });
    }
  });

  it('does not check that the agent exists', async () => {
    await expect(verifyCrmToken(await sign({ ipphone: '9999' }), acme, NOW)).resolves.toMatchObject({
      ipphone: '9999',
    });
  });
});

describe('authenticateCrmLogin()', () => {
  it('returns the domain, the agent and the expiry', async () => {
    const login = await authenticateCrmLogin(
      registry,
      'acme',
      await sign({ ipphone: '5001', exp: NOW_S + 60 }),
      NOW,
    );
    expect(login.domain.name).toBe('acme');
    expect(login.agent.name).toBe('Agent 5001');
    expect(login.expiresAt).toEqual(new Date((NOW_S + 60) * 1000));
  });

  it('refuses an unknown domain with DOMAIN_NOT_FOUND and an unknown agent with AGENT_NOT_FOUND', async () => {
    const token = await sign({ ipphone: '5999' });
    await expect(refusalOf(authenticateCrmLogin(registry, 'nope', token, NOW))).resolves.toMatchObject({
      code: 'DOMAIN_NOT_FOUND',
    });
    await expect(refusalOf(authenticateCrmLogin(registry, 'acme', token, NOW))).resolves.toMatchObject({
      code: 'AGENT_NOT_FOUND',
    });
  });

  it('checks the signature before the agent, so that agents cannot be enumerated', async () => {
    const token = await sign({ ipphone: '5999' }, OTHER_KEY);
    await expect(refusalOf(authenticateCrmLogin(registry, 'acme', token, NOW))).resolves.toMatchObject({
      code: 'INVALID_TOKEN',
    });
  });
});

describe('verifyCrmToken() with the default maximum lifetime (3 days)', () => {
  const capped = validateDomainsFile(
    {
      domains: {
        acme: {
          accessKey: ACME_KEY,
          apiKeys: ['api-key-0123456789abcdef'],
          allowedOrigins: ['*'],
          timezone: 'UTC',
          pbx: { wsUri: 'ws://127.0.0.1:5066', sipDomain: '127.0.0.1', mobilePrefix: '' },
          agents: { '5000': { name: 'A', sip: { user: '5000', password: 'p' }, defaultDevice: 1 } },
        },
      },
    },
    'test',
  ).domains.acme!;

  it.each([
    ['expired 9999-12-31', { expired: '9999-12-31 23:59:59' }],
    ['exp in milliseconds', { exp: NOW_S * 1000 }],
    ['an absurd exp', { exp: 1e300 }],
    ['exp a week ahead', { exp: NOW_S + 7 * 86_400 }],
  ])('refuses %s with INVALID_TOKEN (401), not a 500', async (_, claims) => {
    const token = await sign({ ipphone: '5000', ...claims });
    await expect(refusalOf(verifyCrmToken(token, capped, NOW))).resolves.toMatchObject({
      code: 'INVALID_TOKEN',
    });
  });

  it('accepts a token the CRM signed with its clock a little behind (exp 30 s past)', async () => {
    const token = await sign({ ipphone: '5000', exp: NOW_S - 30 });
    await expect(verifyCrmToken(token, capped, NOW)).resolves.toMatchObject({
      expiresAt: new Date((NOW_S + 30) * 1000),
    });
  });
});
