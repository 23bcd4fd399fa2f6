/**
 * The field profile next to the plain lab: what digest authentication, rtpengine and wss:// add.
 *
 * For each profile, a lab (plain: Kamailio without auth, JsSIP+wrtc bots; field: Kamailio with
 * digest auth and rtpengine, baresip desk phones and plain-RTP customers on the trunk), a
 * redis-server and the gateway as a CHILD PROCESS (dist/apps/gateway/src/main.js, so its CPU is
 * its own), agents 5000–5004 in mode 4 on their desk phones (field: over wss:// with the lab CA).
 *
 * 1. Set-up: a JsSIP caller in this process (field: a user with a password, so its INVITE is
 *    challenged with 407 and sent again with credentials) calls agent 5000; from the moment JsSIP
 *    hands the first INVITE to the WebSocket (its `sending` event) to `call.ringing` on /events.
 *    The caller then cancels and the next call starts once `call.ended` arrived.
 * 2. CPU per call: 5 customers call agents 5000–5004 at once; every call is bridged (audio checked
 *    on one); CPU of the gateway process (/proc/<pid>/stat) and of rtpengine (`Rtpengine.cpuMs()`)
 *    over WINDOWS windows of WINDOW_MS, minus an idle window of the same length, per call.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Bot } from '../apps/lab/src/bots.js';
import { labPasswords, labTone, labUsers, startLab, type Lab } from '../apps/lab/src/lab.js';
import { fieldDomainsYaml } from '../test/support/field-gateway.js';
import { spawnGateway, type GatewayProcess } from '../test/support/gateway-process.js';
import { API_KEY, labDomainsYaml, MOBILE_PREFIX, type LabAgent } from '../test/support/lab-gateway.js';
import { startRedis } from '../test/support/redis-server.js';
import { eventually, Tab } from '../test/support/tabs.js';
import { SessionProbe } from './support/session-probe.js';
import { nextEvent } from './support/timing.js';
import type { BenchSection } from './run.js';
import { percentile } from './stats.js';

const SETUP_WARM_UP = 3;
const SETUP_CALLS = 30;
const MEDIA_CALLS = 5;
const WINDOW_MS = 5_000;
const WINDOWS = 3;
const SETTLE_MS = 2_000;
const AGENTS: readonly LabAgent[] = Array.from({ length: MEDIA_CALLS }, (_, i) => ({
  ext: String(5000 + i),
  device: 4 as const,
}));
/** The set-up caller: a user of the PBX (field: with a password, so INVITEs are challenged). */
const CALLER = '0901000099';
const CALLER_PASSWORD = 'bench-caller-secret';

type Profile = 'plain' | 'field';

interface ProfileResult {
  profile: Profile;
  setup: { p50: number; p90: number; min: number; max: number };
  gatewayPerCall: number;
  rtpenginePerCall: number | undefined;
  idleGateway: number;
  load: number;
}

export default async function fieldBench(): Promise<BenchSection> {
  const results: ProfileResult[] = [];
  for (const profile of ['plain', 'field'] as const) {
    console.log(`[bench] field: ${profile} profile...`);
    results.push(await runProfile(profile));
  }
  return render(results);
}

