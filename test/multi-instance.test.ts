import { compareEventIds } from '@callgate/contracts';
import type { RunningGateway } from '../apps/gateway/src/app.js';
import { login, startGateway } from './support/gateway.js';
import { startRedis, type RedisServer } from './support/redis-server.js';
import { Tab } from './support/tabs.js';
import { type TenantsFile, writeTenants } from './support/tenants.js';

/**
 * Two gateway instances on ephemeral ports sharing one real redis-server: an agent's tabs may be
 * on either, and they must agree on voice, state and presence.
 */
describe('two gateway instances on one Redis', () => {
  let redis: RedisServer;
  let a: RunningGateway;
  let b: RunningGateway;
  let tenants: TenantsFile;
  const tabs: Tab[] = [];
  const open = async (gw: RunningGateway, ipphone: string): Promise<Tab> => {
    // Log in on one instance, connect on the other when asked: session tokens are shared.
    const tab = await Tab.open(gw.url, { domain: 'demo', token: await login(a.url, ipphone) });
    if (tab.of('session.error').length) throw new Error(JSON.stringify(tab.of('session.error')[0]?.data));
    tabs.push(tab);
    return tab;
  };

  beforeAll(async () => {
    redis = await startRedis();
    // the race opens 50 tabs for one agent, above the default tabsPerAgent quota (20)
    tenants = writeTenants({ demoExtra: '    quotas: { tabsPerAgent: 60 }' });
    const keyPrefix = `cg-test-${Date.now()}:`;
    const configPath = tenants.path;
    a = await startGateway({ redisUrl: redis.url, instanceId: 'gw-a', keyPrefix, configPath });
    b = await startGateway({ redisUrl: redis.url, instanceId: 'gw-b', keyPrefix, configPath });
  });
  afterEach(async () => {
    for (const tab of tabs.splice(0)) {
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

  it('voice moves between a tab on instance A and a tab on instance B, both hearing voice.changed', async () => {
    const onA = await open(a, '5000');
    const onB = await open(b, '5000');
    expect(onA.of('session.ready')[0]?.data).toMatchObject({ isEnable: true, otherTabs: 0 });
    expect(onB.of('session.ready')[0]?.data).toMatchObject({ isEnable: false, otherTabs: 1 });

    const toB = await onB.command('voice.enable', {});
    if (!toB.ok) throw new Error(toB.code);
    expect((await onA.nth('voice.changed', 1)).data).toEqual({ isEnable: false, fence: toB.fence });
    expect((await onB.nth('voice.changed', 1)).data).toEqual({ isEnable: true, fence: toB.fence });

    const toA = await onA.command('voice.enable', {});
    if (!toA.ok) throw new Error(toA.code);
    expect(toA.fence).toBeGreaterThan(toB.fence);
    expect((await onB.nth('voice.changed', 2)).data).toEqual({ isEnable: false, fence: toA.fence });
    expect((await onA.nth('voice.changed', 2)).data).toEqual({ isEnable: true, fence: toA.fence });
  });

  it('agent.setDevice on A is seen by the tab on B, and B reads the same state', async () => {
    const onA = await open(a, '5000');
    const onB = await open(b, '5000');
    expect(await onA.command('agent.setDevice', { type: 4 })).toEqual({ ok: true, type: 4 });
    expect((await onB.waitFor((e) => e.type === 'agent.device')).data).toEqual({ type: 4 });
    const late = await open(b, '5000');
    expect(late.of('session.ready')[0]?.data.deviceType).toBe(4);
    await late.command('agent.resetDevice', {});
  });

  it('transfer.listAgents on B sees an agent connected only to A', async () => {
    await open(a, '5001');
    const onB = await open(b, '5002');
    const ack = await onB.command('transfer.listAgents', {});
    if (!ack.ok) throw new Error(ack.code);
    expect(ack.agents.find((x) => x.ipphone === '5001')).toMatchObject({ online: true, tabs: 1 });
    expect(ack.agents.find((x) => x.ipphone === '5003')).toMatchObject({ online: false, tabs: 0 });
  });

  it('50 tabs on both instances race voice.enable: fences are unique and in fence order never two hold voice', async () => {
    const racers = await Promise.all(Array.from({ length: 50 }, (_, i) => open(i % 2 ? b : a, '5004')));
    const acks = await Promise.all(racers.map((tab) => tab.command('voice.enable', {})));
    const fences = acks.map((ack) => (ack.ok ? ack.fence : -1));
    expect(fences).not.toContain(-1);
    expect(new Set(fences).size).toBe(50);

    // Every grant but the last must be followed by exactly one loss notice to that tab.
    const last = Math.max(...fences);
    await Promise.all(
      racers.map((tab, i) =>
        fences[i] === last
          ? Promise.resolve()
          : tab.waitFor((e) => e.type === 'voice.changed' && !e.data.isEnable),
      ),
    );
    // With the Redis adapter a room emit is delivered after its Redis round trip, so an ack can
    // overtake its own voice.changed: wait for the winner's grant as well.
    await racers[fences.indexOf(last)]!.waitFor(
      (e) => e.type === 'voice.changed' && e.data.isEnable && e.data.fence === last,
    );
    // Replay every voice.changed of every tab in fence order: at most one holder at each step.
    const changes = racers.flatMap((tab, i) =>
      tab.of('voice.changed').map((e) => ({ tab: i, fence: e.data.fence, isEnable: e.data.isEnable })),
    );
    changes.sort((x, y) => x.fence - y.fence || Number(x.isEnable) - Number(y.isEnable));
    const holders = new Set<number>(
      racers.flatMap((tab, i) => (tab.of('session.ready')[0]?.data.isEnable ? [i] : [])),
    );
    expect(holders.size).toBeLessThanOrEqual(1);
    for (const change of changes) {
      if (change.isEnable) holders.add(change.tab);
      else holders.delete(change.tab);
      expect(holders.size).toBeLessThanOrEqual(1);
    }
    expect([...holders]).toEqual([fences.indexOf(last)]);
    const holder = await a.coordination.voice.holder({ domain: 'demo', ipphone: '5004' });
    expect(holder?.fence).toBe(last);
  });

  it('event ids only grow across instances', async () => {
    const onA = await open(a, '5000');
    const onB = await open(b, '5000');
    for (let i = 0; i < 10; i++) {
      await (i % 2 ? onA : onB).command('agent.toggleCallStatus', {});
    }
    const seen = await onA.nth('agent.callStatus', 10);
    const ids = onA.of('agent.callStatus').map((e) => e.id);
    expect(seen.data.status).toBe('on');
    expect(ids).toEqual([...ids].sort(compareEventIds));
    expect(new Set(ids).size).toBe(10);
  });
});
