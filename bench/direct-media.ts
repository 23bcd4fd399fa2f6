/**
 * Direct media benchmark (libs/sip phase 1): what a call costs the process that holds both legs
 * when it only hands SDP through (DirectMediaCall), with RTP flowing endpoint to endpoint.
 *
 * - The measured process: `dist/bench/direct-media-gateway.js` (one SipUserAgent, every incoming
 *   call connected to the device with DirectMediaCall.inbound), a child process so that its CPU
 *   (utime + stime from /proc/<pid>/stat) and RSS (after a full GC) are its own.
 * - The endpoints, apart from it: the plain lab Kamailio (no media relay), customers = one sipp
 *   UAC per level (PCMA, plays /usr/share/sip-tester/g711a.pcap as RTP to the device directly),
 *   devices = one sipp UAS with -rtp_echo (sends every RTP packet back to the customer).
 * - Levels of 20, 100 and 500 concurrent established calls (25 new calls/s); CPU over a steady
 *   10 s window minus the idle baseline, per call; RSS above idle, per call; set-up time (incoming
 *   INVITE to the customer answered, which includes calling the device).
 * - Set-ups per second: 300 calls offered at 50/s, 1 s long each.
 * Bridge mode's figures are the "Server-side calls: media cost per bridged call" section (bench/calls-media.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { projectRoot } from '../apps/gateway/src/config.js';
import { startKamailio, type Kamailio } from '../apps/lab/src/kamailio.js';
import { freeUdpPort } from '../apps/lab/src/ports.js';
import { runSipp } from '../apps/lab/src/sipp.js';
import type { BenchSection } from './run.js';
import { percentile } from './stats.js';

const LEVELS = [20, 100, 500] as const;
const RATE = 25;
const WINDOW_MS = 10_000;
const IDLE_MS = 5_000;
const SETUP_PROBE = { calls: 300, rate: 50 } as const;
const TICK_MS = 10; // /proc clock ticks: 100 Hz on Linux

/** utime + stime of a process (ms), from /proc/<pid>/stat; 0 once it is gone. */
function cpuMs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return 0;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface WorkerLine {
  event: string;
  setupMs?: number;
  active?: number;
  rss?: number;
  heapUsed?: number;
  error?: string;
}

class Worker {
  readonly lines: WorkerLine[] = [];
  private readonly waiters = new Set<() => void>();
  active = 0;
  failed = 0;

  constructor(readonly child: ChildProcess) {
    if (!child.stdout) throw new Error('worker without stdout');
    createInterface({ input: child.stdout }).on('line', (text) => {
      let line: WorkerLine;
      try {
        line = JSON.parse(text) as WorkerLine;
      } catch {
        return;
      }
      this.lines.push(line);
      if (line.active !== undefined && line.event !== 'stats') this.active = line.active;
      if (line.event === 'failed') this.failed++;
      for (const waiter of [...this.waiters]) waiter();
    });
  }

