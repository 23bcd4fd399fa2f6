/**
 * Server-side calls, media cost: 5, 10 and 20 concurrent calls (customers → agents in mode 4
 * → their IP phones, each bot playing its own tone, audio checked both ways): bridged (`pbx.media:
 * bridge`) with Opus (the default) and with PCMU (AUDIO_CODECS=PCMU), and with direct media
 * (`pbx.media: direct`: the bots' SDP handed through, RTP and DTLS bot to bot), side by side. Gateway CPU over a steady window after every call is
 * bridged, minus the idle baseline, per call; RSS (after a full GC) above the idle one, per call.
 * The codecs of the SDP the gateway sent, and the codec in use (getStats), are recorded. The
 * gateway is a child process (bench/support/gateway-process.ts); the bots' SDP is observed by
 * bench/support/session-probe.ts.
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type SipCall, waitForEvent } from '@callgate/sip';
import type { Bot } from '../apps/lab/src/bots.js';
import { labTone, labUsers, startLab, type Lab } from '../apps/lab/src/lab.js';
import type { BenchSection } from './run.js';
import { median, slope } from './stats.js';
import { machineBusyCores, machineTicks, percentOfCore } from './support/cpu.js';
import {
  allRegistered,
  domainsYaml,
  GatewayProcess,
  gatewayBench,
  idleWindow,
  type Progress,
  type Memory,
} from './support/gateway-process.js';
import { type ProbedSession, SessionProbe } from './support/session-probe.js';
import { bounded, sleep } from './support/timing.js';

const MEDIA_LEVELS = [5, 10, 20] as const;
const MEDIA_AGENTS = Math.max(...MEDIA_LEVELS);
/** the steady window, measured as SLICES equal slices */
const WINDOW_MS = 10_000;
const SLICES = 5;
/** after the last call is bridged (both bots hear the other's tone), before the window */
const SETTLE_MS = 2_000;
const IDLE_BASELINE_MS = 5_000;
const FIRST_MEDIA_AGENT = 5000;
/** single calls, one after the other, timed from the customer's 200 OK to two-way audio */
const ANSWER_SAMPLES = 5;

interface CodecRun {
  label: string;
  /** the domain's `pbx.media`: bridge (both legs in wrtc) or direct (SDP handed through, RTP bot to bot) */
  media: 'bridge' | 'direct';
  /** AUDIO_CODECS of the gateway; undefined: not set (JsSIP's default order) */
  audioCodecs: string | undefined;
}
const CODEC_RUNS: readonly CodecRun[] = [
  { label: 'Opus (default), bridge', media: 'bridge', audioCodecs: undefined },
  { label: 'PCMU, bridge', media: 'bridge', audioCodecs: 'PCMU' },
  { label: 'Opus, direct', media: 'direct', audioCodecs: undefined },
];

export default function callsMediaBench(): Promise<BenchSection> {
  return gatewayBench('calls-media', 'Server-side calls: media cost per bridged call', async (bench) => {
    const probe = new SessionProbe();
    bench.onCleanup(() => probe.uninstall());
    const agents = Array.from({ length: MEDIA_AGENTS }, (_, i) => String(FIRST_MEDIA_AGENT + i));
    const lab = await startLab({ customers: MEDIA_AGENTS, ipPhones: agents });
    bench.onCleanup(() => lab.close());
    const media: MediaResult[] = [];
    for (const run of CODEC_RUNS) {
      const mediaConfig = join(bench.dir, `media-${run.media}.yaml`);
      writeFileSync(
        mediaConfig,
        domainsYaml(lab.pbx.wsUri, lab.pbx.sipDomain, agents, 4, { media: run.media }),
      );
      const gateway = await GatewayProcess.start(
        {
          CALLGATE_CONFIG: mediaConfig,
          RING_TIMEOUT_MS: '10000',
          ...(run.audioCodecs ? { AUDIO_CODECS: run.audioCodecs } : {}),
        },
        bench.gateways,
      );
      try {
        await allRegistered(gateway, agents);
        bench.progress.log(run.label);
        media.push(await measureMedia(lab, gateway, probe, run, bench.progress));
      } finally {
        await gateway.stop();
      }
    }
    return (opening) => render(media, opening);
  });
}

interface BridgedCall {
  index: number;
  customer: Bot;
  phone: Bot;
  /** the customer's leg (to the gateway) */
  customerCall: SipCall;
  /** the IP phone's leg (from the gateway) */
  deviceCall: SipCall;
}

