import { compareEventIds } from '@callgate/contracts';
import type { RunningGateway } from '../apps/gateway/src/app.js';
import { login, startGateway } from './support/gateway.js';
import { startRedis, type RedisServer } from './support/redis-server.js';
import { Tab } from './support/tabs.js';
import { acmeServed, DEMO_API_KEY, type TenantsFile, writeTenants } from './support/tenants.js';

/**
 * One agent's burst cannot evict another agent's events: each agent's events also go to its own
 * partition of the log, which its tabs resume from. The domain log is made tiny (10) so the burst
 * certainly trims it; the quiet agent's tab still resumes with every event it missed, no resync.
 */
describe.each(['redis', 'memory'] as const)('the event log partitioned per agent (%s)', (mode) => {
  let redis: RedisServer | undefined;
  let a: RunningGateway;
  let b: RunningGateway;
  let tenants: TenantsFile;
  const opened: Tab[] = [];
  const FLOOD = 250;
  const SLOW = 240_000; // hundreds of commands one after the other on a loaded machine

  beforeAll(async () => {
    tenants = writeTenants({
      // the flood stays within the noisy agent's quotas
      demoExtra: '    quotas: { commandsPerSecond: 1000, commandsPerSecondPerAgent: 1000 }',
    });
    const env = { EVENT_LOG_MAX_LEN: '10', AGENT_LOG_MAX_LEN: '50' };
    if (mode === 'redis') {
      redis = await startRedis();
      const options = {
        redisUrl: redis.url,
        configPath: tenants.path,
        keyPrefix: `partition-${Date.now()}:`,
        env,
      };
      a = await startGateway({ ...options, instanceId: 'pa' });
      b = await startGateway({ ...options, instanceId: 'pb' });
    } else {
      a = await startGateway({ configPath: tenants.path, env });
      b = a;
    }
  });
  afterEach(async () => {
    for (const tab of opened.splice(0)) {
      tab.close();
      await tab.waitForDisconnect();
    }
  });
  afterAll(async () => {
    await a.close();
    if (b !== a) await b.close();
    await redis?.stop();
    tenants.remove();
  });

  it(
    'agent A floods, agent B’s tab resumes from its lastEventId with every event it missed',
    async () => {
      const quietToken = await login(a.url, '5002', 'demo', tenants.path);
      const quiet = await Tab.open(a.url, { domain: 'demo', token: quietToken });
      opened.push(quiet);
      expect(await quiet.command('agent.toggleCallStatus', {})).toMatchObject({ ok: true });
      const seen = await quiet.nth('agent.callStatus', 1, 10_000);
      quiet.close();
      await quiet.waitForDisconnect();

      // While B is away: two events for B (REST), then A's burst around them.
      const toggleB = async (): Promise<void> => {
        const res = await fetch(`${b.url}/v1/demo/agents/5002/status`, {
          method: 'POST',
          headers: { authorization: `Bearer ${DEMO_API_KEY}` },
        });
        expect(res.status).toBe(200);
      };
      const noisy = await Tab.open(b.url, {
        domain: 'demo',
        token: await login(b.url, '5001', 'demo', tenants.path),
      });
      opened.push(noisy);
      await toggleB();
      for (let i = 0; i < FLOOD; i++) {
        expect(await noisy.command('agent.toggleCallStatus', {})).toMatchObject({ ok: true });
        if (i === FLOOD / 2) await toggleB();
      }

      // The burst did push B's last seen event out of the domain log (what /events reads)...
      const domainLog = await fetch(`${a.url}/v1/demo/events?after=${seen.id}`, {
        headers: { authorization: `Bearer ${DEMO_API_KEY}` },
      });
      expect(((await domainLog.json()) as { gap: boolean }).gap).toBe(true);

      // ...but not out of B's partition: B resumes with both events, in order, and no resync.
      const back = await Tab.open(b.url, { domain: 'demo', token: quietToken, lastEventId: seen.id });
      opened.push(back);
      const ready = back.of('session.ready')[0];
      expect(ready?.data.resumed).toEqual({ replayed: 2 });
      const replayed = back.of('agent.callStatus');
      expect(replayed.map((e) => e.ipphone)).toEqual(['5002', '5002']);
      const flipped = seen.data.status === 'on' ? 'off' : 'on';
      expect(replayed.map((e) => e.data.status)).toEqual([flipped, seen.data.status]);
      expect(replayed.every((e) => compareEventIds(e.id, seen.id) > 0)).toBe(true);
      // Replayed before the session.ready that reports them.
      expect(back.events.map((e) => e.type).slice(0, 3)).toEqual([
        'agent.callStatus',
        'agent.callStatus',
        'session.ready',
      ]);
      expect(await acmeServed(a.url, tenants)).toBe(true);
    },
    SLOW,
  );

  it(
    'a tab that missed more of its own agent’s events than the partition keeps is told to resync',
    async () => {
      const token = await login(a.url, '5003', 'demo', tenants.path);
      const tab = await Tab.open(a.url, { domain: 'demo', token });
      opened.push(tab);
      expect(await tab.command('agent.toggleCallStatus', {})).toMatchObject({ ok: true });
      const seen = await tab.nth('agent.callStatus', 1, 10_000);
      tab.close();
      await tab.waitForDisconnect();
      // 250 events for this agent while away: its partition (50, trimmed by whole stream nodes in
      // Redis) no longer holds the last one it saw.
      for (let i = 0; i < 250; i++) {
        const res = await fetch(`${b.url}/v1/demo/agents/5003/status`, {
          method: 'POST',
          headers: { authorization: `Bearer ${DEMO_API_KEY}` },
        });
        expect(res.status).toBe(200);
      }
      const back = await Tab.open(b.url, { domain: 'demo', token, lastEventId: seen.id });
      opened.push(back);
      expect(back.of('session.ready')[0]?.data.resumed).toEqual({ resync: true });
      expect(back.of('agent.callStatus')).toHaveLength(0);
    },
    SLOW,
  );
});
