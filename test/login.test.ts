import type { RunningGateway } from '../apps/gateway/src/app.js';
import { accessKey, crmToken, startGateway } from './support/gateway.js';
import { hs256ByOpenssl, localTime, rs256Token, unsignedToken } from './support/jwt.js';
import { join } from 'node:path';
import { projectRoot } from '../apps/gateway/src/config.js';

const TWO_DOMAINS = join(projectRoot(), 'test', 'fixtures', 'two-domains.yaml');

describe('POST /{domain}/thirdParty/login', () => {
  let gw: RunningGateway;
  let other: RunningGateway;

  beforeAll(async () => {
    gw = await startGateway();
    other = await startGateway({ configPath: TWO_DOMAINS });
  });
  afterAll(async () => {
    await gw.close();
    await other.close();
  });

  const post = async (
    target: RunningGateway,
    path: string,
    body: BodyInit,
    contentType?: string,
  ): Promise<{ status: number; body: Record<string, unknown> }> => {
    const res = await fetch(`${target.url}${path}`, {
      method: 'POST',
      ...(contentType ? { headers: { 'content-type': contentType } } : {}),
      body,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const loginJson = (token: unknown, domain = 'demo', target = gw) =>
    post(target, `/${domain}/thirdParty/login`, JSON.stringify({ token }), 'application/json');

  it('logs in with a JSON body and returns a gateway session token, not the CRM token', async () => {
    const token = await crmToken('5000');
    const res = await loginJson(token);
    expect(res.status).toBe(200);
    expect(res.body.code).toBe('ok');
    const user = res.body.user as Record<string, string>;
    expect(user).toMatchObject({ ipphone: '5000', domain: 'demo', user_id: 'demo/5000' });
    expect(user.token).not.toBe(token);
    expect(user.token?.split('.')).toHaveLength(3);
    const expiresIn = Date.parse(user.expiresAt ?? '') - Date.now();
    expect(expiresIn).toBeGreaterThan(0);
    expect(expiresIn).toBeLessThanOrEqual(8 * 3600 * 1000 + 1000);
  });

  it('logs in with a form-urlencoded body', async () => {
    const body = new URLSearchParams({ token: await crmToken('5001') }).toString();
    const res = await post(gw, '/demo/thirdParty/login', body, 'application/x-www-form-urlencoded');
    expect(res.status).toBe(200);
    expect((res.body.user as Record<string, string>).ipphone).toBe('5001');
  });

  it('logs in with a multipart body, as the 3C PHP demo posts it', async () => {
    const form = new FormData();
    form.set('token', await crmToken('5002'));
    const res = await post(gw, '/demo/thirdParty/login', form);
    expect(res.status).toBe(200);
    expect((res.body.user as Record<string, string>).ipphone).toBe('5002');
  });

  it('accepts a token signed by openssl, not by jose', async () => {
    const expired = localTime(new Date(Date.now() + 3600_000), 'Asia/Ho_Chi_Minh');
    const token = hs256ByOpenssl({ ipphone: '5000', expired }, accessKey());
    const res = await loginJson(token);
    expect(res.status).toBe(200);
  });

  it('applies the 3C expired claim in the domain timezone', async () => {
    // 30 minutes ago as Ho Chi Minh wall-clock time: read as UTC it would lie ~6.5 h ahead,
    // so only a gateway that applies the domain's zone refuses it.
    const expired = localTime(new Date(Date.now() - 30 * 60_000), 'Asia/Ho_Chi_Minh');
    const res = await loginJson(hs256ByOpenssl({ ipphone: '5000', expired }, accessKey()));
    expect(res).toMatchObject({ status: 401, body: { code: 'errors', error: 'TOKEN_EXPIRED' } });
  });

  it.each<[string, () => string, number, string]>([
    ['alg none', () => unsignedToken({ ipphone: '5000' }), 401, 'INVALID_TOKEN'],
    ['an RS256 header', () => rs256Token({ ipphone: '5000' }), 401, 'INVALID_TOKEN'],
    ['garbage', () => 'not-a-jwt', 401, 'INVALID_TOKEN'],
    ['three junk segments', () => 'a.b.c', 401, 'INVALID_TOKEN'],
    ['a wrong key', () => hs256ByOpenssl({ ipphone: '5000' }, 'x'.repeat(40)), 401, 'INVALID_TOKEN'],
    [
      'an expired exp',
      () => hs256ByOpenssl({ ipphone: '5000', exp: Math.floor(Date.now() / 1000) - 60 }, accessKey()),
      401,
      'TOKEN_EXPIRED',
    ],
    ['an unknown agent', () => hs256ByOpenssl({ ipphone: '7777' }, accessKey()), 404, 'AGENT_NOT_FOUND'],
    ['no ipphone', () => hs256ByOpenssl({ foo: 1 }, accessKey()), 401, 'INVALID_TOKEN'],
  ])('refuses %s', async (_name, make, status, code) => {
    const res = await loginJson(make());
    expect(res.status).toBe(status);
    // the shape CRMs test for: code "errors", callgate's precise code in error
    expect(res.body.code).toBe('errors');
    expect(res.body.error).toBe(code);
    expect(typeof res.body.message).toBe('string');
  });

  it("refuses a token signed with another domain's key", async () => {
    const token = hs256ByOpenssl({ ipphone: '100' }, accessKey('acme', TWO_DOMAINS));
    const res = await loginJson(token, 'globex', other);
    expect(res).toMatchObject({ status: 401, body: { code: 'errors', error: 'INVALID_TOKEN' } });
    const own = await loginJson(token, 'acme', other);
    expect(own.status).toBe(200);
  });

  it('refuses an unknown domain with 404 DOMAIN_NOT_FOUND', async () => {
    const res = await loginJson(await crmToken('5000'), 'nope');
    expect(res).toMatchObject({ status: 404, body: { code: 'errors', error: 'DOMAIN_NOT_FOUND' } });
  });

  it('refuses a body without a token with 400 INVALID_REQUEST', async () => {
    expect(await loginJson(undefined)).toMatchObject({
      status: 400,
      body: { code: 'errors', error: 'INVALID_REQUEST' },
    });
    expect(await loginJson(42)).toMatchObject({
      status: 400,
      body: { code: 'errors', error: 'INVALID_REQUEST' },
    });
  });

  it('refuses malformed JSON with 400 INVALID_REQUEST', async () => {
    const res = await post(gw, '/demo/thirdParty/login', '{"token": ', 'application/json');
    expect(res).toMatchObject({ status: 400, body: { code: 'errors', error: 'INVALID_REQUEST' } });
  });

  it('refuses an oversized body with 413 PAYLOAD_TOO_LARGE, in every encoding', async () => {
    const big = 'x'.repeat(64 * 1024);
    expect(await loginJson(big)).toMatchObject({
      status: 413,
      body: { code: 'errors', error: 'PAYLOAD_TOO_LARGE' },
    });
    const form = await post(
      gw,
      '/demo/thirdParty/login',
      `token=${big}`,
      'application/x-www-form-urlencoded',
    );
    expect(form).toMatchObject({ status: 413, body: { code: 'errors', error: 'PAYLOAD_TOO_LARGE' } });
    const multipart = new FormData();
    multipart.set('token', big);
    expect(await post(gw, '/demo/thirdParty/login', multipart)).toMatchObject({
      status: 413,
      body: { code: 'errors', error: 'PAYLOAD_TOO_LARGE' },
    });
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['an ipphone with @', { ipphone: '50@00' }, 'INVALID_TOKEN'],
    ['an ipphone with ;', { ipphone: '5000;transport=tcp' }, 'INVALID_TOKEN'],
    ['an ipphone with spaces', { ipphone: '50 00' }, 'INVALID_TOKEN'],
    ['an ipphone of 200 characters', { ipphone: '5'.repeat(200) }, 'INVALID_TOKEN'],
    ['a garbage local expired', { ipphone: '5000', expired: '2026-13-45 25:61:61' }, 'INVALID_TOKEN'],
    ['a garbage ISO expired', { ipphone: '5000', expired: '2026-01-01T00:00:00+99:00' }, 'INVALID_TOKEN'],
    ['expired in epoch milliseconds', { ipphone: '5000', expired: Date.now() + 3600_000 }, 'INVALID_TOKEN'],
    ['a garbage numeric expired', { ipphone: '5000', expired: '1e99' }, 'INVALID_TOKEN'],
    ['an absurd exp', { ipphone: '5000', exp: 1e20 }, 'INVALID_TOKEN'],
  ])('refuses %s with 401 and a precise code, never a 500', async (_name, claims, code) => {
    const res = await loginJson(hs256ByOpenssl(claims, accessKey()));
    expect(res).toMatchObject({ status: 401, body: { code: 'errors', error: code } });
  });

  it('accepts expired as ISO 8601 and as epoch seconds, and an ipphone check that allows 401_202-style ids', async () => {
    const iso = hs256ByOpenssl(
      { ipphone: '5000', expired: new Date(Date.now() + 3600_000).toISOString() },
      accessKey(),
    );
    expect((await loginJson(iso)).status).toBe(200);
    const epoch = hs256ByOpenssl(
      { ipphone: '5000', expired: Math.floor(Date.now() / 1000) + 3600 },
      accessKey(),
    );
    expect((await loginJson(epoch)).status).toBe(200);
    // a well-formed id the domain does not have: the precise code says so
    const unknown = hs256ByOpenssl({ ipphone: '401_202' }, accessKey());
    expect(await loginJson(unknown)).toMatchObject({
      status: 404,
      body: { code: 'errors', error: 'AGENT_NOT_FOUND' },
    });
  });

  it('keeps the {code, message} shape on every other route', async () => {
    const res = await fetch(`${gw.url}/v1/demo/agents`);
    expect(res.status).toBe(401);
    expect(((await res.json()) as Record<string, unknown>).code).toBe('UNAUTHORIZED');
  });

  it('keeps serving after refusals', async () => {
    expect((await loginJson(await crmToken('5003'))).status).toBe(200);
  });
});