interface LevelResult {
  calls: number;
  /** which attempt was kept (a level is measured again once when its window was not clean) */
  attempt: number;
  /** gateway CPU over the window, % of one core */
  cpuPercent: number;
  /** of which the main thread (JavaScript: the bridge's sink and source callbacks, signalling) */
  mainThreadPercent: number;
  /** (cpuPercent - idle) / calls */
  cpuPerCall: number;
  /** per call, lowest and highest of the window's slices */
  sliceMin: number;
  sliceMax: number;
  /** RSS after a full GC at the end of the window (MB) */
  rssMb: number;
  /** rssMb minus the idle RSS (MB), and per call */
  rssAboveIdleMb: number;
  rssPerCallMb: number;
  /** of which the V8 heap in use, per call (MB) */
  heapPerCallMb: number;
  /** this process (the bots) over the window, % of one core */
  botsCpu: number;
  /** the machine's busy time not spent by the gateway or the bots (Kamailio, the kernel, other work), % of one core */
  restCpu: number;
  /** RTP packets per second received by a bot's leg, lowest leg (50/s is every 20 ms packet) */
  packetsPerSecondMin: number;
  /** share of the audio the bots played out that the jitter buffer had to conceal, worst leg (%) */
  concealedMaxPercent: number;
  /** calls whose two bots each hear the other's tone at the end of the window */
  audioBothWays: number;
  load1: number;
}

interface CodecCheck {
  /** codecs of the gateway's SDP answers to customers, e.g. "PCMU, telephone-event" */
  answerToCustomer: string[];
  /** codecs of the gateway's SDP offers to IP phones */
  offerToPhone: string[];
  /** getStats of the bots' legs: codec of the received RTP */
  inUse: string[];
}

interface MediaResult {
  label: string;
  audioCodecs: string | undefined;
  idleCpuPercent: number;
  idleRssMb: number;
  levels: LevelResult[];
  /** the level whose calls did not all come up in any attempt (the run stopped there) */
  unbridged: Unbridged[];
  /** least-squares slope of the window's RSS against the number of calls (MB per call) */
  marginalRssPerCallMb: number;
  codecs: CodecCheck;
  answerToAudio: AnswerToAudio;
}

interface Unbridged {
  calls: number;
  reason: string;
  load1: number;
}

/** Medians over ANSWER_SAMPLES single calls, ms from the customer's leg being answered (its 200 OK). */
interface AnswerToAudio {
  /** the customer bot hears the IP phone's tone */
  customerMs: number;
  /** the IP phone bot hears the customer's tone */
  phoneMs: number;
  /** both (the later of the two, per call) */
  bothMs: number;
}

/** Up to this many windows per level: one more when the first was not clean (while the bench is younger than RETRY_BUDGET_MS). */
const MEDIA_ATTEMPTS = 2;
const RETRY_BUDGET_MS = 200_000;
/** A window is clean when every call has audio both ways, little is concealed, and the rest of the machine stays below this (% of a core). */
const REST_CPU_LIMIT = 50;
const CONCEALED_LIMIT_PERCENT = 2;

function clean(level: LevelResult): boolean {
  return (
    level.audioBothWays === level.calls &&
    level.concealedMaxPercent <= CONCEALED_LIMIT_PERCENT &&
    level.restCpu <= REST_CPU_LIMIT
  );
}