async function runProfile(profile: Profile): Promise<ProfileResult> {
  const exts = AGENTS.map((a) => a.ext);
  const lab = await startLab({
    profile,
    customers: MEDIA_CALLS,
    ipPhones: exts,
    mobilePrefix: MOBILE_PREFIX,
    ...(profile === 'field'
      ? {
          agents: {
            ...Object.fromEntries(exts.map((ext) => [ext, labPasswords.agent(ext)])),
            [CALLER]: CALLER_PASSWORD,
          },
        }
      : {}),
  });
  const dir = mkdtempSync(join(tmpdir(), 'callgate-bench-field-'));
  const cleanup: (() => Promise<void>)[] = [
    () => Promise.resolve(rmSync(dir, { recursive: true, force: true })),
    () => lab.close(),
  ];
  const probe = new SessionProbe();
  cleanup.unshift(() => Promise.resolve(probe.uninstall()));
  try {
    const redis = await startRedis();
    cleanup.unshift(() => redis.stop());
    const configPath = join(dir, 'domains.yaml');
    writeFileSync(
      configPath,
      profile === 'field'
        ? fieldDomainsYaml(lab, AGENTS, { transport: 'wss' })
        : labDomainsYaml(lab.pbx.wsUri, {}, AGENTS),
    );
    const gateway = await spawnGateway({ instanceId: `bench-${profile}`, configPath, redisUrl: redis.url });
    cleanup.unshift(() => gateway.stop());
    const backend = await Tab.open(
      gateway.url,
      { domain: 'demo', apiKey: API_KEY },
      { namespace: '/events' },
    );
    cleanup.unshift(() => Promise.resolve(backend.close()));
    await eventually(
      async () => {
        for (const ext of exts) {
          const res = await fetch(`${gateway.url}/v1/demo/agents/${ext}`, {
            headers: { authorization: `Bearer ${API_KEY}` },
          });
          const sip = ((await res.json()) as { sip?: { registered?: boolean } | null }).sip;
          if (!sip?.registered) return undefined;
        }
        return true;
      },
      30_000,
      'every agent registered',
    );
    const setup = await measureSetup(lab, backend, probe, profile);
    const media = await measureMedia(lab, gateway, backend, profile);
    return { profile, setup, ...media, load: loadavg()[0] ?? 0 };
  } finally {
    for (const step of cleanup)
      await step().catch((err: unknown) => console.error('[bench] field cleanup', err));
  }
}

async function measureSetup(
  lab: Lab,
  backend: Tab,
  probe: SessionProbe,
  profile: Profile,
): Promise<ProfileResult['setup']> {
  const caller = new Bot({
    pbx: lab.pbx,
    user: CALLER,
    kind: 'customer',
    tone: 440,
    register: false,
    ...(profile === 'field' ? { password: CALLER_PASSWORD } : {}),
  });
  await caller.start();
  const samples: number[] = [];
  try {
    for (let i = 0; i < SETUP_WARM_UP + SETUP_CALLS; i++) {
      const ringing = nextEvent(backend, 'call.ringing', 20_000);
      const ended = nextEvent(backend, 'call.ended', 30_000);
      const call = caller.call('5000');
      const ringingAt = await ringing;
      await caller.hangup(call);
      await ended;
      const sentAt = probe.session(call.id)?.inviteSentAt;
      if (sentAt === undefined) throw new Error(`set-up call ${i}: the INVITE was not seen leaving`);
      if (i >= SETUP_WARM_UP) samples.push(Number(ringingAt - sentAt) / 1e6);
    }
  } finally {
    await caller.close();
  }
  const sorted = samples.sort((a, b) => a - b);
  return {
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    min: sorted[0] ?? Number.NaN,
    max: sorted.at(-1) ?? Number.NaN,
  };
}

