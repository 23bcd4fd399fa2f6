/**
 * The cost of the security guards (DESIGN.md §11), per call, in this process: the command and
 * login quotas (rate-limiter-flexible's memory store), the dial policy, the event-id bound, the
 * caller-id normalisation and the token-lifetime step. Each is run N times in a tight loop; the
 * median of 5 runs is reported. Compare with a command's or a login's own cost (the login section).
 */
import { performance } from 'node:perf_hooks';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { boundTokenLifetime } from '@callgate/auth';
import { checkDial, DEFAULT_DIAL_POLICY, normaliseCallerId } from '@callgate/call-core';
import { parseEventId } from '@callgate/contracts';
import type { BenchSection } from './run.js';

const N = 200_000;

async function perCall(op: (i: number) => unknown): Promise<number> {
  const runs: number[] = [];
  for (let r = 0; r < 6; r++) {
    const start = performance.now();
    for (let i = 0; i < N; i++) {
      const out = op(i);
      if (out instanceof Promise) await out;
    }
    runs.push(((performance.now() - start) * 1e6) / N);
  }
  const measured = runs.slice(1).sort((a, b) => a - b);
  return measured[Math.floor(measured.length / 2)] ?? 0;
}

export default async function guardsBench(): Promise<BenchSection> {
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
  ];
  const table = rows.map(
    ([name, ns]) => `| ${name} | ${ns.toFixed(0)} | ${Math.round(1e9 / ns).toLocaleString('en-US')} |`,
  );
  return {
    title: 'Security guards',
    markdown: `Per-call cost of each guard (${N.toLocaleString('en-US')} calls per run, median of 5 after a
warm-up), in the benchmark process. The machine was shared with other work while these were taken.

| guard | ns per call | calls/s |
| --- | --- | --- |
${table.join('\n')}
`,
  };
}
