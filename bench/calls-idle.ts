/**
 * Server-side calls, idle cost: RSS of a gateway with 500 agents in mode 4 (all registered) minus
 * that of a gateway with the same 500 agents in mode 1 (none registered), per agent; time to
 * register. The gateway is a child process (bench/support/gateway-process.ts).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Kamailio } from '../apps/lab/src/kamailio.js';
import { startLab } from '../apps/lab/src/lab.js';
import type { BenchSection } from './run.js';
import { median } from './stats.js';
import {
  allRegistered,
  DOMAIN,
  domainsYaml,
  GatewayProcess,
  gatewayBench,
  idleWindow,
  type Memory,
} from './support/gateway-process.js';
import { bounded, sleep } from './support/timing.js';

const IDLE_AGENTS = 500;
const IDLE_RUNS = 5;
/** after boot (mode 1) or after the last registration (mode 4), before RSS is read */
const IDLE_SETTLE_MS = 3_000;
const FIRST_IDLE_AGENT = 6000;

export default function callsIdleBench(): Promise<BenchSection> {
  return gatewayBench('calls-idle', 'Server-side calls: idle registered agents', async (bench) => {
    const lab = await startLab({ customers: 0 });
    bench.onCleanup(() => lab.close());
    bench.progress.log(`${IDLE_AGENTS} agents, ${IDLE_RUNS} runs`);
    const idle = await measureIdle(lab.pbx, bench.dir, bench.gateways);
    return (opening) => render(idle, opening);
  });
}

interface IdleRun {
  /** mode 1 (nothing registered): RSS after boot and IDLE_SETTLE_MS */
  baseRssMb: number;
  baseHeapMb: number;
  /** mode 4: RSS once all are registered and IDLE_SETTLE_MS later */
  fullRssMb: number;
  fullHeapMb: number;
  /** first "registering" log line → last "registered" line (s) */
  registerSeconds: number;
  /** gateway spawned → all registered (s) */
  bootToRegisteredSeconds: number;
  /** CPU of the gateway with every agent registered and idle, % of one core */
  idleCpuPercent: number;
}

interface IdleResult {
  agents: number;
  runs: IdleRun[];
}

async function measureIdle(pbx: Kamailio, dir: string, gateways: Set<GatewayProcess>): Promise<IdleResult> {
  const agents = Array.from({ length: IDLE_AGENTS }, (_, i) => String(FIRST_IDLE_AGENT + i));
  const browserConfig = join(dir, 'idle-mode1.yaml');
  const phoneConfig = join(dir, 'idle-mode4.yaml');
  writeFileSync(browserConfig, domainsYaml(pbx.wsUri, pbx.sipDomain, agents, 1));
  writeFileSync(phoneConfig, domainsYaml(pbx.wsUri, pbx.sipDomain, agents, 4));
  const runs: IdleRun[] = [];
  for (let run = 0; run < IDLE_RUNS; run++) {
    const base = await GatewayProcess.start({ CALLGATE_CONFIG: browserConfig }, gateways);
    let baseMemory: Memory;
    try {
      await sleep(IDLE_SETTLE_MS);
      baseMemory = await base.settledMemory();
    } finally {
      await base.stop();
    }

    const registered = new Set<string>();
    let firstRegistering: number | undefined;
    let lastRegistered = 0;
    let allDone: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (allDone = resolve));
    const spawnedAt = performance.now();
    const full = await GatewayProcess.start({ CALLGATE_CONFIG: phoneConfig }, gateways, (line) => {
      if (/ registering for device type /.test(line)) firstRegistering ??= performance.now();
      const match = /(\S+): registered$/.exec(line);
      if (!match?.[1] || registered.has(match[1])) return;
      registered.add(match[1]);
      lastRegistered = performance.now();
      if (registered.size === IDLE_AGENTS) allDone();
    });
    try {
      await bounded(done, 60_000, `${IDLE_AGENTS} registrations`);
      await allRegistered(full, agents);
      await sleep(IDLE_SETTLE_MS);
      const { cpuPercent: idleCpuPercent, memory: fullMemory } = await idleWindow(full, 3_000);
      runs.push({
        baseRssMb: baseMemory.rssKb / 1024,
        baseHeapMb: baseMemory.heapUsedKb / 1024,
        fullRssMb: fullMemory.rssKb / 1024,
        fullHeapMb: fullMemory.heapUsedKb / 1024,
        registerSeconds: (lastRegistered - (firstRegistering ?? spawnedAt)) / 1000,
        bootToRegisteredSeconds: (lastRegistered - spawnedAt) / 1000,
        idleCpuPercent,
      });
    } finally {
      await full.stop();
    }
  }
  return { agents: IDLE_AGENTS, runs };
}

function render(idle: IdleResult, opening: string): string {
  const f1 = (n: number): string => n.toFixed(1);
  const f2 = (n: number): string => n.toFixed(2);
  const runs = idle.runs;
  const perAgentKb = (r: IdleRun): number => ((r.fullRssMb - r.baseRssMb) * 1024) / idle.agents;
  const heapPerAgentKb = (r: IdleRun): number => ((r.fullHeapMb - r.baseHeapMb) * 1024) / idle.agents;
  const idleRow = (name: string, value: (r: IdleRun) => number, fmt: (n: number) => string): string =>
    `| ${name} | ${runs.map((r) => fmt(value(r))).join(' | ')} | **${fmt(median(runs.map(value)))}** |`;
  const lines = [
    opening,
    '',
    `${idle.agents} agents, each with an IP phone URI. RSS of a gateway whose agents are all in mode 1 ` +
      `(nothing registered; ${IDLE_SETTLE_MS / 1000} s after boot) against one whose agents are all in ` +
      `mode 4 (each registered by its own JsSIP user agent over its own WebSocket; ` +
      `${IDLE_SETTLE_MS / 1000} s after the last registration, confirmed by ` +
      `\`GET /v1/${DOMAIN}/agents/<id>\`, and after a 3 s CPU window); RSS after a forced full GC. ` +
      `Registration time is from the first "registering" log line to the last "registered" one, as the ` +
      `bench reads the gateway's stdout. ${runs.length} runs (a fresh gateway each), median in bold. The RSS ` +
      `of identical gateways differs by a few MB from run to run (see the mode 1 row), i.e. ±10 KB per ` +
      `agent at ${idle.agents} agents: the V8 heap figure is the steady one.`,
    '',
    `| | ${runs.map((_, i) => `run ${i + 1}`).join(' | ')} | median |`,
    `| --- | ${runs.map(() => '---:').join(' | ')} | ---: |`,
    idleRow('RSS, mode 1, none registered (MB)', (r) => r.baseRssMb, f1),
    idleRow(`RSS, mode 4, ${idle.agents} registered (MB)`, (r) => r.fullRssMb, f1),
    idleRow('**RSS per registered agent (KB)**', perAgentKb, f1),
    idleRow('of which V8 heap per registered agent (KB)', heapPerAgentKb, f1),
    idleRow(`time to register ${idle.agents} (s)`, (r) => r.registerSeconds, f2),
    idleRow(`spawn → ${idle.agents} registered (s)`, (r) => r.bootToRegisteredSeconds, f2),
    idleRow(`idle CPU with ${idle.agents} registered (% of a core)`, (r) => r.idleCpuPercent, f2),
  ];
  return `${lines.join('\n')}\n`;
}
