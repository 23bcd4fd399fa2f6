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
 * - Time from the answer to two-way audio, direct vs bridge, side by side: JsSIP + wrtc bots as
 *   customer (400 Hz) and device (1000 Hz), one SipUserAgent in between (this process) holding
 *   both legs, either as DirectMediaCall.inbound (pass-through legs, SDP handed through) or as
 *   libs/sip's bridged SipCall pair (two wrtc legs and an AudioBridge copying audio in
 *   JavaScript, what the gateway does in bridge mode). Measured at the endpoints: from the 200 OK
 *   the customer receives to the first window in which each end hears the other's tone.
 * Bridge mode's CPU figures are the "Server-side calls: media cost per bridged call" section (bench/calls-media.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  AudioAnalyser,
  AudioBridge,
  DirectMediaCall,
  type SipCall,
  SipUserAgent,
  ToneSource,
  waitForEvent,
} from '@callgate/sip';
import { projectRoot } from '../apps/gateway/src/config.js';
import { startKamailio, type Kamailio } from '../apps/lab/src/kamailio.js';
import type { BenchSection } from './run.js';
import { percentile } from './stats.js';
import {
  exited,
  processCpuSeconds,
  sippLoad,
  sippScenario,
  startEchoDesk,
  stopProcess,
} from './support/sipp-process.js';

const LEVELS = [20, 100, 500] as const;
const RATE = 25;
const WINDOW_MS = 10_000;
const IDLE_MS = 5_000;
const SETUP_PROBE = { calls: 300, rate: 50 } as const;
/** Answer-to-audio calls per mode (direct and bridge alternate, so both see the same load). */
const ANSWER_CALLS = 8;
/** The analysers' window: a tone is recognised once it fills this much audio. */
const HEAR_WINDOW_MS = 40;