  async until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!check()) {
      if (performance.now() > deadline)
        throw new Error(`direct-media bench: ${what} not reached in ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          this.waiters.delete(wake);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(wake, 250);
        this.waiters.add(wake);
      });
    }
  }

  async stats(): Promise<{ rss: number; heapUsed: number }> {
    const before = this.lines.length;
    this.child.stdin?.write('stats\n');
    await this.until(() => this.lines.slice(before).some((l) => l.event === 'stats'), 10_000, 'stats');
    const line = this.lines.slice(before).find((l) => l.event === 'stats');
    return { rss: line?.rss ?? 0, heapUsed: line?.heapUsed ?? 0 };
  }

  setups(from: number): number[] {
    return this.lines
      .slice(from)
      .filter((l) => l.event === 'connected' && l.setupMs !== undefined)
      .map((l) => l.setupMs ?? 0);
  }
}

function sipp(pbx: Kamailio, args: string[]): ChildProcess {
  return spawn('sipp', [`${pbx.host}:${pbx.udpPort}`, '-i', pbx.host, '-nostdin', ...args], {
    stdio: ['ignore', 'ignore', 'ignore'],
  });
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited(child);
  clearTimeout(killer);
}

const pct = (ms: number, windowMs: number): string => ((ms / windowMs) * 100).toFixed(3);

export default async function directMediaBench(): Promise<BenchSection> {
  const root = projectRoot();
  const scenarios = join(root, 'bench', 'sipp');
  const pbx = await startKamailio({ children: 4 });
  const children: ChildProcess[] = [];
  try {
    const devicePort = await freeUdpPort(pbx.host);
    const device = sipp(pbx, [
      '-sf',
      join(scenarios, 'direct-device.xml'),
      '-p',
      String(devicePort),
      '-mp',
      String(await freeUdpPort(pbx.host)),
      '-rtp_echo',
      '-max_socket',
      '2048',
    ]);
    children.push(device);
    const registered = await runSipp({
      host: pbx.host,
      port: pbx.udpPort,
      scenario: 'register-contact',
      service: '5003-desk',
      keys: { contact_port: String(devicePort) },
    });
    if (registered.exitCode !== 0) throw new Error(`registering the device failed: ${registered.errors}`);

    const child = spawn(
      process.execPath,
      ['--expose-gc', join(root, 'dist', 'bench', 'direct-media-gateway.js'), pbx.wsUri, pbx.sipDomain],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    children.push(child);
    const worker = new Worker(child);
    await worker.until(() => worker.lines.some((l) => l.event === 'ready'), 20_000, 'ready');
    await delay(2_000);
    const idleStart = cpuMs(child.pid);
    await delay(IDLE_MS);
    const idleMsPerSec = ((cpuMs(child.pid) - idleStart) / IDLE_MS) * 1000;
    const idle = await worker.stats();

    const rows: string[] = [];
    for (const level of LEVELS) {
      const from = worker.lines.length;
      const rampMs = (level / RATE) * 1000;
      const holdMs = rampMs + 2_000 + WINDOW_MS + 8_000;
      const customers = sipp(pbx, [
        '-sf',
        join(scenarios, 'direct-customer.xml'),
        '-s',
        '5003',
        '-p',
        String(await freeUdpPort(pbx.host)),
        '-mp',
        String(await freeUdpPort(pbx.host)),
        '-r',
        String(RATE),
        '-l',
        String(level),
        '-m',
        String(level),
        '-d',
        String(Math.round(holdMs)),
        '-max_socket',
        '2048',
      ]);
      children.push(customers);
      await worker.until(() => worker.active >= level, rampMs + 60_000, `${level} established calls`);
      await delay(1_000);
      const g0 = cpuMs(child.pid);
      const c0 = cpuMs(customers.pid);
      const d0 = cpuMs(device.pid);
      const t0 = performance.now();
      await delay(WINDOW_MS);
      const windowMs = performance.now() - t0;
      const gatewayMs = cpuMs(child.pid) - g0 - (idleMsPerSec * windowMs) / 1000;
      const customersMs = cpuMs(customers.pid) - c0;
      const deviceMs = cpuMs(device.pid) - d0;
      const memory = await worker.stats();
      const setups = worker.setups(from).sort((a, b) => a - b);
      rows.push(
        `| ${level} | ${worker.active} | ${pct(gatewayMs / level, windowMs)} % | ${pct(gatewayMs, windowMs)} % | ` +
          `${((memory.rss - idle.rss) / level / 1024).toFixed(0)} KB | ${((memory.heapUsed - idle.heapUsed) / level / 1024).toFixed(0)} KB | ` +
          `${percentile(setups, 50).toFixed(0)} / ${percentile(setups, 95).toFixed(0)} ms | ` +
          `${pct(customersMs, windowMs)} % + ${pct(deviceMs, windowMs)} % |`,
      );
      console.log(`[bench] direct media: ${level} calls measured`);
      await worker.until(() => worker.active === 0, holdMs + 60_000, `${level} calls ended`);
      await exited(customers);
    }

    // set-ups per second: calls offered at 50/s, each 1 s long
    const from = worker.lines.length;
    const probe = sipp(pbx, [
      '-sf',
      join(scenarios, 'direct-customer.xml'),
      '-s',
      '5003',
      '-p',
      String(await freeUdpPort(pbx.host)),
      '-mp',
      String(await freeUdpPort(pbx.host)),
      '-r',
      String(SETUP_PROBE.rate),
      '-l',
      String(SETUP_PROBE.calls),
      '-m',
      String(SETUP_PROBE.calls),
      '-d',
      '1000',
      '-max_socket',
      '2048',
    ]);
    children.push(probe);
    const probeStart = performance.now();
    await worker.until(
      () =>
        worker.lines.slice(from).filter((l) => l.event === 'connected' || l.event === 'failed').length >=
        SETUP_PROBE.calls,
      120_000,
      'the set-up probe',
    );
    const probeSeconds = (performance.now() - probeStart) / 1000;
    const connected = worker.setups(from).length;
    await exited(probe);
    child.stdin?.write('quit\n');
    await exited(child);

    const markdown = [
      'DirectMediaCall (libs/sip) in a child process holding both legs of every call and handing SDP through; ' +
        'RTP between the endpoints only (plain lab Kamailio, no media relay). Customers: sipp UAC, PCMA, playing ' +
        '`g711a.pcap` as RTP straight to the device; devices: one sipp UAS with `-rtp_echo`. New calls at 25/s.',
      '',
      "| concurrent calls | established | CPU per call | CPU in all | RSS per call (after GC) | heap per call | set-up p50 / p95 | endpoints' CPU (customers + devices sipp) |",
      '| --- | --- | --- | --- | --- | --- | --- | --- |',
      ...rows,
      '',
      `Idle: ${pct(idleMsPerSec, 1000)} % of a core, RSS ${(idle.rss / 2 ** 20).toFixed(1)} MB. CPU in % of one core over a ${WINDOW_MS / 1000} s window ` +
        "once every call is established, minus the idle baseline. Kamailio's CPU is not counted. CPU is read in " +
        'clock ticks (10 ms): over the window one tick is 0.1 % of a core, so 0.000 % means no tick at all. The ' +
        'per-call RSS of the smaller levels is mostly GC noise; the 500-call row says what a call costs.',
      '',
      `Set-ups: ${SETUP_PROBE.calls} calls offered at ${SETUP_PROBE.rate}/s: ${connected} connected in ${probeSeconds.toFixed(1)} s ` +
        `(${(connected / probeSeconds).toFixed(1)}/s sustained, ${worker.failed} failed in the whole run). Each set-up is an incoming ` +
        'INVITE, an outgoing INVITE to the device and the answer: the offered rate, sipp and Kamailio on the same 2 cores bound it.',
      '',
      'Bridge mode (both legs in wrtc, audio copied in JavaScript): see "Server-side calls: media cost per bridged call" in this file. ' +
        'Time from answer to two-way audio is not measured here yet (the sipp endpoints do not analyse audio).',
    ].join('\n');
    return { title: 'Direct media (libs/sip, phase 1)', markdown };
  } finally {
    await Promise.all(children.map((c) => stop(c)));
    await pbx.stop();
  }
}
