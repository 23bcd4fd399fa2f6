import { Redis } from 'ioredis';
import type { RunningGateway } from '../apps/gateway/src/app.js';
import { login, startGateway } from './support/gateway.js';
import { startRedis, type RedisServer } from './support/redis-server.js';
import { Tab } from './support/tabs.js';
import { acmeServed, DEMO_API_KEY, type TenantsFile, writeTenants } from './support/tenants.js';

/** Every string value held in Redis (strings, hashes, streams, sets), to search for secrets. */
async function everything(redis: Redis): Promise<{ keys: string[]; text: string }> {
  const keys = await redis.keys('*');
  const parts: string[] = [];
  for (const key of keys) {
    const type = await redis.type(key);
    if (type === 'string') parts.push((await redis.getBuffer(key))?.toString('latin1') ?? '');
    else if (type === 'hash') parts.push(JSON.stringify(await redis.hgetall(key)));
    else if (type === 'zset') parts.push(JSON.stringify(await redis.zrange(key, 0, -1)));
    else if (type === 'stream') {
      const entries = await redis.xrangeBuffer(key, '-', '+');
      for (const [, fields] of entries) parts.push(...fields.map((f) => f.toString('latin1')));
    }
  }
  return { keys, text: parts.join('\n') };
}

/** The SIP password and session tokens stay on the socket the instance owns: never in Redis. */
describe('secrets stay where they belong (redis coordination, two instances)', () => {
  let redis: RedisServer;
  let client: Redis;
  let a: RunningGateway;
  let b: RunningGateway;
  let tenants: TenantsFile;
  const prefix = `secrets-${Date.now()}:`;

  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url);
    tenants = writeTenants({ demoAgent: { '5003': '        allowedDevices: [2, 4]' } });
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
  afterAll(async () => {
    await a.close();
    await b.close();
    client.disconnect();
    await redis.stop();
    tenants.remove();
  });

  it('voice.sip and session.ready reach the voice tab, and neither the password nor the token is in Redis', async () => {
    const voice = await Tab.open(a.url, {
      domain: 'demo',
      token: await login(a.url, '5001', 'demo', tenants.path),
    });
    const other = await Tab.open(b.url, {
      domain: 'demo',
      token: await login(b.url, '5001', 'demo', tenants.path),
    });
    const backend = await Tab.open(b.url, { domain: 'demo', apiKey: DEMO_API_KEY }, { namespace: '/events' });
    try {
      const sip = await voice.nth('voice.sip', 1);
      expect(sip.data.password).toBe('demo-5001');
      const sessionToken = voice.of('session.ready')[0]?.data.sessionToken ?? '';
      expect(sessionToken).not.toBe('');
      // Events through the adapter still flow between the instances.
      expect(await other.command('agent.toggleCallStatus', {})).toMatchObject({ ok: true });
      await voice.nth('agent.callStatus', 1);
      await backend.waitFor((e) => e.type === 'agent.callStatus');
      expect(other.of('voice.sip')).toEqual([]);
      expect(backend.of('voice.sip')).toEqual([]);

      const { keys, text } = await everything(client);
      expect(keys.length).toBeGreaterThan(0);
      // Every key carries the prefix, the adapter's stream included.
      expect(keys.filter((k) => !k.startsWith(prefix))).toEqual([]);
      expect(keys).toContain(`${prefix}callgate:sio`);
      expect(text).not.toContain('demo-5001');
      expect(text).not.toContain(sessionToken);
    } finally {
      for (const tab of [voice, other, backend]) {
        tab.close();
        await tab.waitForDisconnect();
      }
    }
    expect(await acmeServed(a.url, tenants)).toBe(true);
  });

  it('a desk-phone agent cannot make itself a browser agent, and gets no SIP account', async () => {
    const tab = await Tab.open(a.url, {
      domain: 'demo',
      token: await login(a.url, '5003', 'demo', tenants.path),
    });
    try {
      expect(await tab.command('agent.setDevice', { type: 1 })).toMatchObject({
        ok: false,
        code: 'DEVICE_NOT_AVAILABLE',
      });
      expect(await tab.command('voice.enable', {})).toMatchObject({ ok: true });
      expect(tab.of('voice.sip')).toEqual([]);
    } finally {
      tab.close();
      await tab.waitForDisconnect();
    }
    expect(await acmeServed(b.url, tenants)).toBe(true);
  });
});
