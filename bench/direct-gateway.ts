/**
 * Direct media through the gateway: what an established call costs the real gateway process when
 * its domain has `pbx.media: direct` (RFC 3725: the gateway holds both SIP legs, RTP flows between
 * the endpoints only).
 *
 * - The gateway: `dist/apps/gateway/src/main.js` as a child process (bench/support/gateway-process),
 *   in-memory coordination, 500 agents in device mode 4 (IP phone), each line registered with the
 *   plain lab Kamailio (no media relay). Every agent's IP phone is one sipp UAS (`gw-desk`,
 *   `-rtp_echo`: it sends every RTP packet back), so the endpoints cost the same at every level.
 * - Customers: one sipp UAC per level calling agents 6000… in turn (`-inf`), PCMA, playing
 *   `g711a.pcap` as RTP straight to the desk (whose address it got through the gateway's SDP).
 * - Levels of 20, 100 and 500 concurrent connected calls (25 new calls/s), read from the gateway's
 *   own `/metrics` (`callgate_calls{state="connected"}`); CPU over a 10 s window minus the idle
 *   baseline (500 lines registered, no call), per call; RSS above idle after a full GC, per call.
 * - No RTP in the gateway: the UDP sockets the gateway process holds (its fds matched against
 *   /proc/net/udp and udp6) are counted at every level; direct mode holds none.
 * - Set-ups per second: calls offered at 50/s, 100/s, 150/s and 200/s for 6 s each, 1 s long each, counted by
 *   the gateway's set-up histogram (`callgate_call_setup_seconds_count`: the customer answered),
 *   with the CPU of the gateway (and its main thread), sipp, Kamailio and the machine over each probe.
 * Bridge mode, side by side at 5, 10 and 20 calls with the same WebRTC bots, and the time from the
 * answer to two-way audio in both modes: bench/calls-media.ts.
 */
import { readdirSync, readlinkSync, readFileSync, writeFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startKamailio } from '../apps/lab/src/kamailio.js';
import type { BenchSection } from './run.js';
import { slope } from './stats.js';
import { machineBusyCores, machineTicks, type MachineTicks, percentOfCore } from './support/cpu.js';
import {
  allRegistered,
  domainsYaml,
  GatewayProcess,
  gatewayBench,
  idleWindow,
} from './support/gateway-process.js';
import {
  exited,
  processCpuSeconds,
  sippLoad,
  sippScenario,
  startEchoDesk,
  stopProcess,
} from './support/sipp-process.js';
import { bounded, sleep } from './support/timing.js';

const LEVELS = [20, 100, 500] as const;
const AGENTS = 500;
const FIRST_AGENT = 6000;
const RATE = 25;
const WINDOW_MS = 10_000;
const IDLE_MS = 10_000;
/** calls placed and ended before the idle baseline (the first calls of a process compile the call paths) */
const WARM_UP_CALLS = 20;
/** the set-up probes: new calls per second, each rate offered for PROBE_SECONDS */
const SETUP_RATES = [50, 100, 150, 200] as const;
/** a probe ends once no more set-ups are counted for this long */
const STALL_MS = 3_000;
const PROBE_SECONDS = 6;
const DESK = 'gw-desk';
const METRICS_TOKEN = 'bench-direct-gateway-metrics-token';

/** The gateway's own counters, from GET /metrics. */
interface GatewayCounts {
  connected: number;
  /** calls answered since boot (the set-up histogram's count, all modes) */
  answered: number;
  /** calls the gateway started since boot (an INVITE reached an agent's line) */
  started: number;
}

