/**
 * A voice tab's call reports are applied in the order the tab sent them. A ringing report waits
 * for the agent's call status (a store read, a round trip with Redis); the accepted report that an
 * in-page phone sends at once for a transfer it had accepted used to overtake it: the gateway
 * adopted the call from the accepted report, then refused the ringing one (CALLOUT_AGENT_BUSY), so
 * the page never showed the caller (seen in demo.browser's transfer test on a loaded machine).
 */
import { randomUUID } from 'node:crypto';
import type { RunningGateway } from '../apps/gateway/src/app.js';
import { DEMO_API_KEY } from './support/tenants.js';
import { startGateway } from './support/gateway.js';
import { startRedis, type RedisServer } from './support/redis-server.js';
import { AgentTabs, Tab } from './support/tabs.js';

describe.each(['redis', 'memory'] as const)('call reports of a voice tab, back to back (%s)', (mode) => {
  let redis: RedisServer | undefined;
  let gateway: RunningGateway;
  const tabs = new AgentTabs(() => gateway.url);

  beforeAll(async () => {
    redis = mode === 'redis' ? await startRedis() : undefined;
    gateway = await startGateway(
      redis ? { redisUrl: redis.url, keyPrefix: `report-order-${Date.now()}:` } : {},
    );
  });
  afterEach(async () => {
    await tabs.closeAll();
  });
  afterAll(async () => {
    await gateway.close();
    await redis?.stop();
  });

  it('ringing, accepted and ended sent without waiting are all taken, and announced in that order', async () => {
    const tab = await tabs.open('5001');
    expect(tab.of('session.ready')[0]?.data.isEnable).toBe(true);
    const backend = tabs.add(
      await Tab.open(gateway.url, { domain: 'demo', apiKey: DEMO_API_KEY }, { namespace: '/events' }),
    );
    for (let round = 0; round < 5; round++) {
      const callId = `page-${randomUUID()}`;
      const answers = await Promise.all([
        tab.raw('call.report', { type: 'call.ringing', callId, data: { phone: '0901000009' } }),
        tab.raw('call.report', { type: 'call.accepted', callId, data: {} }),
        tab.raw('call.report', {
          type: 'call.ended',
          callId,
          data: { cause: 'NORMAL_CLEARING', by: 'customer' },
        }),
      ]);
      expect(answers).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
      await backend.waitFor((e) => e.type === 'call.ended' && e.callId === callId);
      expect(backend.events.filter((e) => e.callId === callId).map((e) => e.type)).toEqual([
        'call.ringing',
        'call.accepted',
        'call.ended',
      ]);
    }
  });
});
