import { join } from 'node:path';
import { projectRoot } from '../apps/gateway/src/config.js';
import { DEMO_CONFIG, login } from './support/gateway.js';
import { type GatewayProcess, spawnGateway } from './support/gateway-process.js';
import { startRedis, type RedisServer } from './support/redis-server.js';
import { Tab } from './support/tabs.js';

const PRELOAD = join(projectRoot(), 'test', 'support', 'reject-on-signal.mjs');

/** A gateway process as operators run it (`dist/`, run `npm run build` first). */
describe('the last-resort guard', () => {
  let redis: RedisServer;
  let gateway: GatewayProcess;

  beforeAll(async () => {
    redis = await startRedis();
    gateway = await spawnGateway({
      instanceId: 'last-resort',
      configPath: DEMO_CONFIG,
      redisUrl: redis.url,
      keyPrefix: `last-resort-${Date.now()}:`,
      env: { NODE_OPTIONS: `--import ${PRELOAD}` },
    });
  });
  afterAll(async () => {
    await gateway.stop();
    await redis.stop();
  });

  /** Still the same process, still serving logins and tabs. */
  async function expectStillServing(): Promise<void> {
    const tab = await Tab.open(gateway.url, { domain: 'demo', token: await login(gateway.url, '5001') });
    try {
      expect(tab.of('session.ready')).toHaveLength(1);
    } finally {
      tab.close();
      await tab.waitForDisconnect();
    }
    const exited = await Promise.race([gateway.exited, Promise.resolve('running')]);
    expect(exited).toBe('running');
  }

  it('an unhandled rejection is logged and the process keeps serving', async () => {
    gateway.signal('SIGUSR2');
    const line = await gateway.waitForLog(/unhandled rejection, still serving/);
    expect(line).toContain('test: a rejection no handler caught');
    await expectStillServing();
  });

  it('an uncaught exception is logged and the process keeps serving', async () => {
    gateway.signal('SIGURG');
    const line = await gateway.waitForLog(/uncaught exception, still serving/);
    expect(line).toContain('test: an exception no handler caught');
    await expectStillServing();
  });
});
