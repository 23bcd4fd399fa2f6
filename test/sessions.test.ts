import type { LoginResponse } from '@callgate/contracts';
import type { RunningGateway } from '../apps/gateway/src/app.js';
import { crmToken, startGateway } from './support/gateway.js';
import { startRedis, type RedisServer } from './support/redis-server.js';
import { Tab } from './support/tabs.js';
import { checkAgainstOpenApi } from './support/openapi.js';
import { acmeServed, ACME_API_KEY, DEMO_API_KEY, type TenantsFile, writeTenants } from './support/tenants.js';

/** Sessions end: on expiry, on logout (on every instance), and tokens beyond the domain's lifetime are refused. */
describe('sessions end (redis coordination, two instances)', () => {
  let redis: RedisServer;
  let a: RunningGateway;
  let b: RunningGateway;
  let tenants: TenantsFile;
  const opened: Tab[] = [];
  const nowS = (): number => Math.floor(Date.now() / 1000);
  const token = (ipphone: string, claims: Record<string, unknown> = {}) =>
    crmToken(ipphone, claims, 'demo', tenants.path);
  const loginWith = async (url: string, crm: string) => {
    const res = await fetch(`${url}/demo/thirdParty/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: crm }),
    });
    return { status: res.status, body: (await res.json()) as LoginResponse & { code: string } };
  };
  const open = async (url: string, sessionToken: string): Promise<Tab> => {
    const tab = await Tab.open(url, { domain: 'demo', token: sessionToken });
    opened.push(tab);
    return tab;
  };

  beforeAll(async () => {
    redis = await startRedis();
    tenants = writeTenants();
    const prefix = `sessions-${Date.now()}:`;
    a = await startGateway({
      redisUrl: redis.url,
      configPath: tenants.path,
      keyPrefix: prefix,
      instanceId: 'a',
    });
    b = await startGateway({
      redisUrl: redis.url,
      configPath: tenants.path,
      keyPrefix: prefix,
      instanceId: 'b',
    });
  });
  afterEach(async () => {
    for (const tab of opened.splice(0)) {
      tab.close();
      await tab.waitForDisconnect();
    }
    expect(await acmeServed(a.url, tenants)).toBe(true);
    expect(await acmeServed(b.url, tenants)).toBe(true);
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    await redis.stop();
    tenants.remove();
  });

  it('an open tab whose session expires gets session.error SESSION_EXPIRED and is closed', async () => {
    const login = await loginWith(a.url, await token('5001', { exp: nowS() + 3 }));
    expect(login.status).toBe(200);
    const tab = await open(a.url, login.body.user.token);
    expect(tab.of('session.ready')).toHaveLength(1);
    const error = await tab.nth('session.error', 1, 8000);
    expect(error.data.code).toBe('SESSION_EXPIRED');
    await tab.waitForDisconnect();
  });

  it('session.logout closes the agent’s tabs on every instance and voids its sessions and logins', async () => {
    const crm = await token('5000', { iat: nowS() - 5 });
    const login = await loginWith(a.url, crm);
    expect(login.status).toBe(200);
    const session = login.body.user.token;
    const onA = await open(a.url, session);
    const onB = await open(b.url, session);
    const other = await open(b.url, (await loginWith(b.url, await token('5001'))).body.user.token);

    expect(await onA.command('session.logout', {})).toEqual({ ok: true });
    await onA.waitForDisconnect();
    const ended = await onB.nth('session.error', 1);
    expect(ended.data.code).toBe('SESSION_EXPIRED');
    await onB.waitForDisconnect();
    // Another agent of the domain is untouched.
    expect(other.socket.connected).toBe(true);
    expect(await other.command('agent.toggleCallStatus', {})).toMatchObject({ ok: true });

    // The old session token and the old CRM token no longer open anything, on either instance.
    const again = await open(b.url, session);
    expect(again.of('session.error')[0]?.data.code).toBe('SESSION_EXPIRED');
    const crmTab = await Tab.open(a.url, { domain: 'demo', token: crm });
    opened.push(crmTab);
    expect(crmTab.of('session.error')[0]?.data.code).toBe('NOT_LOGGED_IN');
    expect(await loginWith(a.url, crm)).toMatchObject({
      status: 401,
      body: { code: 'errors', error: 'NOT_LOGGED_IN' },
    });

    // A token the CRM signs afterwards logs in (its clock a little ahead is within the skew).
    const fresh = await loginWith(b.url, await token('5000', { iat: nowS() + 2 }));
    expect(fresh.status).toBe(200);
    const back = await open(a.url, fresh.body.user.token);
    expect(back.of('session.ready')).toHaveLength(1);
  });

  it('POST /v1/{domain}/agents/{ipphone}/logout (REST) ends the agent’s sessions on every instance', async () => {
    const logout = async (url: string, domain: string, ipphone: string, key: string) => {
      const path = `/v1/${domain}/agents/${ipphone}/logout`;
      const res = await fetch(`${url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}` },
      });
      const body: unknown = await res.json();
      checkAgainstOpenApi('POST', path, res.status, body);
      return { status: res.status, body };
    };
    const crm = await token('5002', { iat: nowS() - 5 });
    const login = await loginWith(a.url, crm);
    expect(login.status).toBe(200);
    const session = login.body.user.token;
    const onA = await open(a.url, session);
    const onB = await open(b.url, session);
    const other = await open(a.url, (await loginWith(a.url, await token('5003'))).body.user.token);

    // Refused without the domain's key, with another domain's key, and for an unknown agent.
    expect((await logout(b.url, 'demo', '5002', ACME_API_KEY)).status).toBe(401);
    expect(await logout(b.url, 'demo', '9999', DEMO_API_KEY)).toMatchObject({
      status: 404,
      body: { code: 'AGENT_NOT_FOUND' },
    });
    expect(onA.socket.connected && onB.socket.connected).toBe(true);

    // Through instance b: the tabs on both instances are told and closed.
    expect(await logout(b.url, 'demo', '5002', DEMO_API_KEY)).toEqual({ status: 200, body: { ok: true } });
    for (const tab of [onA, onB]) {
      expect((await tab.nth('session.error', 1)).data.code).toBe('SESSION_EXPIRED');
      await tab.waitForDisconnect();
    }
    expect(other.socket.connected).toBe(true);
    expect(await other.command('agent.toggleCallStatus', {})).toMatchObject({ ok: true });

    // The old session token and CRM token are refused on either instance; a new token logs in.
    for (const url of [a.url, b.url]) {
      const again = await open(url, session);
      expect(again.of('session.error')[0]?.data.code).toBe('SESSION_EXPIRED');
      expect(await loginWith(url, crm)).toMatchObject({ status: 401, body: { error: 'NOT_LOGGED_IN' } });
    }
    const fresh = await loginWith(a.url, await token('5002', { iat: nowS() + 2 }));
    expect(fresh.status).toBe(200);
    expect((await open(b.url, fresh.body.user.token)).of('session.ready')).toHaveLength(1);
  });

  it.each([
    ['expired 9999-12-31', { expired: '9999-12-31 23:59:59' }],
    [
      'exp in milliseconds',
      {
        get exp() {
          return Date.now();
        },
      },
    ],
    ['an absurd exp', { exp: 1e300 }],
    [
      'exp a week ahead',
      {
        get exp() {
          return nowS() + 7 * 86_400;
        },
      },
    ],
  ])('a CRM token with %s is refused with 401 INVALID_TOKEN, never 500', async (_, claims) => {
    const res = await loginWith(a.url, await token('5000', { ...claims }));
    expect(res).toMatchObject({ status: 401, body: { code: 'errors', error: 'INVALID_TOKEN' } });
  });
});
