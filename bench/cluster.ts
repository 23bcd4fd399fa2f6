/**
 * Several gateway instances (real processes on one redis-server):
 * - event delivery: one agent's event fanned out to TABS tabs spread over the instances, produced
 *   on the first instance; 3 instances against 1 (the baseline);
 * - failover: kill -9 of the owner of 20 mode-4 agents → each registered again by the survivor.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io, type Socket } from 'socket.io-client';
import { AGENT_NAMESPACE } from '@callgate/contracts';
import { preferredInstance } from '@callgate/coordination';
import { startLab } from '../apps/lab/src/lab.js';
import { DEMO_CONFIG, login } from '../test/support/gateway.js';
import { spawnGateway, type GatewayProcess } from '../test/support/gateway-process.js';
import { labDomainsYaml, MOBILE_PREFIX, rest } from '../test/support/lab-gateway.js';
import { startRedis, type RedisServer } from '../test/support/redis-server.js';
import type { BenchSection } from './run.js';
import { percentile } from './stats.js';

const TABS = 3_000;
const EVENTS = 200;
const RUNS = 3;
const FAILOVER_RUNS = 3;
const FAILOVER_AGENTS = 20;
/** the gateway's default (config.ts): the failover bound is measured as deployed */
const LEASE_MS = 5_000;

interface DeliveryRun {
  deliveriesPerSec: number;
  latencies: number[];
}

