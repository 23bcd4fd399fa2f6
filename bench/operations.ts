// Operations overhead on event fan-out: one gateway instance on a real redis-server, CRM backends
// on /events, events produced by REST (agent.callStatus toggles, one at a time); deliveries/s as
// backends × events over the time from the first command to the last delivery. Side by side in one
// run, the variants interleaved run by run (so the shared machine's load drifts over all of them):
// metrics switched off (METRICS_ENABLED=false), on, on with a Prometheus scraper reading /metrics
// every 250 ms, and a webhook to a local HTTP receiver with metrics off and on. For the webhook
// variants also how far the POSTs trail the events: from the last command's answer to the last POST.
// Wall-clock rates swing with the shared machine's load; the CPU time this process (the gateway,
// its 50 backends, the REST client, the receiver, all in one process; not redis-server) spent per
// event, from the first command to the last delivery or POST, is steadier.
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labDomainsYaml, API_KEY, rest } from '../test/support/lab-gateway.js';
import { startGateway } from '../test/support/gateway.js';
import { startRedis } from '../test/support/redis-server.js';
import { Tab } from '../test/support/tabs.js';

const BACKENDS = 50;
const EVENTS = 300;
const RUNS = 5;

interface Variant {
  name: string;
  metrics: boolean;
  scraped: boolean;
  webhook: boolean;
}

const VARIANTS: readonly Variant[] = [
  { name: 'metrics off', metrics: false, scraped: false, webhook: false },
  { name: 'metrics on', metrics: true, scraped: false, webhook: false },
  { name: 'metrics on, scraped every 250 ms', metrics: true, scraped: true, webhook: false },
  { name: 'metrics off, webhook', metrics: false, scraped: false, webhook: true },
  { name: 'metrics on, scraped, webhook', metrics: true, scraped: true, webhook: true },
];

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
};
const fmt = (n: number): string => Math.round(n).toLocaleString('en');

export default async function operationsBench(): Promise<{ title: string; markdown: string }> {
  const redis = await startRedis();
  let received = 0;
  let lastPostAt = 0;
  const receiver: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received += 1;
      lastPostAt = performance.now();
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const dir = mkdtempSync(join(tmpdir(), 'callgate-bench-ops-'));
  const yaml = labDomainsYaml('ws://127.0.0.1:9', {}, [{ ext: '5003', device: 1 }]);
  const plainFile = join(dir, 'plain.yaml');
  const hookFile = join(dir, 'webhook.yaml');
  writeFileSync(plainFile, yaml);
  writeFileSync(
    hookFile,
    `${yaml}    webhooks:\n      - { url: "${hookUrl}", secret: "bench-secret-0123456789" }\n`,
  );
  const rates = new Map<string, number[]>(VARIANTS.map((v) => [v.name, []]));
  const lags = new Map<string, number[]>(VARIANTS.map((v) => [v.name, []]));
  const cpuPerEvent = new Map<string, number[]>(VARIANTS.map((v) => [v.name, []]));
  try {
    for (let run = 0; run < RUNS; run++) {
      for (const [index, variant] of VARIANTS.entries()) {
        const gw = await startGateway({
          configPath: variant.webhook ? hookFile : plainFile,
          redisUrl: redis.url,
          keyPrefix: `ops${run}-${index}:`,
          env: { METRICS_ENABLED: String(variant.metrics) },
        });
        const backends = await Promise.all(
          Array.from({ length: BACKENDS }, () =>
            Tab.open(gw.url, { domain: 'demo', apiKey: API_KEY }, { namespace: '/events' }),
          ),
        );
        let scraping = variant.scraped;
        const scraper = (async () => {
          while (scraping) {
            await (await fetch(`${gw.url}/metrics`)).text();
            await new Promise((r) => setTimeout(r, 250));
          }
        })();
        received = 0;
        const cpuAtStart = process.cpuUsage();
        const started = performance.now();
        for (let i = 0; i < EVENTS; i++) await rest(gw, 'POST', '/v1/demo/agents/5003/status');
        const lastCommandAt = performance.now();
        await Promise.all(backends.map((b) => b.nth('agent.callStatus', EVENTS, 60_000)));
        rates.get(variant.name)?.push((BACKENDS * EVENTS) / ((performance.now() - started) / 1000));
        scraping = false;
        await scraper;
        if (variant.webhook) {
          const deadline = Date.now() + 120_000;
          while (received < EVENTS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
          if (received < EVENTS) throw new Error(`${variant.name}: ${received}/${EVENTS} webhook POSTs`);
          lags.get(variant.name)?.push(Math.max(0, lastPostAt - lastCommandAt));
        }
        const cpu = process.cpuUsage(cpuAtStart);
        cpuPerEvent.get(variant.name)?.push((cpu.user + cpu.system) / 1000 / EVENTS);
        for (const b of backends) b.close();
        await gw.close();
      }
    }
  } finally {
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const base = median(rates.get('metrics off') ?? []);
  const baseCpu = median(cpuPerEvent.get('metrics off') ?? []);
  const rows = VARIANTS.map((v) => {
    const rate = median(rates.get(v.name) ?? []);
    const lag = lags.get(v.name) ?? [];
    const cpu = median(cpuPerEvent.get(v.name) ?? []);
    return `| ${v.name} | ${fmt(rate)} | ${base > 0 ? (rate / base).toFixed(2) : '–'}× | ${cpu.toFixed(2)} ms | ${baseCpu > 0 ? (cpu / baseCpu).toFixed(2) : '–'}× | ${lag.length > 0 ? `${fmt(median(lag))} ms` : '–'} |`;
  });
  return {
    title: 'Operations overhead on fan-out',
    markdown: [
      `One instance, one redis-server, ${BACKENDS} backends on /events, ${EVENTS} events produced one REST command at a time; deliveries/s (median of ${RUNS}, the variants interleaved run by run), and their ratio to metrics off; the CPU time of the bench process (gateway and clients; not redis-server) per event, and its ratio; with a webhook, how long after the last command's answer its last POST reached a local receiver. The machine is shared with other test runs: wall-clock rates are noisy, CPU per event less so.`,
      '',
      '| variant | deliveries/s | vs. metrics off | CPU per event | vs. metrics off | last webhook POST after the last command |',
      '| --- | --- | --- | --- | --- | --- |',
      ...rows,
    ].join('\n'),
  };
}