async function measureMedia(
  lab: Lab,
  gateway: GatewayProcess,
  probe: SessionProbe,
  run: CodecRun,
  progress: Progress,
): Promise<MediaResult> {
  // Warm-up: the first bridged call of a process sets up wrtc's threads and codecs.
  await hangUpAll(await bridge(lab, 1));
  await sleep(1_000);
  const answerToAudio = await timeAnswerToAudio(lab);
  await sleep(1_000);
  const { cpuPercent: idleCpuPercent, memory: idleMemory } = await idleWindow(gateway, IDLE_BASELINE_MS);
  const levels: LevelResult[] = [];
  const checks: CodecCheck = { answerToCustomer: [], offerToPhone: [], inUse: [] };
  const unbridged: Unbridged[] = [];
  for (const count of MEDIA_LEVELS) {
    let kept: LevelResult | undefined;
    let failure: string | undefined;
    for (let attempt = 1; attempt <= MEDIA_ATTEMPTS; attempt++) {
      let calls: BridgedCall[];
      try {
        calls = await bridge(lab, count);
        failure = undefined;
      } catch (error) {
        // a level that does not come up (the machine too busy for that many wrtc legs) is noted, not fatal
        failure = error instanceof Error ? error.message : String(error);
        progress.log(`${run.label}, ${count} calls, attempt ${attempt}: ${failure}`);
        await sleep(3_000);
        continue;
      }
      let level: LevelResult;
      try {
        await sleep(SETTLE_MS);
        level = await measureWindow(gateway, calls, probe, idleCpuPercent, idleMemory, attempt);
        addCodecs(checks, await codecsOf(calls, probe));
      } finally {
        await hangUpAll(calls);
      }
      await sleep(1_000);
      progress.log(
        `${run.label}, ${count} calls, attempt ${attempt}: ${level.cpuPerCall.toFixed(2)} % of a core and ` +
          `${level.rssPerCallMb.toFixed(2)} MB per call; audio both ways ${level.audioBothWays}/${count}, ` +
          `concealed ≤ ${level.concealedMaxPercent.toFixed(1)} %, rest of the machine ${Math.round(level.restCpu)} %`,
      );
      if (!kept || better(level, kept)) kept = level;
      if (clean(level) || progress.elapsedMs > RETRY_BUDGET_MS) break;
    }
    if (kept) levels.push(kept);
    else if (failure !== undefined) {
      // the higher levels need even more of the machine
      unbridged.push({ calls: count, reason: failure, load1: loadavg()[0] ?? 0 });
      break;
    }
  }
  const codecs = {
    answerToCustomer: [...new Set(checks.answerToCustomer)],
    offerToPhone: [...new Set(checks.offerToPhone)],
    inUse: [...new Set(checks.inUse)],
  };
  assertCodecs(run, codecs);
  return {
    label: run.label,
    audioCodecs: run.audioCodecs,
    idleCpuPercent,
    idleRssMb: idleMemory.rssKb / 1024,
    levels,
    unbridged,
    marginalRssPerCallMb: slope(
      levels.map((l) => l.calls),
      levels.map((l) => l.rssMb),
    ),
    codecs,
    answerToAudio,
  };
}

/**
 * ANSWER_SAMPLES single calls, customer 1 → agent 5000 → its IP phone, one after the other: the time
 * from the customer's leg being answered (the gateway's 200 OK reaching the customer bot) to each bot
 * hearing the other's tone (the bots' analyser needs a 200 ms window of tone, in both modes alike).
 */
async function timeAnswerToAudio(lab: Lab): Promise<AnswerToAudio> {
  const samples: { customerMs: number; phoneMs: number }[] = [];
  const agent = String(FIRST_MEDIA_AGENT);
  const customer = lab.bot(labUsers.customer(1));
  const phone = lab.bot(labUsers.ipPhone(agent));
  for (let i = 0; i < ANSWER_SAMPLES; i++) {
    const incoming = phone.waitFor('incoming', { timeoutMs: 15_000 });
    const customerCall = customer.call(agent);
    const answered = waitForEvent(customerCall, 'accepted', { timeoutMs: 15_000 }).then(() =>
      performance.now(),
    );
    const deviceCall = (await incoming).call;
    const call: BridgedCall = { index: 0, customer, phone, customerCall, deviceCall };
    try {
      const heard = await Promise.all([
        customer
          .hears({ call: customerCall, frequency: labTone('ipPhone', 0), timeoutMs: 15_000 })
          .then(() => performance.now()),
        phone
          .hears({ call: deviceCall, frequency: labTone('customer', 0), timeoutMs: 15_000 })
          .then(() => performance.now()),
      ]);
      const answeredAt = await answered;
      samples.push({ customerMs: heard[0] - answeredAt, phoneMs: heard[1] - answeredAt });
    } finally {
      await hangUpAll([call]);
    }
    await sleep(500);
  }
  return {
    customerMs: median(samples.map((s) => s.customerMs)),
    phoneMs: median(samples.map((s) => s.phoneMs)),
    bothMs: median(samples.map((s) => Math.max(s.customerMs, s.phoneMs))),
  };
}

