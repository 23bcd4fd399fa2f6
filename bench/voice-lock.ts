// Voice-lock benchmark: latency of acquireIfFree and steal against a real redis-server (started
// here, on a free loopback port) and against the in-memory store, plus the number of Redis
// commands and round trips each voice-lock call costs, counted by the server (INFO commandstats).
import { Redis, type Command } from 'ioredis';
import { createCoordination, type AgentRef, type Coordination } from '@callgate/coordination';
import { startRedis, type RedisServer } from '../test/support/redis-server.js';
import { percentile } from './stats.js';

const OPS = 2_000;
const WARM_UP_OPS = 200;
const RUNS = 5;
const STEAL_AGENTS = 10;
const COUNTED_CALLS = 500;
/** Long enough that background renewal never runs inside a timed or counted window. */
const BENCH_LEASE_MS = 600_000;
/** The instance whose commands are counted; the store names its connection `callgate:<instanceId>`. */
const COUNTED_INSTANCE = 'bench-count';
const COUNTED_CONNECTION = `callgate:${COUNTED_INSTANCE}`;

type StoreKind = 'redis' | 'memory';
type Operation = 'acquireIfFree (granted)' | 'acquireIfFree (refused)' | 'steal';

interface Latency {
  p50: number;
  p99: number;
  opsPerSec: number;
}

interface Row extends Latency {
  store: StoreKind;
  operation: Operation;
}

interface CallCost {
  operation: string;
  commands: number;
  roundTrips: number;
}

export default async function voiceLockBench(): Promise<{ title: string; markdown: string }> {
  const server = await startRedis();
  try {
    const rows: Row[] = [];
    for (const store of ['redis', 'memory'] as const) rows.push(...(await measureStore(store, server)));
    const costs = await countCalls(server);
    const version = await redisVersion(server);
    return { title: 'Voice lock', markdown: render(rows, costs, version) };
  } finally {
    await server.stop();
  }
}

async function open(
  store: StoreKind,
  server: RedisServer,
  keyPrefix: string,
  instanceId = 'bench',
): Promise<Coordination> {
  return createCoordination({
    instanceId,
    keyPrefix,
    leaseMs: BENCH_LEASE_MS,
    ...(store === 'redis' ? { redisUrl: server.url } : {}),
  });
}

/** RUNS runs of OPS sequential calls per operation; each operation reports its median run (by p50). */
async function measureStore(store: StoreKind, server: RedisServer): Promise<Row[]> {
  const runs = new Map<Operation, Latency[]>();
  const record = (operation: Operation, latency: Latency): void => {
    runs.set(operation, [...(runs.get(operation) ?? []), latency]);
  };
  for (let run = 0; run < RUNS; run++) {
    const coordination = await open(store, server, `bench:${store}:${run}:`);
    try {
      const free = (i: number): AgentRef => ({ domain: 'bench.example', ipphone: `free-${i}` });
      const contested = (i: number): AgentRef => ({
        domain: 'bench.example',
        ipphone: `hot-${i % STEAL_AGENTS}`,
      });
      await timeCalls(WARM_UP_OPS, (i) => coordination.voice.steal(contested(i), `warm-${i}`));
      record(
        'acquireIfFree (granted)',
        await timeCalls(OPS, (i) => coordination.voice.acquireIfFree(free(i), `tab-${i}`)),
      );
      record(
        'acquireIfFree (refused)',
        await timeCalls(OPS, (i) => coordination.voice.acquireIfFree(free(i), `other-${i}`)),
      );
      record('steal', await timeCalls(OPS, (i) => coordination.voice.steal(contested(i), `tab-${i}`)));
    } finally {
      await coordination.close();
    }
  }
  return [...runs].map(([operation, latencies]) => ({ store, operation, ...medianRun(latencies) }));
}

async function timeCalls(count: number, call: (i: number) => Promise<unknown>): Promise<Latency> {
  const samples: number[] = [];
  const started = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    const t0 = process.hrtime.bigint();
    await call(i);
    samples.push(Number(process.hrtime.bigint() - t0) / 1_000);
  }
  const elapsedSec = Number(process.hrtime.bigint() - started) / 1e9;
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99), opsPerSec: count / elapsedSec };
}

function medianRun(latencies: readonly Latency[]): Latency {
  const sorted = [...latencies].sort((a, b) => a.p50 - b.p50);
  const median = sorted[Math.floor(sorted.length / 2)];
  if (median === undefined) throw new Error('voice-lock bench: no runs');
  return median;
}

/**
 * Round trips and Redis commands per call over COUNTED_CALLS sequential calls:
 *   - round trips: the commands the store's client sends, counted by wrapping ioredis'
 *     `sendCommand` for that connection only (calls are awaited one by one and none is
 *     pipelined, so each command sent is one round trip);
 *   - Redis commands: counted by the server (INFO commandstats), including those a Lua script
 *     runs inside Redis (GET, INCR, SET, DEL, PEXPIRE).
 */
