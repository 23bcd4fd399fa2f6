import type { RunningGateway } from '../apps/gateway/src/app.js';
import { crmToken, login, startGateway } from './support/gateway.js';
import { startRedis, type RedisServer } from './support/redis-server.js';
import { eventually, Tab } from './support/tabs.js';
import { acmeServed, type TenantsFile, writeTenants } from './support/tenants.js';

/**
 * Quotas counted across instances: two gateways on one real redis-server share the login counts
 * (per address, per domain) and the per-agent command count; with Redis gone a count falls back
 * to the instance's own counter, so nobody is locked out and nothing throws.
 */
describe('cluster-wide quotas (redis coordination, two instances)', () => {
  let redis: RedisServer;
  let a: RunningGateway;
  let b: RunningGateway;
  let tenants: TenantsFile;
  const opened: Tab[] = [];

  const loginStatus = async (
    url: string,
    domain = 'demo',
    ipphone = '5000',
  ): Promise<{ status: number; error?: string }> => {
    const res = await fetch(`${url}/${domain}/thirdParty/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: await crmToken(ipphone, {}, domain, tenants.path) }),
    });
    const body = (await res.json()) as { error?: string };
    return { status: res.status, ...(body.error === undefined ? {} : { error: body.error }) };
  };

  beforeAll(async () => {
    redis = await startRedis();
    tenants = writeTenants({
      demoExtra: '    quotas: { loginsPerMinutePerAddress: 5 }',
      acmeExtra: '    quotas: { commandsPerSecond: 100, commandsPerSecondPerAgent: 6 }',
    });
    const prefix = `cluster-quotas-${Date.now()}:`;
    const options = { redisUrl: redis.url, configPath: tenants.path, keyPrefix: prefix };
    a = await startGateway({ ...options, instanceId: 'qa' });
    b = await startGateway({ ...options, instanceId: 'qb' });
  });
  afterEach(async () => {
    for (const tab of opened.splice(0)) {
      tab.close();
      await tab.waitForDisconnect();
    }
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    await redis.stop();
    tenants.remove();
  });

  it('commands of one agent count against one figure whichever instance its tabs are on', async () => {
    const token = await login(a.url, '7000', 'acme', tenants.path);
    const onA = await Tab.open(a.url, { domain: 'acme', token }, { origin: 'http://acme.test' });
    const onB = await Tab.open(b.url, { domain: 'acme', token }, { origin: 'http://acme.test' });
    opened.push(onA, onB);
    expect(onA.of('session.ready')).toHaveLength(1);
    expect(onB.of('session.ready')).toHaveLength(1);
    // 4 + 4 at once: each instance alone is under the agent's 6 per second, together they are not.
    const answers = await Promise.all(
      [onA, onB].flatMap((tab) => Array.from({ length: 4 }, () => tab.command('transfer.listAgents', {}))),
    );
    expect(answers.filter((x) => x.ok)).toHaveLength(6);
    expect(answers.filter((x) => !x.ok && x.code === 'RATE_LIMITED')).toHaveLength(2);
    expect(await acmeServed(a.url, tenants)).toBe(true);
  });

  it('logins from one address count across instances: the sixth, on either, is 429 RATE_LIMITED', async () => {
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await loginStatus(i % 2 === 0 ? a.url : b.url));
    expect(answers.map((x) => x.status)).toEqual([200, 200, 200, 200, 200, 429]);
    expect(answers[5]).toEqual({ status: 429, error: 'RATE_LIMITED' });
    expect(await loginStatus(a.url)).toEqual({ status: 429, error: 'RATE_LIMITED' });
    // The other tenant has its own counts.
    expect(await acmeServed(b.url, tenants)).toBe(true);
  });

  it('with Redis gone a login is not refused by its quota (the instance counts alone), then counts in Redis again', async () => {
    await redis.stop();
    // Redis holds this address's exhausted count; without it the instance's own counter admits the
    // login, which then fails on the coordination store: 503, not 429 and not 500.
    expect(await loginStatus(a.url)).toEqual({ status: 503, error: 'COORDINATION_UNAVAILABLE' });
    expect((await fetch(`${b.url}/health`)).status).toBe(200);

    await redis.restart(); // empty: the address's count starts again
    // Each instance's client reconnects by itself, on its own back-off: wait (bounded) until a
    // login of the other tenant passes on both.
    for (const [name, gateway] of [['a', a] as const, ['b', b] as const]) {
      await eventually(
        async () => ((await loginStatus(gateway.url, 'acme', '7000')).status === 200 ? true : undefined),
        20_000,
        `instance ${name} back on Redis`,
        250,
      );
    }
    expect(await loginStatus(b.url)).toEqual({ status: 200 });
    expect(await acmeServed(a.url, tenants)).toBe(true);
  });
});