/** utime + stime of a process so far (ms); 0 once it is gone. */
function cpuMs(pid: number | undefined): number {
  return processCpuSeconds(pid) * 1000;
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

const pct = (ms: number, windowMs: number): string => ((ms / windowMs) * 100).toFixed(3);

type MediaMode = 'direct' | 'bridge';

interface AnswerToAudio {
  mode: MediaMode;
  /** From the customer's 200 OK to the customer hearing the device, and the device the customer (ms). */
  customerHears: number;
  deviceHears: number;
}

/**
 * One inbound call per mode at a time: the customer bot calls the "gateway" user agent, which
 * connects it to the device bot directly (pass-through legs) or through a bridge (two wrtc legs
 * and an AudioBridge); the customer is answered once the device has answered, in both modes.
 */
export async function answerToAudio(pbx: Kamailio): Promise<AnswerToAudio[]> {
  const agent = async (user: string): Promise<SipUserAgent> => {
    const ua = new SipUserAgent({ wsUri: pbx.wsUri, sipDomain: pbx.sipDomain, user, register: true });
    await ua.start();
    return ua;
  };
  const uas: SipUserAgent[] = [];
  const tones = [new ToneSource({ frequency: 400 }), new ToneSource({ frequency: 1000 })];
  const [customerTone, deviceTone] = tones as [ToneSource, ToneSource];
  const analysers: AudioAnalyser[] = [];
  const bridges: AudioBridge[] = [];
  const hear = (track: MediaStreamTrack, frequency: number): Promise<number> => {
    const analyser = new AudioAnalyser(track, { windowMs: HEAR_WINDOW_MS });
    analysers.push(analyser);
    return analyser.waitFor({ frequency, timeoutMs: 20_000 }).then(() => performance.now());
  };
  try {
    const gateway = await agent('lat-gw');
    uas.push(gateway);
    const device = await agent('lat-dev');
    uas.push(device);
    const customer = await agent('lat-cust');
    uas.push(customer);
    let mode: MediaMode = 'direct';
    // set by the device's remoteTrack listener, once per call
    const heard = new Map<'device', Promise<number>>();
    device.on('incomingCall', ({ call }) => {
      call.once('remoteTrack', ({ track }) => {
        heard.set('device', hear(track, 400));
      });
      void call.answer({ mediaStream: deviceTone.stream });
    });
    gateway.on('incomingCall', ({ call }) => {
      if (mode === 'direct') {
        DirectMediaCall.inbound(gateway, call, 'lat-dev').catch((error: unknown) => {
          console.error(`[bench] direct media: inbound failed: ${String(error)}`);
          if (!call.isTerminated) call.reject(480);
        });
        return;
      }
      // bridge: A = the customer leg, B = the device leg, both wrtc, audio copied in JavaScript
      const bridge = new AudioBridge();
      bridges.push(bridge);
      const deviceLeg: SipCall = gateway.call('lat-dev', { mediaStream: bridge.streamToB });
      deviceLeg.once('remoteTrack', ({ track }) => bridge.setTrackFromB(track));
      call.once('remoteTrack', ({ track }) => bridge.setTrackFromA(track));
      deviceLeg.once('accepted', () => {
        call.answer({ mediaStream: bridge.streamToA }).catch(() => void deviceLeg.hangup());
      });
      void deviceLeg.terminated.then(() => call.hangup());
      void call.terminated.then(async () => {
        await deviceLeg.hangup();
        bridge.close();
      });
    });

    const results: AnswerToAudio[] = [];
    for (let i = 0; i < ANSWER_CALLS * 2; i++) {
      mode = i % 2 === 0 ? 'direct' : 'bridge';
      heard.delete('device');
      const call = customer.call('lat-gw', { mediaStream: customerTone.stream });
      const customerHeard = waitForEvent(call, 'remoteTrack', { timeoutMs: 20_000 }).then(({ track }) =>
        hear(track, 1000),
      );
      await waitForEvent(call, 'accepted', { timeoutMs: 20_000 });
      const answeredAt = performance.now();
      const customerAt = await customerHeard;
      const devicePending = heard.get('device');
      if (!devicePending) throw new Error('direct-media bench: the device got no remote track');
      const deviceAt = await devicePending;
      results.push({ mode, customerHears: customerAt - answeredAt, deviceHears: deviceAt - answeredAt });
      await call.hangup();
      const deadline = performance.now() + 10_000;
      while (gateway.activeCalls.length > 0 || device.activeCalls.length > 0) {
        if (performance.now() > deadline) throw new Error('direct-media bench: a leg did not end');
        await delay(50);
      }
      for (const analyser of analysers.splice(0)) analyser.stop();
    }
    return results;
  } finally {
    for (const analyser of analysers) analyser.stop();
    for (const bridge of bridges) bridge.close();
    await Promise.all(uas.map((ua) => ua.close()));
    for (const tone of tones) tone.stop();
  }
}

function answerRows(results: AnswerToAudio[]): string[] {
  const range = (values: number[]): string => {
    const sorted = [...values].sort((a, b) => a - b);
    return `${percentile(sorted, 50).toFixed(0)} / ${percentile(sorted, 95).toFixed(0)} ms (${(sorted[0] ?? 0).toFixed(0)}–${(sorted[sorted.length - 1] ?? 0).toFixed(0)})`;
  };
  return (['direct', 'bridge'] as const).map((mode) => {
    const rows = results.filter((r) => r.mode === mode);
    const both = rows.map((r) => Math.max(r.customerHears, r.deviceHears));
    return `| ${mode} | ${rows.length} | ${range(rows.map((r) => r.customerHears))} | ${range(rows.map((r) => r.deviceHears))} | ${range(both)} |`;
  });
}

export default async function directMediaBench(): Promise<BenchSection> {
  const root = projectRoot();
  const pbx = await startKamailio({ children: 4 });
  const children: ChildProcess[] = [];
  try {
    const device = await startEchoDesk(pbx, '5003-desk');
    children.push(device);

    // first, while the machine is calmest: the time from the answer to two-way audio
    console.log('[bench] direct media: answer to two-way audio, direct vs bridge');
    const answers = answerRows(await answerToAudio(pbx));

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
      const { child: customers } = await sippScenario(pbx, 'direct-customer.xml', [
        '-s',
        '5003',
        ...sippLoad({ rate: RATE, limit: level, calls: level, holdMs }),
      ]);
      children.push(customers);
      // a machine shared with other work may not reach the level: measure what is up, and say so
      const reached = await worker
        .until(() => worker.active >= level, rampMs + 60_000, `${level} established calls`)
        .then(
          () => true,
          (error: unknown) => {
            console.warn(`[bench] ${String(error)}: measuring the ${worker.active} calls up`);
            return false;
          },
        );
      await delay(1_000);
      const established = Math.max(worker.active, 1);
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
        `| ${level} | ${worker.active}${reached ? '' : ' (level not reached)'} | ${pct(gatewayMs / established, windowMs)} % | ${pct(gatewayMs, windowMs)} % | ` +
          `${((memory.rss - idle.rss) / established / 1024).toFixed(0)} KB | ${((memory.heapUsed - idle.heapUsed) / established / 1024).toFixed(0)} KB | ` +
          `${percentile(setups, 50).toFixed(0)} / ${percentile(setups, 95).toFixed(0)} ms | ` +
          `${pct(customersMs, windowMs)} % + ${pct(deviceMs, windowMs)} % |`,
      );
      console.log(`[bench] direct media: ${level} calls measured`);
      await worker.until(() => worker.active === 0, holdMs + 60_000, `${level} calls ended`);
      await exited(customers);
    }

    // set-ups per second: calls offered at 50/s, each 1 s long
    const from = worker.lines.length;
    const { child: probe } = await sippScenario(pbx, 'direct-customer.xml', [
      '-s',
      '5003',
      ...sippLoad({
        rate: SETUP_PROBE.rate,
        limit: SETUP_PROBE.calls,
        calls: SETUP_PROBE.calls,
        holdMs: 1000,
      }),
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
      'Bridge mode (both legs in wrtc, audio copied in JavaScript): see "Server-side calls: media cost per bridged call" in this file.',
      '',
      `Time from the answer to two-way audio, direct vs bridge (${ANSWER_CALLS} inbound calls each, alternating): JsSIP + wrtc ` +
        'bots as customer (400 Hz) and device (1000 Hz), the user agent in between in the bench process, either with ' +
        "pass-through legs (DirectMediaCall, DTLS end to end) or with libs/sip's bridged pair (two wrtc legs, AudioBridge). " +
        'The customer is answered once the device has answered, in both modes. Measured at the endpoints, from the 200 OK ' +
        `the customer receives to the first ${HEAR_WINDOW_MS} ms window in which each end recognises the other's tone ` +
        '(p50 / p95, min–max).',
      '',
      '| mode | calls | customer hears the device | device hears the customer | both ways |',
      '| --- | --- | --- | --- | --- |',
      ...answers,
    ].join('\n');
    return { title: 'Direct media (libs/sip, phase 1)', markdown };
  } finally {
    await Promise.all(children.map((c) => stopProcess(c)));
    await pbx.stop();
  }
}