/** The cleaner of two windows: more calls with audio both ways, then less concealment, then a quieter machine. */
function better(a: LevelResult, b: LevelResult): boolean {
  if (clean(a) !== clean(b)) return clean(a);
  if (a.audioBothWays !== b.audioBothWays) return a.audioBothWays > b.audioBothWays;
  if (a.concealedMaxPercent !== b.concealedMaxPercent) return a.concealedMaxPercent < b.concealedMaxPercent;
  return a.restCpu < b.restCpu;
}

/** Places `count` calls at once, customer i → agent 5000+i → its IP phone; resolves once all are bridged. */
async function bridge(lab: Lab, count: number): Promise<BridgedCall[]> {
  const placed = Array.from({ length: count }, (_, index) => {
    const agent = String(FIRST_MEDIA_AGENT + index);
    const customer = lab.bot(labUsers.customer(index + 1));
    const phone = lab.bot(labUsers.ipPhone(agent));
    const incoming = phone.waitFor('incoming', { timeoutMs: 15_000 });
    const customerCall = customer.call(agent);
    return { index, customer, phone, customerCall, incoming };
  });
  const calls: BridgedCall[] = [];
  const results = await Promise.allSettled(
    placed.map(async ({ index, customer, phone, customerCall, incoming }) => {
      const deviceCall = (await incoming).call;
      calls.push({ index, customer, phone, customerCall, deviceCall });
      await customer.hears({
        call: customerCall,
        frequency: labTone('ipPhone', index),
        timeoutMs: 15_000,
      });
      await phone.hears({ call: deviceCall, frequency: labTone('customer', index), timeoutMs: 15_000 });
    }),
  );
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await hangUpAll(calls);
    await Promise.all(placed.map((p) => p.customerCall.hangup().catch(() => undefined)));
    throw new Error(`bridging ${count} calls failed: ${String(failed.reason)}`);
  }
  return calls.sort((a, b) => a.index - b.index);
}

/** The customers hang up; resolves once both legs of every call are over. */
async function hangUpAll(calls: readonly BridgedCall[]): Promise<void> {
  await Promise.all(calls.map((c) => c.customerCall.hangup().catch(() => undefined)));
  await Promise.all(
    calls.flatMap((c) => [
      bounded(c.customerCall.terminated, 10_000),
      bounded(c.deviceCall.terminated, 10_000),
    ]),
  );
}

async function measureWindow(
  gateway: GatewayProcess,
  calls: readonly BridgedCall[],
  probe: SessionProbe,
  idleCpuPercent: number,
  idleMemory: Memory,
  attempt: number,
): Promise<LevelResult> {
  const legs = calls.flatMap((c) => [c.customerCall, c.deviceCall].map((call) => probe.session(call.id)));
  const rtp0 = await Promise.all(legs.map((leg) => inboundAudio(leg?.session)));
  const machine0 = machineTicks();
  const bots0 = process.cpuUsage();
  const t0 = performance.now();
  const cpu0 = gateway.cpuSeconds();
  const main0 = gateway.mainThreadCpuSeconds();
  let sliceStartCpu = cpu0;
  let sliceStart = t0;
  const slices: number[] = [];
  for (let i = 0; i < SLICES; i++) {
    await sleep(WINDOW_MS / SLICES);
    const now = performance.now();
    const cpu = gateway.cpuSeconds();
    slices.push(percentOfCore(cpu - sliceStartCpu, now - sliceStart));
    sliceStartCpu = cpu;
    sliceStart = now;
  }
  const elapsed = performance.now() - t0;
  const cpuPercent = percentOfCore(gateway.cpuSeconds() - cpu0, elapsed);
  const mainThreadPercent = percentOfCore(gateway.mainThreadCpuSeconds() - main0, elapsed);
  const bots = process.cpuUsage(bots0);
  const machine1 = machineTicks();
  const memory = await gateway.settledMemory();
  const rtp1 = await Promise.all(legs.map((leg) => inboundAudio(leg?.session)));
  const rtpDeltas = rtp1.map((after, i) => {
    const before = rtp0[i];
    const packets = after.packetsReceived - (before?.packetsReceived ?? 0);
    const samples = after.totalSamplesReceived - (before?.totalSamplesReceived ?? 0);
    const concealed = after.concealedSamples - (before?.concealedSamples ?? 0);
    return { packetsPerSecond: packets / (elapsed / 1000), concealed: samples > 0 ? concealed / samples : 1 };
  });
  const hears = (snapshot: { frequency: number | null; level: number } | undefined, hz: number): boolean =>
    snapshot !== undefined &&
    snapshot.frequency !== null &&
    snapshot.level >= 0.02 &&
    Math.abs(snapshot.frequency - hz) <= Math.max(15, hz * 0.05);
  const audioBothWays = calls.filter(
    (c) =>
      hears(c.customer.audio(c.customerCall), labTone('ipPhone', c.index)) &&
      hears(c.phone.audio(c.deviceCall), labTone('customer', c.index)),
  ).length;
  const n = calls.length;
  const perCall = (percent: number): number => (percent - idleCpuPercent) / n;
  const botsCpu = ((bots.user + bots.system) / 1000 / elapsed) * 100;
  return {
    calls: n,
    attempt,
    cpuPercent,
    mainThreadPercent,
    cpuPerCall: perCall(cpuPercent),
    sliceMin: perCall(Math.min(...slices)),
    sliceMax: perCall(Math.max(...slices)),
    rssMb: memory.rssKb / 1024,
    rssAboveIdleMb: (memory.rssKb - idleMemory.rssKb) / 1024,
    rssPerCallMb: (memory.rssKb - idleMemory.rssKb) / 1024 / n,
    heapPerCallMb: (memory.heapUsedKb - idleMemory.heapUsedKb) / 1024 / n,
    botsCpu,
    restCpu: machineBusyCores(machine0, machine1) * 100 - cpuPercent - botsCpu,
    packetsPerSecondMin: Math.min(...rtpDeltas.map((d) => d.packetsPerSecond)),
    concealedMaxPercent: Math.max(...rtpDeltas.map((d) => d.concealed)) * 100,
    audioBothWays,
    load1: loadavg()[0] ?? 0,
  };
}