async function deliveryRun(redis: RedisServer, instances: number, run: number): Promise<DeliveryRun> {
  const prefix = `bench${instances}-${run}:`;
  const gws: GatewayProcess[] = [];
  const sockets: Socket[] = [];
  try {
    for (let i = 0; i < instances; i++) {
      gws.push(
        await spawnGateway({
          instanceId: `bench-${i}`,
          configPath: DEMO_CONFIG,
          redisUrl: redis.url,
          keyPrefix: prefix,
        }),
      );
    }
    const tokens = await Promise.all(gws.map((g) => login(g.url, '5001')));
    const received: number[][] = [];
    let connected = 0;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${connected}/${TABS} tabs connected`)), 120_000);
      for (let t = 0; t < TABS; t++) {
        const g = t % gws.length;
        const times: number[] = [];
        received.push(times);
        const socket = io(`${gws[g]!.url}${AGENT_NAMESPACE}`, {
          auth: { domain: 'demo', token: tokens[g] },
          transports: ['websocket'],
          reconnection: false,
          forceNew: true,
        });
        socket.on('agent.callStatus', () => times.push(performance.now()));
        socket.once('session.ready', () => {
          connected += 1;
          if (connected === TABS) {
            clearTimeout(timer);
            resolve();
          }
        });
        sockets.push(socket);
      }
    });
    const producer = gws[0]!;
    const sentAt: number[] = [];
    const started = performance.now();
    for (let e = 0; e < EVENTS; e++) {
      sentAt.push(performance.now());
      const res = await rest(producer, 'POST', '/v1/demo/agents/5001/status');
      if (res.status !== 200) throw new Error(`toggle: ${res.status}`);
    }
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('not every tab got every event')), 120_000);
      const check = (): void => {
        if (received.every((times) => times.length >= EVENTS)) {
          clearTimeout(timer);
          resolve();
        } else setTimeout(check, 20);
      };
      check();
    });
    const finished = Math.max(...received.map((times) => times[EVENTS - 1] ?? 0));
    const latencies = received.flatMap((times) => times.map((at, e) => at - (sentAt[e] ?? at)));
    return { deliveriesPerSec: (TABS * EVENTS) / ((finished - started) / 1000), latencies };
  } finally {
    for (const socket of sockets) socket.disconnect();
    await Promise.all(gws.map((g) => g.stop()));
  }
}

/** 20 agents that hash to `bench-a` when `bench-a` and `bench-b` are alive. */
function failoverAgents(): string[] {
  const agents: string[] = [];
  for (let ext = 7000; agents.length < FAILOVER_AGENTS; ext++) {
    if (preferredInstance({ domain: 'demo', ipphone: String(ext) }, ['bench-a', 'bench-b']) === 'bench-a')
      agents.push(String(ext));
  }
  return agents;
}

/** Milliseconds from kill -9 of the owner to each agent's registration by the survivor. */
async function failoverRun(redis: RedisServer, configPath: string, agents: readonly string[], run: number) {
  const spawn = (instanceId: string): Promise<GatewayProcess> =>
    spawnGateway({
      instanceId,
      configPath,
      redisUrl: redis.url,
      keyPrefix: `failover-${run}:`,
      leaseMs: LEASE_MS,
    });
  const a = await spawn('bench-a');
  const b = await spawn('bench-b');
  try {
    for (const ipphone of agents) await a.waitForLog(new RegExp(`demo/${ipphone}: registered`), 30_000);
    a.signal('SIGKILL');
    const killedAt = performance.now();
    // The agents hash to bench-a, so bench-b registers them only once it adopts them.
    return await Promise.all(
      agents.map(async (ipphone) => {
        await b.waitForLog(new RegExp(`demo/${ipphone}: registered`), 60_000);
        return performance.now() - killedAt;
      }),
    );
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
}

const fmt = (n: number): string => (n >= 100 ? n.toFixed(0) : n.toFixed(1));

export default async function clusterBench(): Promise<BenchSection> {
  const redis = await startRedis();
  const dir = mkdtempSync(join(tmpdir(), 'callgate-bench-cluster-'));
  try {
    const rows: string[] = [];
    const medians = new Map<number, number>();
    for (const instances of [1, 3]) {
      const runs: DeliveryRun[] = [];
      for (let run = 0; run < RUNS; run++) runs.push(await deliveryRun(redis, instances, run));
      const rates = runs.map((r) => r.deliveriesPerSec).sort((x, y) => x - y);
      const latencies = runs.flatMap((r) => r.latencies).sort((x, y) => x - y);
      const median = percentile(rates, 50);
      medians.set(instances, median);
      rows.push(
        `| ${instances} | ${TABS} | ${EVENTS} | ${fmt(median)} | ${fmt(percentile(latencies, 50))} | ${fmt(percentile(latencies, 99))} |`,
      );
    }
    const ratio = (medians.get(3) ?? 0) / (medians.get(1) ?? 1);

    const agents = failoverAgents();
    const lab = await startLab({ mobilePrefix: MOBILE_PREFIX, ipPhones: agents });
    const configPath = join(dir, 'domains.yaml');
    writeFileSync(
      configPath,
      labDomainsYaml(
        lab.pbx.wsUri,
        {},
        agents.map((ext) => ({ ext, device: 4 })),
      ),
    );
    const failovers: number[] = [];
    try {
      for (let run = 0; run < FAILOVER_RUNS; run++)
        failovers.push(...(await failoverRun(redis, configPath, agents, run)));
    } finally {
      await lab.close();
    }
    failovers.sort((x, y) => x - y);

    return {
      title: 'Several instances: event fan-out and failover',
      markdown: `Real gateway processes on one local redis-server (the streams adapter carries events between
instances). One agent's \`agent.callStatus\` event, produced by a REST command on the first instance
(sequential commands, as fast as they are answered), is delivered to ${TABS} WebSocket tabs of that
agent spread evenly over the instances; the tabs run in the benchmark process on the same 2 cores, so
they compete with the gateways for CPU. Throughput is deliveries per second (tabs × events ÷ time from
the first command to the last delivery), median of ${RUNS} runs; latency is from sending the command
to each delivery, over all deliveries of all runs.

| instances | tabs | events | deliveries/s | p50 latency (ms) | p99 latency (ms) |
| --- | --- | --- | --- | --- | --- |
${rows.join('\n')}

3 instances deliver **${ratio.toFixed(2)}×** the single instance's rate on this machine (with 2 cores
the three processes and the clients share the same CPUs; on separate machines each instance would
carry a third of the sockets).

**Failover** (LEASE_MS=${LEASE_MS}, ticks every third of it): kill -9 of the instance owning
${FAILOVER_AGENTS} mode-4 agents → each agent registered again by the surviving instance (its
"registered" log line), ${FAILOVER_RUNS} runs, ${failovers.length} samples: p50 **${fmt(percentile(failovers, 50))} ms**,
max **${fmt(percentile(failovers, 100))} ms**. The lease bounds it: expiry (≤ LEASE_MS after the last
renewal), then the survivor claims on the second tick that finds the agent without an owner (the
first lets a live owner write its lease back after a Redis restart), then one REGISTER: at most
LEASE_MS + 2 × LEASE_MS/3 ≈ 8.4 s plus the REGISTER with the default LEASE_MS=5000, inside the 10 s
goal. Cost in Redis: every tick (LEASE_MS/3 ≈ 1.67 s) each instance sends one heartbeat, one lease
renewal per server-side agent it owns, and a lock renewal and a presence refresh per voice tab:
**0.6 commands per server-side agent per second** and 1.2 per connected voice tab (0.2 and 0.4 with
the former default of 15000).`,
    };
  } finally {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
