// Rebalancing hands idle agents to an instance that joins; a line that relays a transferred
// customer to its target is not idle: it stays until that call ends, then moves like any other.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningGateway } from '../apps/gateway/src/app.js';
import { labTone, startLab, type Lab } from '../apps/lab/src/lab.js';
import { preferredInstance } from '@callgate/coordination';
import { startGateway } from './support/gateway.js';
import { labDomainsYaml, MOBILE_PREFIX, rest } from './support/lab-gateway.js';
import { startRedis, type RedisServer } from './support/redis-server.js';
import { eventually } from './support/tabs.js';

const IDS = ['gw-a', 'gw-b'] as const;

/** The first `count` extensions from 6100 on that hash to gw-b of the two instances. */
function hashingToB(count: number): string[] {
  const found: string[] = [];
  for (let ext = 6100; found.length < count; ext++) {
    if (preferredInstance({ domain: 'demo', ipphone: String(ext) }, IDS) === 'gw-b') found.push(String(ext));
  }
  return found;
}

describe('rebalancing to a joining instance while a transferred customer is relayed', () => {
  // `relaying` is listed before `idle`: by the time a sweep of gw-a hands `idle` over, it has weighed `relaying`.
  const [relaying, idle] = hashingToB(2) as [string, string];
  let redis: RedisServer;
  let lab: Lab;
  let dir: string;
  let a: RunningGateway | undefined;
  let b: RunningGateway | undefined;

  const ownerOf = async (via: RunningGateway, ipphone: string): Promise<string | undefined> => {
    const sip = (await rest(via, 'GET', `/v1/demo/agents/${ipphone}`)).body.sip as {
      registered: boolean;
      owner: string;
    } | null;
    return sip?.registered ? sip.owner : undefined;
  };

  beforeAll(async () => {
    redis = await startRedis();
    lab = await startLab({
      mobilePrefix: MOBILE_PREFIX,
      customers: 1,
      ipPhones: [relaying, idle],
      queues: ['1'],
    });
    dir = mkdtempSync(join(tmpdir(), 'callgate-rebalance-'));
    writeFileSync(
      join(dir, 'domains.yaml'),
      labDomainsYaml(lab.pbx.wsUri, {}, [
        { ext: relaying, device: 4 },
        { ext: idle, device: 4 },
      ]),
    );
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await lab.close();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the relaying line stays on gw-a while the idle one moves to gw-b; it moves once the customer hangs up', async () => {
    const options = {
      redisUrl: redis.url,
      keyPrefix: 'rebalance:',
      leaseMs: 3_000,
      configPath: join(dir, 'domains.yaml'),
    };
    a = await startGateway({ ...options, instanceId: 'gw-a' });
    const gwA = a;
    for (const ext of [relaying, idle]) {
      await eventually(
        async () => ((await ownerOf(gwA, ext)) === 'gw-a' ? true : undefined),
        15_000,
        `${ext} on gw-a`,
      );
    }

    const customer = lab.bot('0901000001');
    const leg = customer.call(relaying);
    await customer.hears({ call: leg, frequency: labTone('ipPhone', 0) });
    const callId = await eventually(async () => {
      const call = (await rest(gwA, 'GET', `/v1/demo/agents/${relaying}`)).body.call as {
        callId: string;
        state: string;
      } | null;
      return call?.state === 'active' ? call.callId : undefined;
    });
    const queued = lab.bot('queue1').waitFor('answered');
    const moved = await rest(gwA, 'POST', `/v1/demo/agents/${relaying}/calls/${callId}/transfer/queue`, {
      queueId: '1',
    });
    expect(moved.status).toBe(200);
    await queued;
    await customer.hears({ call: leg, frequency: labTone('queue', 0) });

    b = await startGateway({ ...options, instanceId: 'gw-b' });
    await eventually(
      async () => ((await ownerOf(gwA, idle)) === 'gw-b' ? true : undefined),
      20_000,
      `${idle} handed to gw-b`,
    );
    expect(await ownerOf(gwA, relaying)).toBe('gw-a');
    await customer.hears({ call: leg, frequency: labTone('queue', 0) });
    expect(leg.isTerminated).toBe(false);

    await customer.hangup(leg);
    await eventually(
      async () => ((await ownerOf(gwA, relaying)) === 'gw-b' ? true : undefined),
      20_000,
      `${relaying} handed to gw-b`,
    );
  });
});
