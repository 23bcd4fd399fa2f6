import { io } from 'socket.io-client';
import type { RunningGateway } from '../apps/gateway/src/app.js';
import { crmToken, login, startGateway } from './support/gateway.js';
import { Tab } from './support/tabs.js';
import { acmeServed, type TenantsFile, writeTenants } from './support/tenants.js';

/** Quotas per domain: logins, commands per socket, tabs per agent; the other tenant is unaffected. */
describe('quotas', () => {
  let gw: RunningGateway;
  let tenants: TenantsFile;
  const opened: Tab[] = [];

  beforeAll(async () => {
    tenants = writeTenants({
      demoExtra: '    quotas: { loginsPerMinutePerAddress: 5, commandsPerSecond: 5, tabsPerAgent: 2 }',
    });
    gw = await startGateway({ configPath: tenants.path });
  });
  afterEach(async () => {
    for (const tab of opened.splice(0)) {
      tab.close();
      await tab.waitForDisconnect();
    }
    expect(await acmeServed(gw.url, tenants)).toBe(true);
  });
  afterAll(async () => {
    await gw.close();
    tenants.remove();
  });

  it('a third tab of one agent is refused with TOO_MANY_TABS', async () => {
    const token = await login(gw.url, '5001', 'demo', tenants.path);
    for (let i = 0; i < 2; i++) {
      const tab = await Tab.open(gw.url, { domain: 'demo', token });
      opened.push(tab);
      expect(tab.of('session.ready')).toHaveLength(1);
    }
    const third = await Tab.open(gw.url, { domain: 'demo', token });
    opened.push(third);
    expect(third.of('session.error')[0]?.data.code).toBe('TOO_MANY_TABS');
    await third.waitForDisconnect();
  });

  it('a burst of commands from one socket is answered RATE_LIMITED; another socket is still served', async () => {
    const noisy = await Tab.open(gw.url, {
      domain: 'demo',
      token: await login(gw.url, '5002', 'demo', tenants.path),
    });
    const quiet = await Tab.open(gw.url, {
      domain: 'demo',
      token: await login(gw.url, '5003', 'demo', tenants.path),
    });
    opened.push(noisy, quiet);
    const answers = await Promise.all(
      Array.from({ length: 12 }, () => noisy.command('transfer.listAgents', {})),
    );
    const limited = answers.filter((a) => !a.ok && a.code === 'RATE_LIMITED');
    expect(answers.filter((a) => a.ok).length).toBeLessThanOrEqual(5);
    expect(limited.length).toBeGreaterThanOrEqual(7);
    expect(await quiet.command('agent.toggleCallStatus', {})).toMatchObject({ ok: true });
  });

  it('logins from one address past the quota are answered 429 RATE_LIMITED', async () => {
    const statuses: number[] = [];
    let body: unknown;
    for (let i = 0; i < 6 && !statuses.includes(429); i++) {
      const res = await fetch(`${gw.url}/demo/thirdParty/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token: await crmToken('5000', {}, 'demo', tenants.path) }),
      });
      statuses.push(res.status);
      body = await res.json();
    }
    expect(statuses.at(-1)).toBe(429);
    expect(body).toMatchObject({ code: 'errors', error: 'RATE_LIMITED' });
  });

  it('a socket on the default namespace is closed at once', async () => {
    const socket = io(gw.url, { transports: ['websocket'], reconnection: false, forceNew: true });
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('still connected')), 5000);
        socket.on('disconnect', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      expect(socket.connected).toBe(false);
    } finally {
      socket.close();
    }
  });
});
