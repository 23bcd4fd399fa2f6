/**
 * The cost of the security guards (DESIGN.md §11).
 *
 * 1. Through real gateways (child processes): login and command throughput with the quotas on and
 *    off (`QUOTAS=off`), in memory mode and in Redis mode (a real redis-server: the login and
 *    per-agent command counts are then cluster-wide, one Redis round trip each), side by side in
 *    one run. The four gateways run at once and are measured in turn, round after round, so the
 *    machine's load weighs on each alike; limits are high enough never to refuse.
 * 2. Per call, in this process: the command and login quotas (rate-limiter-flexible's memory
 *    store), the dial policy, the event-id bound, the caller-id normalisation and the
 *    token-lifetime step. Each is run N times in a tight loop; the median of 5 runs is reported.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import { io, type Socket } from 'socket.io-client';
import { AGENT_NAMESPACE } from '@callgate/contracts';
import { boundTokenLifetime } from '@callgate/auth';
import { checkDial, DEFAULT_DIAL_POLICY, normaliseCallerId } from '@callgate/call-core';
import { parseEventId } from '@callgate/contracts';
import { crmToken, login } from '../test/support/gateway.js';
import { spawnGateway, type GatewayProcess } from '../test/support/gateway-process.js';
import { startRedis } from '../test/support/redis-server.js';
import { writeTenants } from '../test/support/tenants.js';
import type { BenchSection } from './run.js';

const N = 200_000;
const REDIS_CALLS = 5_000;
const LOGINS = 200;
const LOGINS_IN_FLIGHT = 8;
const COMMANDS = 600;
const COMMANDS_IN_FLIGHT = 16;
const ROUNDS = 10; // the first is a warm-up

interface Variant {
  readonly store: 'memory' | 'redis';
  readonly quotas: 'on' | 'off';
  gateway?: GatewayProcess;
  readonly logins: number[];
  readonly commands: number[];
}

/** Runs `op` `total` times with `inFlight` at once; returns operations per second. */
async function throughput(
  total: number,
  inFlight: number,
  op: (i: number) => Promise<void>,
): Promise<number> {
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < total) await op(next++);
    }),
  );
  return (total * 1000) / (performance.now() - start);
}