async function counts(gateway: GatewayProcess): Promise<GatewayCounts> {
  const res = await fetch(`${gateway.url}/metrics`, {
    headers: { authorization: `Bearer ${METRICS_TOKEN}` },
  });
  if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}`);
  const text = await res.text();
  const sum = (pattern: RegExp): number =>
    [...text.matchAll(pattern)].reduce((total, match) => total + Number(match[1] ?? 0), 0);
  return {
    connected: sum(/^callgate_calls\{[^}]*state="connected"[^}]*\} (\S+)$/gm),
    answered: sum(/^callgate_call_setup_seconds_count\{[^}]*\} (\S+)$/gm),
    started: sum(/^callgate_calls_started_total\{[^}]*\} (\S+)$/gm),
  };
}

/** Polls /metrics every 250 ms until `check` holds; rejects after `timeoutMs`. */
async function until(
  gateway: GatewayProcess,
  check: (c: GatewayCounts) => boolean,
  timeoutMs: number,
  what: string,
): Promise<GatewayCounts> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const now = await counts(gateway);
    if (check(now)) return now;
    if (performance.now() > deadline)
      throw new Error(`direct-gateway bench: ${what} not reached in ${timeoutMs} ms`);
    await sleep(250);
  }
}

/** A /proc file's text, or undefined when it cannot be read (a table the kernel lacks, a closed fd). */
function readOr(read: () => string): string | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}

/** UDP sockets (IPv4 and IPv6) among a process's open files. */
export function udpSocketsOf(pid: number): number {
  const udpInodes = new Set<string>();
  for (const table of ['/proc/net/udp', '/proc/net/udp6']) {
    const text = readOr(() => readFileSync(table, 'utf8')) ?? '';
    for (const line of text.split('\n').slice(1)) {
      const inode = line.trim().split(/\s+/)[9];
      if (inode) udpInodes.add(inode);
    }
  }
  let sockets = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    const target = readOr(() => readlinkSync(`/proc/${pid}/fd/${fd}`)) ?? '';
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode !== undefined && udpInodes.has(inode)) sockets++;
  }
  return sockets;
}

interface CpuSnapshot {
  at: number;
  machine: MachineTicks;
  gateway: number;
  main: number;
  desk: number;
  kamailio: number;
}

interface ProbeRow {
  rate: number;
  offered: number;
  /** INVITEs that reached the gateway (its calls started) */
  started: number;
  answered: number;
  seconds: number;
  /** set-ups per second between the first and the last counted (the probe's own start excluded) */
  perSecond: number;
  gatewayCpu: number;
  mainThreadCpu: number;
  customersCpu: number;
  deskCpu: number;
  kamailioCpu: number;
  machineCpu: number;
  load1: number;
}

/** CPU (s) of Kamailio's main process and its children (its workers), from /proc. */
function kamailioCpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  const children = readOr(() => readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')) ?? '';
  return [pid, ...children.split(/\s+/).filter(Boolean).map(Number)].reduce(
    (total, p) => total + processCpuSeconds(p),
    0,
  );
}

interface LevelRow {
  level: number;
  connected: number;
  cpuPerCall: number;
  cpuInAll: number;
  rssPerCallKb: number;
  heapPerCallKb: number;
  udpSockets: number;
  customersCpu: number;
  deskCpu: number;
  /** both cores' busy time over the window, % of a core (the gateway, sipp, Kamailio and any other work) */
  machineCpu: number;
  load1: number;
}

export default function directGatewayBench(): Promise<BenchSection> {
  return gatewayBench(
    'direct-gateway',
    'Direct media through the gateway: CPU, memory and set-ups per call',
    async (bench) => {
      const pbx = await startKamailio({ children: 4 });
      bench.onCleanup(() => pbx.stop());
      const children: ChildProcess[] = [];
      bench.onCleanup(() => Promise.all(children.map((c) => stopProcess(c))));

      const desk = await startEchoDesk(pbx, DESK);
      children.push(desk);

      const agents = Array.from({ length: AGENTS }, (_, i) => String(FIRST_AGENT + i));
      const config = join(bench.dir, 'direct.yaml');
      writeFileSync(
        config,
        domainsYaml(pbx.wsUri, pbx.sipDomain, agents, 4, { ipPhoneUser: DESK, media: 'direct' }),
      );
      const calledAgents = join(bench.dir, 'agents.csv');
      writeFileSync(calledAgents, ['SEQUENTIAL', ...agents.map((a) => `${a};`), ''].join('\n'));
      const gateway = await GatewayProcess.start(
        {
          CALLGATE_CONFIG: config,
          RING_TIMEOUT_MS: '20000',
          METRICS_ENABLED: 'true',
          METRICS_TOKEN,
        },
        bench.gateways,
      );
      await allRegistered(gateway, agents);
      bench.progress.log(`${AGENTS} lines registered`);
      const customers = async (load: Parameters<typeof sippLoad>[0]): Promise<ChildProcess> => {
        const { child } = await sippScenario(pbx, 'gateway-customer.xml', [
          '-inf',
          calledAgents,
          ...sippLoad(load),
        ]);
        children.push(child);
        return child;
      };
      const warmUp = await customers({
        rate: RATE,
        limit: WARM_UP_CALLS,
        calls: WARM_UP_CALLS,
        holdMs: 1000,
      });
      await exited(warmUp);
      await until(gateway, (c) => c.connected === 0, 30_000, 'the warm-up calls ended');
      await sleep(2_000);
      const idle = await idleWindow(gateway, IDLE_MS);
      const idleUdp = udpSocketsOf(gateway.pid);

      const rows: LevelRow[] = [];
      for (const level of LEVELS) {
        const rampMs = (level / RATE) * 1000;
        const holdMs = rampMs + 3_000 + WINDOW_MS + 10_000;
        const uac = await customers({ rate: RATE, limit: level, calls: level, holdMs });
        const reached = await until(
          gateway,
          (c) => c.connected >= level,
          rampMs + 60_000,
          `${level} calls`,
        ).then(
          () => true,
          (error: unknown) => {
            bench.progress.log(`${String(error)}: measuring what is up`);
            return false;
          },
        );
        await sleep(1_000);
        const before = await counts(gateway);
        const g0 = gateway.cpuSeconds();
        const c0 = processCpuSeconds(uac.pid);
        const d0 = processCpuSeconds(desk.pid);
        const m0 = machineTicks();
        const t0 = performance.now();
        await sleep(WINDOW_MS);
        const windowMs = performance.now() - t0;
        const gatewayCpu = percentOfCore(gateway.cpuSeconds() - g0, windowMs) - idle.cpuPercent;
        const customersCpu = percentOfCore(processCpuSeconds(uac.pid) - c0, windowMs);
        const deskCpu = percentOfCore(processCpuSeconds(desk.pid) - d0, windowMs);
        const machineCpu = machineBusyCores(m0, machineTicks()) * 100;
        const udpSockets = udpSocketsOf(gateway.pid) - idleUdp;
        const memory = await gateway.settledMemory();
        const connected = Math.max(1, Math.min(before.connected, (await counts(gateway)).connected));
        rows.push({
          level,
          connected: reached ? connected : -connected,
          cpuPerCall: gatewayCpu / connected,
          cpuInAll: gatewayCpu,
          rssPerCallKb: (memory.rssKb - idle.memory.rssKb) / connected,
          heapPerCallKb: (memory.heapUsedKb - idle.memory.heapUsedKb) / connected,
          udpSockets,
          customersCpu,
          deskCpu,
          machineCpu,
          load1: loadavg()[0] ?? 0,
        });
        bench.progress.log(
          `${level} calls: ${(gatewayCpu / connected).toFixed(3)} % of a core per call, UDP sockets ${udpSockets}`,
        );
        await until(gateway, (c) => c.connected === 0, holdMs + 60_000, `${level} calls ended`);
        await exited(uac);
      }

      // set-ups per second: calls offered at each probe's rate for PROBE_SECONDS, each 1 s long
      const probes: ProbeRow[] = [];
      for (const rate of SETUP_RATES) {
        const calls = rate * PROBE_SECONDS;
        const before = await counts(gateway);
        const answeredBefore = before.answered;
        const snapshot = (): CpuSnapshot => ({
          at: performance.now(),
          machine: machineTicks(),
          gateway: gateway.cpuSeconds(),
          main: gateway.mainThreadCpuSeconds(),
          desk: processCpuSeconds(desk.pid),
          kamailio: kamailioCpuSeconds(pbx.pid),
        });
        const start = snapshot();
        const probe = await customers({ rate, limit: calls, calls, holdMs: 1000 });
        // polled every 100 ms until every call is answered, or none more is for STALL_MS: the
        // first and the last set-up counted, the CPU figures read at the last one
        let first: number | undefined;
        let last = start;
        let customersCpu = 0;
        let answered = 0;
        while (answered < calls && performance.now() - last.at < STALL_MS) {
          await sleep(100);
          const now = (await counts(gateway)).answered - answeredBefore;
          if (now > answered) {
            answered = now;
            last = snapshot();
            customersCpu = processCpuSeconds(probe.pid);
            first ??= last.at;
          }
        }
        const started = (await counts(gateway)).started - before.started;
        const probeMs = last.at - start.at;
        const spreadS = (last.at - (first ?? last.at)) / 1000;
        const row: ProbeRow = {
          rate,
          offered: calls,
          started,
          answered,
          seconds: probeMs / 1000,
          perSecond: spreadS > 0 ? (answered - 1) / spreadS : 0,
          gatewayCpu: percentOfCore(last.gateway - start.gateway, probeMs),
          mainThreadCpu: percentOfCore(last.main - start.main, probeMs),
          customersCpu: percentOfCore(customersCpu, probeMs),
          deskCpu: percentOfCore(last.desk - start.desk, probeMs),
          kamailioCpu: percentOfCore(last.kamailio - start.kamailio, probeMs),
          machineCpu: machineBusyCores(start.machine, last.machine) * 100,
          load1: loadavg()[0] ?? 0,
        };
        probes.push(row);
        bench.progress.log(
          `set-ups at ${rate}/s: ${started} reached the gateway, ${answered}/${calls} answered in ${row.seconds.toFixed(1)} s, gateway ${row.gatewayCpu.toFixed(0)} % of a core`,
        );
        // sipp retransmits what is not answered (up to 32 s); the gateway's calls end with theirs
        await bounded(exited(probe), 40_000);
        await stopProcess(probe);
        await until(gateway, (c) => c.connected === 0, 60_000, `the probe at ${rate}/s ended`);
        await sleep(2_000);
      }

      const xs = [0, ...rows.map((r) => Math.abs(r.connected))];
      const cpuSlope = slope(xs, [0, ...rows.map((r) => r.cpuInAll)]);
      const rssSlopeKb = slope(xs, [0, ...rows.map((r) => r.rssPerCallKb * Math.abs(r.connected))]);

      return (opening) =>
        [
          opening,
          '',
          `${AGENTS} agents in device mode 4, every line registered by the gateway; \`pbx.media: direct\`; the plain lab ` +
            'Kamailio (no media relay). Customers: sipp UAC, PCMA, playing `g711a.pcap` as RTP straight to the desk; ' +
            "the desk: one sipp UAS with `-rtp_echo` for every agent. New calls at 25/s. Calls counted by the gateway's " +
            '`/metrics`. "UDP sockets" is the number of UDP sockets the gateway process holds above idle (its fds ' +
            'against /proc/net/udp): RTP never reaches it.',
          '',
          `Idle (${AGENTS} lines registered, ${WARM_UP_CALLS} warm-up calls placed and ended, no call up; CPU over ` +
            `${IDLE_MS / 1000} s): ${idle.cpuPercent.toFixed(2)} % of a core, RSS ${(idle.memory.rssKb / 1024).toFixed(1)} MB. ` +
            `"gateway CPU in all" is the window's CPU minus that idle CPU, so a figure at or below zero is the ` +
            `calls costing less than the tick noise of the idle baseline. Least-squares slope over idle and ` +
            `the levels (calls 0, ${LEVELS.join(', ')}): **${cpuSlope.toFixed(4)} % of a core per call**, ` +
            `**${rssSlopeKb.toFixed(0)} KB RSS per call**.`,
          '',
          "| concurrent calls | connected | **gateway CPU per call** | gateway CPU in all | **RSS per call** (after GC) | heap per call | UDP sockets in the gateway | endpoints' CPU (customers + desk sipp) | machine (of 200 %) | load 1 min |",
          '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |',
          ...rows.map(
            (r) =>
              `| ${r.level} | ${Math.abs(r.connected)}${r.connected < 0 ? ' (level not reached)' : ''} | **${r.cpuPerCall.toFixed(3)} %** | ` +
              `${r.cpuInAll.toFixed(2)} % | **${r.rssPerCallKb.toFixed(0)} KB** | ${r.heapPerCallKb.toFixed(0)} KB | ${r.udpSockets} | ` +
              `${r.customersCpu.toFixed(1)} % + ${r.deskCpu.toFixed(1)} % | ${r.machineCpu.toFixed(0)} % | ${r.load1.toFixed(2)} |`,
          ),
          '',
          `Set-ups: calls offered at each rate for ${PROBE_SECONDS} s, 1 s long each, counted by the gateway's set-up histogram ` +
            `(the customer answered), polled every 100 ms until all are answered or none more is for ${STALL_MS / 1000} s (the ` +
            'others failed): "time to the last" runs from sipp\'s start to the last set-up counted, the CPU figures over that time; ' +
            '"sustained" is the set-ups counted between the first and the last, over the time between them. ' +
            "Each set-up is the customer's INVITE to the agent's line, the gateway's " +
            "INVITE to the desk with the customer's SDP, and the answer. CPU over the probe, % of a core (the " +
            "gateway's main thread runs its JavaScript: JsSIP, the call state machine; Kamailio: all its processes); " +
            '"machine" is the busy time of both cores, any other work included.',
          '',
          '| offered | reached the gateway | answered | time to the last (s) | **set-ups/s sustained** | gateway CPU | of which main thread | customers sipp | desk sipp | Kamailio | machine (of 200 %) | load 1 min |',
          '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
          ...probes.map(
            (p) =>
              `| ${p.offered} at ${p.rate}/s | ${p.started} | ${p.answered} | ${p.seconds.toFixed(1)} | **${p.perSecond.toFixed(1)}** | ` +
              `${p.gatewayCpu.toFixed(0)} % | ${p.mainThreadCpu.toFixed(0)} % | ${p.customersCpu.toFixed(0)} % | ${p.deskCpu.toFixed(0)} % | ` +
              `${p.kamailioCpu.toFixed(0)} % | ${p.machineCpu.toFixed(0)} % | ${p.load1.toFixed(2)} |`,
          ),
          '',
          'CPU is read in clock ticks (10 ms): over the 10 s window one tick is 0.1 % of a core. Bridge mode (both legs ' +
            'in wrtc, audio copied in JavaScript) with the same WebRTC bots on both sides, side by side with direct mode: ' +
            '"Server-side calls: media cost per bridged call".',
        ].join('\n');
    },
  );
}
