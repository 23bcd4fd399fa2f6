import { Redis } from 'ioredis';
import type { RunningGateway } from '../apps/gateway/src/app.js';
import { login, startGateway } from './support/gateway.js';
import { startRedis, type RedisServer } from './support/redis-server.js';
import { Tab } from './support/tabs.js';

/**
 * Soak anomaly: just after a Redis restart, two tabs of one agent both believed they held voice.
 * The emptied Redis had no voice lock, so a tab connecting through another instance before the
 * holder's instance wrote its lock back was granted voice too, and nobody told the first tab.
 * Here that grant is written into Redis directly (the race is too narrow to hit on purpose): the
 * first tab must hear it lost voice.
 */
describe('voice lock granted again by an emptied Redis (two instances)', () => {
  let redis: RedisServer;
  let a: RunningGateway;
  let b: RunningGateway;
  const opened: Tab[] = [];
  const keyPrefix = `voice-reset-${Date.now()}:`;

  beforeAll(async () => {
    redis = await startRedis();
    a = await startGateway({ redisUrl: redis.url, instanceId: 'gw-a', keyPrefix });
    b = await startGateway({ redisUrl: redis.url, instanceId: 'gw-b', keyPrefix });
  }, 60_000);
  afterAll(async () => {
    for (const tab of opened) {
      tab.close();
      await tab.waitForDisconnect();
    }
    await a.close();
    await b.close();
    await redis.stop();
  });

  it('the tab that held voice hears {isEnable:false} with the new holder’s fence; only one tab holds voice', async () => {
    const first = await Tab.open(a.url, { domain: 'demo', token: await login(a.url, '5003') });
    opened.push(first);
    expect(first.of('session.ready')[0]?.data.isEnable).toBe(true);

    const second = await Tab.open(b.url, { domain: 'demo', token: await login(b.url, '5003') });
    opened.push(second);
    expect(second.of('session.ready')[0]?.data.isEnable).toBe(false);
    // What the emptied Redis then did for a tab connecting through gw-b: the lock granted to it,
    // from a fence counter started again (written directly: gw-a renews every third of the lease).
    const raw = new Redis(redis.url);
    try {
      const keys = await raw.keys(`${keyPrefix}voice:*`);
      expect(keys).toHaveLength(2); // the lock and its fence counter
      const lock = keys.find((k) => k.includes(':lock:')) ?? '';
      const fence = keys.find((k) => k.includes(':fence:')) ?? '';
      await raw.set(fence, '1');
      await raw.set(lock, JSON.stringify({ tabId: second.id, instanceId: 'gw-b', fence: 1 }), 'PX', 60_000);
    } finally {
      await raw.quit();
    }

    // gw-a's next renewal (a third of the voice lease) finds the lock granted again.
    const revoked = await first.waitFor(
      (e) => e.type === 'voice.changed' && e.data.isEnable === false,
      20_000,
      'voice.changed {isEnable:false}',
    );
    expect(revoked.data).toEqual({ isEnable: false, fence: 1 });
    expect(second.of('voice.changed').filter((e) => !e.data.isEnable)).toEqual([]);
  }, 60_000);
});