type StatsEntry = Record<string, unknown>;

async function statsOf(session: ProbedSession['session'] | undefined): Promise<StatsEntry[]> {
  const pc = session?.connection;
  if (!pc) return [];
  const report = await pc.getStats();
  return [...(report as unknown as Map<string, StatsEntry>).values()];
}

const inboundOf = (stats: readonly StatsEntry[]): StatsEntry | undefined =>
  stats.find((s) => s.type === 'inbound-rtp' && (s.kind ?? s.mediaType) === 'audio');

/** Counters of the audio a bot's leg receives (getStats `inbound-rtp`); zeros without a peer connection. */
async function inboundAudio(
  session: ProbedSession['session'] | undefined,
): Promise<{ packetsReceived: number; totalSamplesReceived: number; concealedSamples: number }> {
  const inbound = inboundOf(await statsOf(session));
  const num = (key: string): number => (typeof inbound?.[key] === 'number' ? inbound[key] : 0);
  return {
    packetsReceived: num('packetsReceived'),
    totalSamplesReceived: num('totalSamplesReceived'),
    concealedSamples: num('concealedSamples'),
  };
}

/** The codec of the RTP a bot's leg receives (getStats: the inbound-rtp's codec). */
async function receivedCodec(session: ProbedSession['session'] | undefined): Promise<string> {
  const stats = await statsOf(session);
  const inbound = inboundOf(stats);
  const codec = stats.find((s) => s.type === 'codec' && s.id === inbound?.codecId);
  return typeof codec?.mimeType === 'string' ? codec.mimeType : 'unknown';
}

/** The codecs of the gateway's SDP (as the bots received it) and of the RTP the bots receive. */
async function codecsOf(calls: readonly BridgedCall[], probe: SessionProbe): Promise<CodecCheck> {
  const check: CodecCheck = { answerToCustomer: [], offerToPhone: [], inUse: [] };
  for (const call of calls) {
    const customerLeg = probe.session(call.customerCall.id);
    const deviceLeg = probe.session(call.deviceCall.id);
    const answer = customerLeg?.sdp.find((s) => s.originator === 'remote' && s.type === 'answer');
    const offer = deviceLeg?.sdp.find((s) => s.originator === 'remote' && s.type === 'offer');
    check.answerToCustomer.push(answer ? answer.codecs.join(', ') : 'not seen');
    check.offerToPhone.push(offer ? offer.codecs.join(', ') : 'not seen');
    for (const leg of [customerLeg, deviceLeg]) check.inUse.push(await receivedCodec(leg?.session));
  }
  return check;
}

function addCodecs(into: CodecCheck, from: CodecCheck): void {
  into.answerToCustomer.push(...from.answerToCustomer);
  into.offerToPhone.push(...from.offerToPhone);
  into.inUse.push(...from.inUse);
}