async function countCalls(server: RedisServer): Promise<CallCost[]> {
  const sent: string[] = [];
  const proto = Redis.prototype as unknown as {
    sendCommand(this: Redis, command: Command, stream?: unknown): unknown;
  };
  const original = proto.sendCommand;
  proto.sendCommand = function (this: Redis, command: Command, stream?: unknown): unknown {
    if (this.options.connectionName === COUNTED_CONNECTION) sent.push(command.name);
    return original.call(this, command, stream);
  };
  const admin = new Redis(server.url, { lazyConnect: true });
  let coordination: Coordination | undefined;
  try {
    await admin.connect();
    coordination = await open('redis', server, 'bench:count:', COUNTED_INSTANCE);
    const voice = coordination.voice;
    const agent = (i: number): AgentRef => ({ domain: 'bench.example', ipphone: `count-${i}` });
    // The connection's first call of each script sends EVAL with its source; later ones EVALSHA.
    await voice.steal(agent(-1), 'warm');
    await voice.acquireIfFree(agent(-2), 'warm');
    await voice.release(agent(-1), 'warm');

    const costs: CallCost[] = [];
    const count = async (operation: string, call: (i: number) => Promise<unknown>): Promise<void> => {
      const before = await commandStats(admin);
      sent.length = 0;
      for (let i = 0; i < COUNTED_CALLS; i++) await call(i);
      const roundTrips = sent.length / COUNTED_CALLS;
      const after = await commandStats(admin);
      let commands = 0;
      for (const [name, calls] of after) if (name !== 'info') commands += calls - (before.get(name) ?? 0);
      costs.push({ operation, roundTrips, commands: commands / COUNTED_CALLS });
    };
    await count('acquireIfFree (granted)', (i) => voice.acquireIfFree(agent(i), `tab-${i}`));
    await count('acquireIfFree (refused)', (i) => voice.acquireIfFree(agent(i), `other-${i}`));
    await count('steal', (i) => voice.steal(agent(i), `thief-${i}`));
    await count('checkFence', (i) => voice.checkFence(agent(i), `thief-${i}`, 1));
    await count('holder', (i) => voice.holder(agent(i)));
    await count('release', (i) => voice.release(agent(i), `thief-${i}`));
    return costs;
  } finally {
    proto.sendCommand = original;
    await coordination?.close();
    await admin.quit();
  }
}

/** Calls per command name, from INFO commandstats ("cmdstat_<name>:calls=<n>,..."). */
async function commandStats(admin: Redis): Promise<Map<string, number>> {
  const info = await admin.info('commandstats');
  const stats = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    const [, name, calls] = match;
    if (name !== undefined && calls !== undefined) stats.set(name, Number(calls));
  }
  return stats;
}

async function redisVersion(server: RedisServer): Promise<string> {
  const admin = new Redis(server.url, { lazyConnect: true });
  await admin.connect();
  try {
    const info = await admin.info('server');
    return /^redis_version:(\S+)/m.exec(info)?.[1] ?? 'unknown';
  } finally {
    await admin.quit();
  }
}

function render(rows: readonly Row[], costs: readonly CallCost[], version: string): string {
  const us = (value: number): string => (value >= 100 ? value.toFixed(0) : value.toFixed(1));
  const lines = [
    `Sequential calls from one instance, ${OPS} per operation and run, median of ${RUNS} runs (by p50), ` +
      `after ${WARM_UP_OPS} warm-up steals. Redis ${version} on loopback, Node ${process.version}. ` +
      `Granted acquires use a fresh agent each; refused ones retry those agents from another tab; ` +
      `steals rotate over ${STEAL_AGENTS} agents. Background renewal is kept out of the timed window.`,
    '',
    '| store | operation | p50 (µs) | p99 (µs) | calls/s |',
    '| --- | --- | ---: | ---: | ---: |',
    ...rows.map(
      (row) =>
        `| ${row.store} | ${row.operation} | ${us(row.p50)} | ${us(row.p99)} | ${Math.round(row.opsPerSec)} |`,
    ),
    '',
    `Redis work per call over ${COUNTED_CALLS} sequential calls: round trips are the commands the ` +
      "store's client sent (ioredis `sendCommand` wrapped for that connection); Redis commands are " +
      'counted by the server (INFO commandstats) and include those run inside a Lua script.',
    '',
    '| operation | round trips per call | Redis commands per call |',
    '| --- | ---: | ---: |',
    ...costs.map((cost) => `| ${cost.operation} | ${fmt(cost.roundTrips)} | ${fmt(cost.commands)} |`),
  ];
  return `${lines.join('\n')}\n`;
}

function fmt(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}