async function loginRate(url: string, tokens: readonly string[]): Promise<number> {
  return throughput(LOGINS, LOGINS_IN_FLIGHT, async (i) => {
    const res = await fetch(`${url}/demo/thirdParty/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: tokens[i % tokens.length] }),
    });
    if (res.status !== 200) throw new Error(`login answered ${res.status}: ${await res.text()}`);
  });
}

async function commandRate(socket: Socket): Promise<number> {
  return throughput(COMMANDS, COMMANDS_IN_FLIGHT, async () => {
    const answer = (await socket.timeout(10_000).emitWithAck('transfer.listAgents', {})) as { ok: boolean };
    if (!answer.ok) throw new Error(`command refused: ${JSON.stringify(answer)}`);
  });
}

async function openTab(url: string, token: string): Promise<Socket> {
  const socket = io(`${url}${AGENT_NAMESPACE}`, {
    auth: { domain: 'demo', token },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no session.ready')), 10_000);
    socket.once('session.ready', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('session.error', (e: unknown) => {
      clearTimeout(timer);
      reject(new Error(`session.error ${JSON.stringify(e)}`));
    });
  });
  return socket;
}

const median = (xs: readonly number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
};

/** Login and command throughput through gateways with the quotas on and off, memory and Redis. */
async function throughputSection(): Promise<string> {
  const redis = await startRedis();
  const tenants = writeTenants({
    demoExtra: `    quotas: { loginsPerMinutePerAddress: 100000000, loginsPerMinute: 100000000, commandsPerSecond: 100000000, commandsPerSecondPerAgent: 100000000 }`,
  });
  const dataDir = mkdtempSync(join(tmpdir(), 'callgate-bench-guards-'));
  const variants: Variant[] = (['memory', 'redis'] as const).flatMap((store) =>
    (['off', 'on'] as const).map((quotas) => ({ store, quotas, logins: [], commands: [] })),
  );
  const sockets: Socket[] = [];
  try {
    for (const [i, variant] of variants.entries()) {
      variant.gateway = await spawnGateway({
        instanceId: `guards-${variant.store}-${variant.quotas}`,
        configPath: tenants.path,
        redisUrl: variant.store === 'redis' ? redis.url : '',
        keyPrefix: `guards-${i}:`,
        env: { QUOTAS: variant.quotas, DATA_DIR: join(dataDir, String(i)) },
        startTimeoutMs: 60_000,
      });
    }
    // Distinct tokens (a login remembers its token's digest), signed before the clock starts.
    const tokens = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        crmToken(String(5000 + (i % 4)), { jti: `b${i}` }, 'demo', tenants.path),
      ),
    );
    const tabs = new Map<Variant, Socket>();
    for (const variant of variants) {
      const url = variant.gateway?.url ?? '';
      const socket = await openTab(url, await login(url, '5001', 'demo', tenants.path));
      sockets.push(socket);
      tabs.set(variant, socket);
    }
    for (let round = 0; round < ROUNDS; round++) {
      // off then on, then on then off: neither is always measured first.
      const order = round % 2 === 0 ? variants : [...variants].reverse();
      for (const variant of order) {
        const url = variant.gateway?.url ?? '';
        const logins = await loginRate(url, tokens);
        const commands = await commandRate(tabs.get(variant) as Socket);
        if (round > 0) {
          variant.logins.push(logins);
          variant.commands.push(commands);
        }
      }
    }
  } finally {
    for (const socket of sockets) socket.close();
    await Promise.all(variants.map((v) => v.gateway?.stop() ?? Promise.resolve()));
    await redis.stop();
    tenants.remove();
    rmSync(dataDir, { recursive: true, force: true });
  }
  const fmt = (x: number): string => Math.round(x).toLocaleString('en-US');
  const rows: string[] = [];
  for (const store of ['memory', 'redis'] as const) {
    const off = variants.find((v) => v.store === store && v.quotas === 'off');
    const on = variants.find((v) => v.store === store && v.quotas === 'on');
    if (!off || !on) continue;
    for (const [what, pick] of [
      ['logins/s', (v: Variant) => v.logins],
      ['commands/s (one tab)', (v: Variant) => v.commands],
    ] as const) {
      const spread = (v: Variant): string => `${fmt(Math.min(...pick(v)))}–${fmt(Math.max(...pick(v)))}`;
      // Paired per round (the same minute of load for both): the median of on / off.
      const ratios = pick(on).map((x, i) => x / (pick(off)[i] ?? x));
      const pct = (r: number): string => `${r >= 1 ? '+' : ''}${((r - 1) * 100).toFixed(1)} %`;
      rows.push(
        `| ${store} | ${what} | ${fmt(median(pick(off)))} (${spread(off)}) | ${fmt(median(pick(on)))} (${spread(on)}) | ${pct(median(ratios))} (${pct(Math.min(...ratios))} to ${pct(Math.max(...ratios))}) |`,
      );
    }
  }
  return `Through real gateways (child processes, one each: quotas \`QUOTAS=off\` / on, memory / Redis),
measured in turn over ${ROUNDS - 1} rounds after a warm-up (median, min–max): ${LOGINS} HTTP logins with
${LOGINS_IN_FLIGHT} in flight; ${COMMANDS} \`transfer.listAgents\` commands from one tab with
${COMMANDS_IN_FLIGHT} in flight. In Redis mode the quotas on add the cluster-wide counts (one
Redis script per count: address and domain per login, agent per command). "on vs off" is the
median of the rounds' on/off ratios (each round measures both within seconds), with their range:
on a machine shared with other work the spread between rounds is larger than the guards' cost.

| store | what | quotas off | quotas on | on vs off (range) |
| --- | --- | --- | --- | --- |
${rows.join('\n')}
`;
}

async function perCall(op: (i: number) => unknown, n = N): Promise<number> {
  const runs: number[] = [];
  for (let r = 0; r < 6; r++) {
    const start = performance.now();
    for (let i = 0; i < n; i++) {
      const out = op(i);
      if (out instanceof Promise) await out;
    }
    runs.push(((performance.now() - start) * 1e6) / n);
  }
  const measured = runs.slice(1).sort((a, b) => a - b);
  return measured[Math.floor(measured.length / 2)] ?? 0;
}

/** The cluster-wide counts: one Redis script per count, on loopback to a real redis-server. */
async function redisCounts(): Promise<[string, number][]> {
  const redis = await startRedis();
  const client = new Redis(redis.url, { enableOfflineQueue: true, maxRetriesPerRequest: 0 });
  try {
    const limiter = (duration: number): RateLimiterRedis =>
      new RateLimiterRedis({ storeClient: client, keyPrefix: `bench:${duration}`, points: 1e9, duration });
    const agent = limiter(1);
    const logins = limiter(60);
    return [
      [
        `agent command quota in Redis (one round trip; ${REDIS_CALLS.toLocaleString('en-US')} calls per run)`,
        await perCall(() => agent.consume('5000'), REDIS_CALLS),
      ],
      [
        'login quotas in Redis (address + domain: two round trips)',
        await perCall(async (i) => {
          await logins.consume(`10.0.${i % 250}.1`);
          await logins.consume('domain');
        }, REDIS_CALLS),
      ],
    ];
  } finally {
    await client.quit();
    await redis.stop();
  }
}

export default async function guardsBench(): Promise<BenchSection> {
  const throughputTable = await throughputSection();
  // Limits high enough never to refuse: the cost of counting, not of refusing.
  const commands = new RateLimiterMemory({ points: 1e9, duration: 1 });
  const logins = new RateLimiterMemory({ points: 1e9, duration: 60 });
  const now = Date.now();
  const rows: [string, number][] = [
    ['command quota (one socket)', await perCall(() => commands.consume('socket-1'))],
    [
      'login quota (address + domain)',
      await perCall(async (i) => {
        await logins.consume(`10.0.${i % 250}.1`);
        await logins.consume('domain');
      }),
    ],
    ['dial policy (`checkDial`)', await perCall((i) => checkDial(DEFAULT_DIAL_POLICY, 'callout', `09${i}`))],
    ['event id bound (`parseEventId`)', await perCall((i) => parseEventId(`${now}-${i}`))],
    ['caller id (`normaliseCallerId`)', await perCall((i) => normaliseCallerId(`+84 912 ${i}`))],
    ['token lifetime step', await perCall((i) => boundTokenLifetime(now + i, now, 259_200))],
    ...(await redisCounts()),
  ];
  const table = rows.map(
    ([name, ns]) => `| ${name} | ${ns.toFixed(0)} | ${Math.round(1e9 / ns).toLocaleString('en-US')} |`,
  );
  return {
    title: 'Security guards',
    markdown: `${throughputTable}
Per-call cost of each guard (${N.toLocaleString('en-US')} calls per run unless said, median of 5
after a warm-up), in the benchmark process, one call at a time. The machine was shared with other work while these were taken.

| guard | ns per call | calls/s |
| --- | --- | --- |
${table.join('\n')}
`,
  };
}