/** The SDP the gateway sent lists the expected codec first (with AUDIO_CODECS: no other media codec), and the RTP is that codec. */
function assertCodecs(run: CodecRun, codecs: CodecCheck): void {
  const expected = (run.audioCodecs ?? 'opus').split(',');
  const first = expected[0] ?? 'opus';
  for (const list of [...codecs.answerToCustomer, ...codecs.offerToPhone]) {
    const names = list.split(', ');
    const media = names.filter((name) => name !== 'telephone-event');
    const ok = run.audioCodecs ? media.every((name) => expected.includes(name)) : true;
    if (names[0] !== first || !ok) {
      throw new Error(`${run.label}: the gateway's SDP lists ${list}; expected ${expected.join(', ')}`);
    }
  }
  for (const codec of codecs.inUse) {
    if (codec.toLowerCase() !== `audio/${first}`.toLowerCase()) {
      throw new Error(`${run.label}: the RTP received is ${codec}, not ${first}`);
    }
  }
}

/** "opus, CN, CN, CN" → "opus, CN ×3". */
function compact(list: string): string {
  const out: { name: string; count: number }[] = [];
  for (const name of list.split(', ')) {
    const last = out[out.length - 1];
    if (last?.name === name) last.count++;
    else out.push({ name, count: 1 });
  }
  return out.map((e) => (e.count > 1 ? `${e.name} ×${e.count}` : e.name)).join(', ');
}

/** Bridge ÷ direct, CPU and RSS per call, at each level both ran (the same bots, the same run). */
function directRatios(media: readonly MediaResult[]): string[] {
  const direct = media.find((m) => m.label.endsWith('direct'));
  if (!direct) return [];
  const rows = media
    .filter((m) => m !== direct)
    .flatMap((m) =>
      m.levels.flatMap((l) => {
        const d = direct.levels.find((x) => x.calls === l.calls);
        if (!d) return [];
        const ratio = (a: number, b: number): string =>
          b > 0 ? `${(a / b).toFixed(0)}×` : 'direct: no tick';
        return [
          `| ${m.label} ÷ direct | ${l.calls} | ${ratio(l.cpuPerCall, d.cpuPerCall)} | ${ratio(l.rssPerCallMb, d.rssPerCallMb)} |`,
        ];
      }),
    );
  return ['| ratio | calls | CPU per call | RSS per call |', '| --- | ---: | ---: | ---: |', ...rows, ''];
}