async function measureMedia(
  lab: Lab,
  gateway: GatewayProcess,
  backend: Tab,
  profile: Profile,
): Promise<Pick<ProfileResult, 'gatewayPerCall' | 'rtpenginePerCall' | 'idleGateway'>> {
  const rtpCpu = (): number => lab.rtpengine?.cpuMs() ?? 0;
  const window = async (): Promise<{ gateway: number; rtpengine: number }> => {
    const [g0, r0, t0] = [processCpuMs(gateway.pid), rtpCpu(), performance.now()];
    await new Promise((resolve) => setTimeout(resolve, WINDOW_MS));
    const elapsed = performance.now() - t0;
    return {
      gateway: ((processCpuMs(gateway.pid) - g0) / elapsed) * 100,
      rtpengine: ((rtpCpu() - r0) / elapsed) * 100,
    };
  };
  const idle = await window();
  const from = backend.events.length;
  const hangups: (() => Promise<void>)[] = [];
  for (let i = 0; i < MEDIA_CALLS; i++) {
    const ext = AGENTS[i]?.ext ?? '';
    const customer = labUsers.customer(i + 1);
    if (profile === 'field') {
      const phone = lab.phone(customer).phone;
      await phone.dial(`sip:${ext}@${lab.pbx.sipDomain}`);
      hangups.push(() => phone.hangup());
    } else {
      const bot = lab.bot(customer);
      const call = bot.call(ext);
      hangups.push(async () => void (await bot.hangup(call)));
    }
  }
  try {
    await eventually(
      () =>
        backend.events.slice(from).filter((e) => e.type === 'call.accepted').length >= MEDIA_CALLS
          ? true
          : undefined,
      30_000,
      `${MEDIA_CALLS} calls bridged`,
    );
    // One call's audio, both ways: the bridge is really carrying media.
    if (profile === 'field') {
      await lab.phone(labUsers.ipPhone('5000')).phone.hears(labTone('customer', 0), 15_000);
      await lab.phone(labUsers.customer(1)).phone.hears(labTone('ipPhone', 0), 15_000);
    } else {
      await lab.bot(labUsers.ipPhone('5000')).hears({ frequency: labTone('customer', 0), timeoutMs: 15_000 });
      await lab.bot(labUsers.customer(1)).hears({ frequency: labTone('ipPhone', 0), timeoutMs: 15_000 });
    }
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const busy: { gateway: number; rtpengine: number }[] = [];
    for (let w = 0; w < WINDOWS; w++) busy.push(await window());
    const median = (xs: number[]): number =>
      percentile(
        [...xs].sort((a, b) => a - b),
        50,
      );
    return {
      gatewayPerCall: (median(busy.map((b) => b.gateway)) - idle.gateway) / MEDIA_CALLS,
      rtpenginePerCall:
        profile === 'field'
          ? (median(busy.map((b) => b.rtpengine)) - idle.rtpengine) / MEDIA_CALLS
          : undefined,
      idleGateway: idle.gateway,
    };
  } finally {
    const endedFrom = backend.events.length;
    for (const hangup of hangups) await hangup().catch(() => undefined);
    await eventually(
      () =>
        backend.events.slice(from).filter((e) => e.type === 'call.ended').length >= MEDIA_CALLS ||
        backend.events.length - endedFrom > 4 * MEDIA_CALLS
          ? true
          : undefined,
      30_000,
      'every media call ended',
    ).catch((err: unknown) => console.error('[bench] field:', err));
  }
}

/** CPU time (user + system, every thread) a process has used so far, in ms (Linux /proc, 100 ticks/s). */
function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function render(results: readonly ProfileResult[]): BenchSection {
  const row = (r: ProfileResult): string =>
    `| ${r.profile} | ${r.setup.p50.toFixed(1)} ms | ${r.setup.p90.toFixed(1)} ms | ${r.setup.min.toFixed(1)}–${r.setup.max.toFixed(1)} ms | ${r.gatewayPerCall.toFixed(2)} % | ${r.rtpenginePerCall === undefined ? '—' : `${r.rtpenginePerCall.toFixed(2)} %`} | ${r.load.toFixed(2)} |`;
  return {
    title: 'Field profile: set-up with digest auth, CPU of the gateway and rtpengine per call',
    markdown: `Side by side, the plain lab (Kamailio without auth, WebRTC bots) and the field profile (Kamailio
with digest auth over wss:// with the lab CA, rtpengine in userspace, baresip desk phones and plain-RTP
customers). Set-up: from the caller's first INVITE leaving (JsSIP's \`sending\`) to \`call.ringing\` on
\`/events\`, ${SETUP_CALLS} calls one after the other to agent 5000 (mode 4), the caller a JsSIP user of the
PBX (field: challenged with 407, so this includes the second INVITE with credentials, and rtpengine's
offer). CPU: ${MEDIA_CALLS} bridged calls at once (customer → gateway → desk phone; the gateway's legs speak
Opus in the plain lab and PCMU in the field, where the baresip ends offer and answer only G.711 and
rtpengine does not transcode), median of ${WINDOWS} windows of ${WINDOW_MS / 1000} s minus an
idle window, per call, in % of one core; the gateway is a separate process, rtpengine is the lab's.
The machine is shared with other suites: the figures are upper bounds.

| profile | set-up p50 | p90 | min–max | gateway CPU per call | rtpengine CPU per call | load (1 min) |
|---|---:|---:|---:|---:|---:|---:|
${results.map(row).join('\n')}`,
  };
}
