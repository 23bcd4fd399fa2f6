// An owner that stalls past its lease (SIGSTOP) with a call up: the survivor claims the agent and
// ends the call INSTANCE_LOST; the stalled owner, resumed, still has the call and hears the
// customer hang up. Its `call.ended` must not reach anyone: the event append is conditional on
// its (stale) lease epoch, so the agent's tab and /events hear exactly one `call.ended`, and
// nothing of the call after it. Two gateway processes, one redis-server, the lab PBX.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { preferredInstance } from '@callgate/coordination';
import type { AnyEventEnvelope } from '@callgate/contracts';
import { startLab, type Lab } from '../apps/lab/src/lab.js';
import { spawnGateway, type GatewayProcess } from './support/gateway-process.js';
import { API_KEY, labDomainsYaml, MOBILE_PREFIX, rest } from './support/lab-gateway.js';
import { startRedis, type RedisServer } from './support/redis-server.js';
import { AgentTabs, Tab } from './support/tabs.js';

const LEASE_MS = 3_000;

/** A mode-4 agent that hashes to `gw-a` while `gw-a` and `gw-b` are alive. */
function agentOfA(): string {
  for (let ext = 7300; ; ext++)
    if (preferredInstance({ domain: 'demo', ipphone: String(ext) }, ['gw-a', 'gw-b']) === 'gw-a')
      return String(ext);
}

/** The events of one call as a subscriber heard them, in order. */
const ofCall = (events: readonly AnyEventEnvelope[], callId: string): AnyEventEnvelope[] =>
  events.filter((e) => e.callId === callId);

describe('an owner stalled past its lease with a call up', () => {
  const agent = agentOfA();
  let redis: RedisServer;
  let lab: Lab;
  let dir: string;
  const gws: GatewayProcess[] = [];
  const tabs = new AgentTabs(() => gws[1]?.url ?? '');

  beforeAll(async () => {
    redis = await startRedis();
    lab = await startLab({ mobilePrefix: MOBILE_PREFIX, customers: 1, ipPhones: [agent] });
    dir = mkdtempSync(join(tmpdir(), 'callgate-stalled-'));
    writeFileSync(join(dir, 'domains.yaml'), labDomainsYaml(lab.pbx.wsUri, {}, [{ ext: agent, device: 4 }]));
    for (const instanceId of ['gw-a', 'gw-b'])
      gws.push(
        await spawnGateway({
          instanceId,
          configPath: join(dir, 'domains.yaml'),
          redisUrl: redis.url,
          keyPrefix: 'stalled:',
          leaseMs: LEASE_MS,
        }),
      );
  }, 60_000);
  afterAll(async () => {
    await tabs.closeAll();
    await Promise.all(gws.map((g) => g.stop()));
    await lab?.close();
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('the survivor ends the call INSTANCE_LOST; the resumed owner publishes nothing more of it: one call.ended at the tab and at /events', async () => {
    const [a, b] = [gws[0]!, gws[1]!];
    await a.waitForLog(new RegExp(`demo/${agent}: registered`), 30_000);
    // Both subscribers on the survivor, so they hear whatever either instance publishes.
    const tab = await tabs.open(agent, { url: b.url });
    const backend = tabs.add(
      await Tab.open(b.url, { domain: 'demo', apiKey: API_KEY }, { namespace: '/events' }),
    );
    const customer = lab.bot('0901000001');
    const call = customer.call(agent);
    const accepted = await backend.waitFor(
      (e) => e.type === 'call.accepted' && e.ipphone === agent,
      15_000,
      'call.accepted',
    );
    const callId = accepted.callId!;

    a.signal('SIGSTOP');
    const lostEnd = await backend.waitFor(
      (e) => e.type === 'call.ended' && e.callId === callId,
      20_000,
      'call.ended INSTANCE_LOST',
    );
    expect(lostEnd.data).toMatchObject({ cause: 'INSTANCE_LOST', by: 'system' });
    // The customer hangs up while A is frozen: A hears the BYE as soon as it runs again, before
    // its next renewal can tell it the lease is gone, and tries to publish the call's end.
    await customer.hangup(call);
    a.signal('SIGCONT');
    await a.waitForLog(new RegExp(`demo/${agent}: .*dropping the line`), 15_000);

    // A later event of the agent, published by the survivor after A gave the line up: whatever A
    // stored was stored before it, so it is a bound for what the subscribers can still hear.
    const toggled = await rest(b, 'POST', `/v1/demo/agents/${agent}/status`);
    expect(toggled.status).toBe(200);
    await tab.waitFor((e) => e.type === 'agent.callStatus', 10_000, 'agent.callStatus');
    await backend.waitFor((e) => e.type === 'agent.callStatus', 10_000, 'agent.callStatus');
    // The log itself (what any subscriber resuming after the answer is replayed).
    const resumed = tabs.add(
      await Tab.open(
        b.url,
        { domain: 'demo', apiKey: API_KEY, lastEventId: accepted.id },
        { namespace: '/events' },
      ),
    );
    await resumed.waitFor((e) => e.type === 'agent.callStatus', 10_000, 'replayed agent.callStatus');

    const refusal = a
      .output()
      .split('\n')
      .find((line) => /refused: lease epoch \d+ is stale/.test(line));
    console.log(
      `stalled owner: ${refusal ?? "the resumed owner's late event was never sent (its renewal came first)"}`,
    );
    for (const [who, events] of [
      ['tab', tab.events],
      ['/events', backend.events],
      ['/events resumed', resumed.events],
    ] as const) {
      const heard = ofCall(events, callId).map((e) => e.type);
      const ended = heard.filter((type) => type === 'call.ended');
      expect({ who, ended: ended.length }).toEqual({ who, ended: 1 });
      expect({ who, last: heard.at(-1) }).toEqual({ who, last: 'call.ended' });
      const end = ofCall(events, callId).find((e) => e.type === 'call.ended');
      expect(end?.data).toMatchObject({ cause: 'INSTANCE_LOST' });
    }
  }, 120_000);
});