function render(media: readonly MediaResult[], opening: string): string {
  const f1 = (n: number): string => n.toFixed(1);
  const f2 = (n: number): string => n.toFixed(2);
  const lines = [
    opening,
    '',
    `Customer i calls agent ${FIRST_MEDIA_AGENT}+i (mode 4), the gateway rings the agent's IP phone bot, ` +
      `which answers; with \`pbx.media: bridge\` the gateway bridges the two legs (its AudioBridge), with \`direct\` it hands each leg's SDP to the other and the bots' RTP flows bot to bot (the same bots, so the ratio of the "per call" figures is the gateway's saving). All calls of a level are placed at ` +
      `once; once both bots of every call hear the other's tone, ${SETTLE_MS / 1000} s of settling, then a ` +
      `${WINDOW_MS / 1000} s window (${SLICES} slices of ${WINDOW_MS / SLICES / 1000} s). Per call = ` +
      `(gateway CPU over the window − idle CPU) / calls; "slices" is the same for the lowest and the ` +
      `highest slice; "main thread" is the part of the gateway's CPU spent by its main thread ` +
      `(\`/proc/<pid>/task/<pid>/stat\`: JavaScript and the native calls it makes, i.e. the bridge's callbacks and the signalling), the ` +
      `rest being wrtc's and libuv's threads. RSS is read after the window, after a full GC, calls still up; RSS per call = (RSS − ` +
      `idle RSS) / calls, the idle figures (CPU over ${IDLE_BASELINE_MS / 1000} s, then RSS) being taken ` +
      `after one warm-up call (the first call of a process loads wrtc's codecs and threads); "marginal RSS ` +
      `per call" is the least-squares slope of RSS against the number of calls over the levels. One ` +
      `gateway process per codec, levels in increasing order. Audio quality over the window from ` +
      `the bots' getStats (\`inbound-rtp\`): RTP packets per second of the worst leg (50/s: every 20 ms ` +
      `packet arrived) and the share of played-out audio the worst leg's jitter buffer concealed; "audio ` +
      `both ways": both bots of the call still hear the other's tone at the end of the window. "bots" is the ` +
      `bench process's CPU; "rest of the machine" the busy time of all cores not spent by the gateway or the ` +
      `bots (Kamailio, the kernel's loopback networking, any other work on the machine; it can read a few ` +
      `% below zero, the kernel's machine-wide and per-process accounts differing slightly). A window that is ` +
      `not clean (a call without audio both ways, more than ${CONCEALED_LIMIT_PERCENT} % concealed, or the ` +
      `rest of the machine above ${REST_CPU_LIMIT} % of a core) is measured once more, while the bench has ` +
      `run less than ${RETRY_BUDGET_MS / 1000} s, and the cleaner attempt kept ("attempt").`,
    '',
    '| run | calls | gateway CPU (% of a core) | of which main thread | **CPU per call (% of a core)** | slices per call | RSS above idle (MB) | **RSS per call (MB)** | of which V8 heap (MB) | bots (% of a core) | rest of the machine (% of a core) | RTP packets/s, lowest leg | concealed, worst leg | audio both ways | attempt | load 1 min |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...media.flatMap((m) =>
      m.levels.map(
        (l) =>
          `| ${m.label} | ${l.calls} | ${f1(l.cpuPercent)} | ${f1(l.mainThreadPercent)} | **${f2(l.cpuPerCall)}** | ${f2(l.sliceMin)}–${f2(l.sliceMax)} | ` +
          `${f1(l.rssAboveIdleMb)} | **${f2(l.rssPerCallMb)}** | ${f2(l.heapPerCallMb)} | ${Math.round(l.botsCpu)} | ${Math.round(l.restCpu)} | ` +
          `${f1(l.packetsPerSecondMin)} | ${f1(l.concealedMaxPercent)} % | ${l.audioBothWays}/${l.calls} | ${l.attempt} | ${f2(l.load1)} |`,
      ),
    ),
    '',
    '| run | `AUDIO_CODECS` | idle CPU (% of a core) | idle RSS (MB) | **marginal RSS per call (MB)** | gateway SDP answer to customers | gateway SDP offer to IP phones | RTP received by the bots (getStats) |',
    '| --- | --- | ---: | ---: | ---: | --- | --- | --- |',
    ...media.map(
      (m) =>
        `| ${m.label} | ${m.audioCodecs ?? 'unset'} | ${f2(m.idleCpuPercent)} | ${f1(m.idleRssMb)} | ` +
        `**${f2(m.marginalRssPerCallMb)}** | ${m.codecs.answerToCustomer.map(compact).join('; ')} | ` +
        `${m.codecs.offerToPhone.map(compact).join('; ')} | ${m.codecs.inUse.join('; ')} |`,
    ),
    '',
    `The SDP columns list the payload formats of the m=audio line the bots received from the gateway ` +
      `(every call of every level; in direct mode the other bot's SDP, handed through); the bench fails if a ` +
      `PCMU run sees any other media codec.`,
    '',
    ...media.flatMap((m) =>
      m.unbridged.map(
        (u) =>
          `${m.label}, ${u.calls} calls: not every call came up in ${MEDIA_ATTEMPTS} attempts (${u.reason}; load 1 min ` +
          `${u.load1.toFixed(2)}), so the run stopped at that level.`,
      ),
    ),
    '',
    `Time from the answer to two-way audio (median of ${ANSWER_SAMPLES} single calls per run, placed one after ` +
      `the other after the warm-up call, before the levels): from the gateway's 200 OK reaching the customer bot ` +
      `(the gateway answers the customer once the IP phone has answered) to each bot hearing the other's tone ` +
      `(the bots' analyser needs 200 ms of tone, which every figure includes alike).`,
    '',
    '| run | customer hears the IP phone (ms) | IP phone hears the customer (ms) | **both ways (ms)** |',
    '| --- | ---: | ---: | ---: |',
    ...media.map(
      (m) =>
        `| ${m.label} | ${Math.round(m.answerToAudio.customerMs)} | ${Math.round(m.answerToAudio.phoneMs)} | ` +
        `**${Math.round(m.answerToAudio.bothMs)}** |`,
    ),
    '',
    ...directRatios(media),
  ];
  return `${lines.join('\n')}\n`;
}
