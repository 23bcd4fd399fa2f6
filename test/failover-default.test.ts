// Failover with the default LEASE_MS (no override): kill -9 of the instance owning 20 mode-4
// agents, one of them in a call; each agent must be registered by the survivor, and the call must
// end INSTANCE_LOST, within 10 s.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { preferredInstance } from '@callgate/coordination';
import { startLab, type Lab } from '../apps/lab/src/lab.js';
import { spawnGateway, type GatewayProcess } from './support/gateway-process.js';
import { API_KEY, labDomainsYaml, MOBILE_PREFIX } from './support/lab-gateway.js';
import { startRedis, type RedisServer } from './support/redis-server.js';
import { Tab } from './support/tabs.js';

const BOUND_MS = 10_000;
const AGENTS = 20;

/** Agents that hash to `gw-a` while `gw-a` and `gw-b` are alive. */
function agentsOfA(): string[] {
  const agents: string[] = [];
  for (let ext = 7100; agents.length < AGENTS; ext++)
    if (preferredInstance({ domain: 'demo', ipphone: String(ext) }, ['gw-a', 'gw-b']) === 'gw-a')
      agents.push(String(ext));
  return agents;
}

describe('failover with the default lease', () => {
  const agents = agentsOfA();
  let redis: RedisServer;
  let lab: Lab;
  let dir: string;
  const gws: GatewayProcess[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    lab = await startLab({ mobilePrefix: MOBILE_PREFIX, customers: 1, ipPhones: agents });
    dir = mkdtempSync(join(tmpdir(), 'callgate-failover-'));
    writeFileSync(
      join(dir, 'domains.yaml'),
      labDomainsYaml(
        lab.pbx.wsUri,
        {},
        agents.map((ext) => ({ ext, device: 4 })),
      ),
    );
  }, 60_000);
  afterAll(async () => {
    await Promise.all(gws.map((g) => g.stop()));
    await lab?.close();
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it(`kill -9 of the owner: its agents are registered elsewhere and its call ends INSTANCE_LOST within ${BOUND_MS} ms`, async () => {
    const spawn = async (instanceId: string): Promise<GatewayProcess> => {
      const gw = await spawnGateway({
        instanceId,
        configPath: join(dir, 'domains.yaml'),
        redisUrl: redis.url,
      });
      gws.push(gw);
      return gw;
    };
    const a = await spawn('gw-a');
    const b = await spawn('gw-b');
    for (const ipphone of agents) await a.waitForLog(new RegExp(`demo/${ipphone}: registered`), 30_000);
    const backend = await Tab.open(b.url, { domain: 'demo', apiKey: API_KEY }, { namespace: '/events' });
    const inCall = agents[0]!;
    const customer = lab.bot('0901000001');
    const call = customer.call(inCall);
    const accepted = await backend.waitFor((e) => e.type === 'call.accepted' && e.ipphone === inCall, 15_000);

    a.signal('SIGKILL');
    const killedAt = performance.now();
    const registered = await Promise.all(
      agents.map(async (ipphone) => {
        await b.waitForLog(new RegExp(`demo/${ipphone}: registered`), 30_000);
        return performance.now() - killedAt;
      }),
    );
    await backend.waitFor((e) => e.type === 'call.ended' && e.callId === accepted.callId, 30_000);
    const endedMs = performance.now() - killedAt;
    backend.close();
    await customer.hangup(call);
    registered.sort((x, y) => x - y);
    console.log(
      `failover with the default lease: ${AGENTS} agents registered again after p50 ${registered[AGENTS / 2 - 1]?.toFixed(0)} ms, max ${registered.at(-1)?.toFixed(0)} ms; lost call ended after ${endedMs.toFixed(0)} ms`,
    );
    expect(registered.at(-1)).toBeLessThanOrEqual(BOUND_MS);
    expect(endedMs).toBeLessThanOrEqual(BOUND_MS);
  }, 120_000);
});
