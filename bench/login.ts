/**
 * Login benchmark: how many CRM logins one core can verify per second.
 *
 * A login check is `verifyCrmToken()` (HS256 with jose, the 3C `expired` claim read in the
 * domain's time zone) plus `DomainRegistry.agent()`. Each run verifies every token one after
 * the other (one in flight at a time, as a single busy core would); the median of the runs is
 * reported with the spread, as wall-clock rate and as rate per CPU-second (all threads of the
 * process, since WebCrypto's HMAC runs on libuv's thread pool). Session-token issue and verify
 * are measured the same way.
 */
import { createHmac } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { DomainRegistry, SessionTokens, validateDomainsFile, verifyCrmToken } from '@callgate/auth';

export interface LoginBenchOptions {
  /** tokens per run (default 20 000) */
  tokens?: number;
  /** measured runs (default 5), after one warm-up run */
  runs?: number;
}

interface Sample {
  /** operations per wall-clock second */
  readonly wall: number;
  /** operations per CPU-second of the whole process */
  readonly cpu: number;
}

interface Summary {
  readonly median: Sample;
  readonly min: number;
  readonly max: number;
}

const DOMAIN = 'bench';
const ACCESS_KEY = 'bench-access-key-0123456789abcdef0123456789';
const SESSION_SECRET = 'bench-session-secret-0123456789abcdef0123';
const AGENTS = 1000;

function registry(): DomainRegistry {
  const agents = Object.fromEntries(
    Array.from({ length: AGENTS }, (_, i) => {
      const ipphone = String(5000 + i);
      return [
        ipphone,
        { name: `Agent ${ipphone}`, sip: { user: ipphone, password: `p-${ipphone}` }, defaultDevice: 1 },
      ];
    }),
  );
  const file = validateDomainsFile(
    {
      domains: {
        [DOMAIN]: {
          accessKey: ACCESS_KEY,
          apiKeys: ['bench-api-key-0123456789'],
          allowedOrigins: ['*'],
          timezone: 'Asia/Ho_Chi_Minh',
          pbx: { wsUri: 'ws://127.0.0.1:5066', sipDomain: '127.0.0.1', mobilePrefix: '' },
          agents,
        },
      },
    },
    'bench',
  );
  return new DomainRegistry(file);
}

/** A 3C-style token, signed with node:crypto (as a PHP CRM would, without jose). */
function crmToken(ipphone: string, expired: string): string {
  const header = Buffer.from(JSON.stringify({ typ: 'JWT', alg: 'HS256' })).toString('base64url');
  const payload = Buffer.from(JSON.stringify({ ipphone, expired })).toString('base64url');
  const signature = createHmac('sha256', ACCESS_KEY).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
}

/** Runs `op` over every item, one at a time; returns operations per wall second and per CPU second. */
async function measure<T>(items: readonly T[], op: (item: T) => Promise<void>): Promise<Sample> {
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  for (const item of items) await op(item);
  const wallSeconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  return { wall: items.length / wallSeconds, cpu: items.length / cpuSeconds };
}

function summarise(samples: readonly Sample[]): Summary {
  const sorted = [...samples].sort((a, b) => a.wall - b.wall);
  const median = sorted[Math.floor(sorted.length / 2)];
  if (median === undefined) throw new Error('no samples');
  return { median, min: sorted[0]?.wall ?? median.wall, max: sorted[sorted.length - 1]?.wall ?? median.wall };
}

async function runs<T>(count: number, items: readonly T[], op: (item: T) => Promise<void>): Promise<Summary> {
  await measure(items.slice(0, Math.min(items.length, 2000)), op); // warm-up
  const samples: Sample[] = [];
  for (let i = 0; i < count; i += 1) samples.push(await measure(items, op));
  return summarise(samples);
}

const rate = (n: number): string => Math.round(n).toLocaleString('en-US');

function row(name: string, s: Summary): string {
  const spread = ((s.max - s.min) / s.median.wall) * 100;
  const micros = 1e6 / s.median.wall;
  return `| ${name} | ${rate(s.median.wall)} | ${rate(s.min)} – ${rate(s.max)} (±${(spread / 2).toFixed(1)} %) | ${rate(s.median.cpu)} | ${micros.toFixed(1)} µs |`;
}

export default async function loginBench(
  options: LoginBenchOptions = {},
): Promise<{ title: string; markdown: string }> {
  const tokenCount = options.tokens ?? 20_000;
  const runCount = options.runs ?? 5;
  const domains = registry();
  const domain = domains.domain(DOMAIN);

  // Tomorrow (within the domain's maximum token lifetime of 3 days), as a CRM would sign it.
  const day = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
  const tokens = Array.from({ length: tokenCount }, (_, i) => {
    const ipphone = String(5000 + (i % AGENTS));
    const second = String(i % 60).padStart(2, '0');
    const minute = String(Math.floor(i / 60) % 60).padStart(2, '0');
    return { ipphone, token: crmToken(ipphone, `${day} 23:${minute}:${second}`) };
  });
  const login = await runs(runCount, tokens, async ({ ipphone, token }) => {
    const claims = await verifyCrmToken(token, domain);
    const agent = domains.agent(DOMAIN, claims.ipphone);
    if (agent.ipphone !== ipphone) throw new Error(`login of ${ipphone} found ${agent.ipphone}`);
  });

  const sessions = new SessionTokens(SESSION_SECRET, 3600);
  const sessionRequests = tokens.map(({ ipphone }) => ({ domain: DOMAIN, ipphone }));
  const issued: string[] = [];
  const issue = await runs(runCount, sessionRequests, async (request) => {
    const { token } = await sessions.issue(request);
    if (issued.length < tokenCount) issued.push(token);
  });
  const verify = await runs(runCount, issued, async (token) => {
    const session = await sessions.verify(token);
    if (session.domain !== DOMAIN) throw new Error('session verified for the wrong domain');
  });

  const markdown = [
    `One core, one operation in flight at a time; ${rate(tokenCount)} operations per run, median of ${runCount} runs after a warm-up.`,
    `A login is \`verifyCrmToken()\` (HS256 via jose, the 3C \`expired\` claim in Asia/Ho_Chi_Minh) + \`DomainRegistry.agent()\` over ${AGENTS} agents.`,
    'The per-CPU-second rate counts every thread of the process (WebCrypto HMAC runs on the libuv thread pool).',
    '',
    '| Operation | Median (ops/s, wall) | Min – max of runs | Median (ops per CPU-second) | Median time per op |',
    '| --- | ---: | ---: | ---: | ---: |',
    row('CRM login (verify + agent lookup)', login),
    row('Session token issue', issue),
    row('Session token verify', verify),
    '',
  ].join('\n');
  return { title: 'Login verification', markdown };
}
