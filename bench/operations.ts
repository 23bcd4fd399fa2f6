// Operations overhead on event fan-out: one gateway instance on a real redis-server, CRM backends
// on /events, events produced by REST (agent.callStatus toggles, one at a time); deliveries/s as
// backends × events over the time from the first command to the last delivery. Three runs each:
// plain (metrics are always counted: a few counter increments per event), with a Prometheus
// scraper reading /metrics every 250 ms, and with a webhook to a local HTTP receiver as well.
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
const RUNS = 3;

type Variant = 'plain' | 'scraped' | 'scraped + webhook';

export default async function operationsBench(): Promise<{ title: string; markdown: string }> {
  const redis = await startRedis();
  let received = 0;
  const receiver: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received += 1;
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const dir = mkdtempSync(join(tmpdir(), 'callgate-bench-ops-'));
  const rows: string[] = [];
  try {
    for (const variant of ['plain', 'scraped', 'scraped + webhook'] as Variant[]) {
      const yaml = labDomainsYaml('ws://127.0.0.1:9', {}, [{ ext: '5003', device: 1 }]);
      const file = join(dir, `${variant.replace(/\W+/g, '-')}.yaml`);
      writeFileSync(
        file,
        variant === 'scraped + webhook'
          ? `${yaml}    webhooks:\n      - { url: "${hookUrl}", secret: "bench-secret-0123456789" }\n`
          : yaml,
      );
      const rates: number[] = [];
      for (let run = 0; run < RUNS; run++) {
        const gw = await startGateway({ configPath: file, redisUrl: redis.url, keyPrefix: `ops${run}:` });
        const backends = await Promise.all(
          Array.from({ length: BACKENDS }, () =>
            Tab.open(gw.url, { domain: 'demo', apiKey: API_KEY }, { namespace: '/events' }),
          ),
        );
        let scraping = variant !== 'plain';
        const scraper = (async () => {
          while (scraping) {
            await (await fetch(`${gw.url}/metrics`)).text();
            await new Promise((r) => setTimeout(r, 250));
          }
        })();
        received = 0;
        const started = performance.now();
        for (let i = 0; i < EVENTS; i++) await rest(gw, 'POST', '/v1/demo/agents/5003/status');
        await Promise.all(backends.map((b) => b.nth('agent.callStatus', EVENTS, 60_000)));
        const elapsed = (performance.now() - started) / 1000;
        rates.push((BACKENDS * EVENTS) / elapsed);
        scraping = false;
        await scraper;
        if (variant === 'scraped + webhook') {
          const deadline = Date.now() + 60_000;
          while (received < EVENTS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        }
        for (const b of backends) b.close();
        await gw.close();
      }
      rates.sort((a, b) => a - b);
      rows.push(`| ${variant} | ${Math.round(rates[Math.floor(RUNS / 2)] ?? 0).toLocaleString('en')} |`);
    }
  } finally {
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    title: 'Operations overhead on fan-out',
    markdown: [
      `One instance, one redis-server, ${BACKENDS} backends on /events, ${EVENTS} events produced one REST command at a time; deliveries/s (median of ${RUNS}).`,
      '',
      '| variant | deliveries/s |',
      '| --- | --- |',
      ...rows,
    ].join('\n'),
  };
}
