/**
 * The gateway as a CHILD PROCESS for the benchmarks (`node dist/apps/gateway/src/main.js`,
 * LOG_LEVEL=log, in-memory coordination), so that its CPU and memory are its own, with the bench
 * domain's config, agent logins and REST polling.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { SignJWT } from 'jose';
import { WebSocket } from 'ws';
import { projectRoot } from '../../apps/gateway/src/config.js';
import { labUsers } from '../../apps/lab/src/lab.js';
import { eventually } from '../../test/support/tabs.js';
import type { BenchSection } from '../run.js';
import { CLOCK_TICKS, percentOfCore, ticksOf } from './cpu.js';
import { sleep } from './timing.js';

export const DOMAIN = 'bench';
const ACCESS_KEY = 'bench-calls-access-key-0123456789abcdef';
const API_KEY = 'bench-calls-api-key-0123456789';
const SESSION_SECRET = 'bench-calls-session-secret-0123456789abcdef';

/** `[bench] <subject> +<s> s: <message>`, the seconds counted from the subject's start. */
export function progressOf(subject: string): { log(message: string): void; readonly elapsedMs: number } {
  const started = performance.now();
  return {
    log: (message) =>
      console.log(`[bench] ${subject} +${((performance.now() - started) / 1000).toFixed(0)} s: ${message}`),
    get elapsedMs() {
      return performance.now() - started;
    },
  };
}

export type Progress = ReturnType<typeof progressOf>;

export interface GatewayBenchContext {
  /** a scratch folder, removed afterwards */
  dir: string;
  /** every gateway started here is stopped afterwards (GatewayProcess.start's registry) */
  gateways: Set<GatewayProcess>;
  progress: Progress;
  /** runs after the gateways are stopped, last added first (e.g. the lab's close) */
  onCleanup(cleanup: () => unknown): void;
}

/**
 * Runs one gateway-process subject: `measure` returns how to render its section below the common
 * opening (method, machine load, duration); the folder, the gateways and the cleanups it registered
 * are cleaned up whatever happens.
 */
export async function gatewayBench(
  subject: string,
  title: string,
  measure: (context: GatewayBenchContext) => Promise<(opening: string) => string>,
): Promise<BenchSection> {
  const loadBefore = loadavg();
  const progress = progressOf(subject);
  const dir = mkdtempSync(join(tmpdir(), `callgate-bench-${subject}-`));
  const gateways = new Set<GatewayProcess>();
  const cleanups: (() => unknown)[] = [];
  try {
    const render = await measure({ dir, gateways, progress, onCleanup: (c) => cleanups.push(c) });
    const seconds = progress.elapsedMs / 1000;
    return {
      title,
      markdown: render(`${gatewayMethod()} ${runNote({ loadBefore, loadAfter: loadavg(), seconds })}`),
    };
  } finally {
    for (const gateway of gateways) await gateway.stop();
    for (const cleanup of cleanups.reverse()) await cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** How the gateway-process benches measure (the opening of each of their sections). */
function gatewayMethod(): string {
  return (
    `The gateway runs as a child process (\`node dist/apps/gateway/src/main.js\`, \`LOG_LEVEL=log\`, ` +
    `in-memory coordination) against a lab Kamailio on loopback; the bots (JsSIP + wrtc, one tone per ` +
    `bot) and the tabs run in the bench process. Gateway CPU is utime + stime of all its threads from ` +
    `\`/proc/<pid>/stat\` (${CLOCK_TICKS} ticks/s), read from outside; memory is VmRSS of ` +
    `\`/proc/<pid>/status\` read right after a full GC, which the bench forces through the gateway's ` +
    `inspector (the gateway runs with \`--inspect=127.0.0.1:0\` for that; no session is attached while ` +
    `CPU is measured), with the V8 heap in use then (\`Runtime.getHeapUsage\`).`
  );
}

/** The machine's cores, its load before and after, and how long the subject took. */
function runNote(context: { loadBefore: number[]; loadAfter: number[]; seconds: number }): string {
  const load = (l: number[]): string => l.map((v) => v.toFixed(2)).join(' / ');
  return (
    `${cpus().length} cores; load average (1/5/15 min) ${load(context.loadBefore)} before, ` +
    `${load(context.loadAfter)} after; this bench took ${context.seconds.toFixed(1)} s.`
  );
}

export interface Memory {
  rssKb: number;
  /** V8 heap in use (after a full GC when read by settledMemory) */
  heapUsedKb: number;
}

const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

/** `node dist/apps/gateway/src/main.js` with only the environment given here (nothing inherited). */
export class GatewayProcess {
  private readonly lines: string[] = [];
  private listeningUrl = '';
  private inspectorUrl: string | undefined;
  private exit: string | undefined;
  private readonly exited: Promise<void>;
  private stopping: Promise<void> | undefined;
  private readonly killOnExit = (): void => void this.child.kill('SIGKILL');

  private constructor(
    private readonly child: ChildProcess,
    readonly pid: number,
    private readonly registry: Set<GatewayProcess>,
  ) {
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.exit = signal ?? `exit code ${code ?? '?'}`;
        resolve();
      }),
    );
    process.once('exit', this.killOnExit);
    registry.add(this);
  }

  get url(): string {
    return this.listeningUrl;
  }

  static async start(
    env: Record<string, string>,
    registry: Set<GatewayProcess>,
    onLine?: (line: string) => void,
  ): Promise<GatewayProcess> {
    const main = join(projectRoot(), 'dist', 'apps', 'gateway', 'src', 'main.js');
    // --inspect (on a free loopback port) only lets settledMemory() force a full GC; no inspector
    // session is attached while CPU is measured.
    const child = spawn(process.execPath, ['--inspect=127.0.0.1:0', main], {
      env: {
        PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'log',
        SESSION_SECRET,
        NO_COLOR: '1',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid === undefined) throw new Error('the gateway did not start');
    const gateway = new GatewayProcess(child, child.pid, registry);
    let listening: (url: string) => void = () => undefined;
    const ready = new Promise<string>((resolve) => (listening = resolve));
    const read = (stream: NodeJS.ReadableStream | null): void => {
      if (!stream) return;
      createInterface({ input: stream }).on('line', (raw: string) => {
        const line = raw.replace(ANSI, '');
        gateway.lines.push(line);
        if (gateway.lines.length > 40) gateway.lines.shift();
        const match = /listening on (http:\/\/\S+)/.exec(line);
        if (match?.[1]) listening(match[1]);
        const inspector = /^Debugger listening on (ws:\/\/\S+)/.exec(line);
        if (inspector?.[1]) gateway.inspectorUrl = inspector[1];
        onLine?.(line);
      });
    };
    read(child.stdout);
    read(child.stderr);
    let timer: NodeJS.Timeout | undefined;
    try {
      gateway.listeningUrl = await Promise.race([
        ready,
        gateway.exited.then(() => {
          throw new Error(`the gateway exited at boot:\n${gateway.tail()}`);
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`the gateway did not listen within 30 s:\n${gateway.tail()}`)),
            30_000,
          );
        }),
      ]);
    } catch (err) {
      await gateway.stop();
      throw err;
    } finally {
      clearTimeout(timer);
    }
    return gateway;
  }

  /** CPU time of every thread of the process so far (s). */
  cpuSeconds(): number {
    return ticksOf(this.proc('stat')) / CLOCK_TICKS;
  }

  /** CPU time of the main thread (the JavaScript event loop) so far (s). */
  mainThreadCpuSeconds(): number {
    return ticksOf(this.proc(`task/${this.pid}/stat`)) / CLOCK_TICKS;
  }

  /**
   * RSS after a full GC (forced through the inspector: HeapProfiler.collectGarbage), with the V8
   * heap in use then (Runtime.getHeapUsage): without the GC, garbage that V8 has not collected yet
   * moves RSS by tens of MB.
   */
  async settledMemory(): Promise<Memory> {
    if (!this.inspectorUrl) throw new Error(`the gateway has no inspector:\n${this.tail()}`);
    const session = await InspectorSession.open(this.inspectorUrl);
    let heapUsedKb: number;
    try {
      await session.call('HeapProfiler.collectGarbage');
      const usage = (await session.call('Runtime.getHeapUsage')) as { usedSize: number };
      heapUsedKb = usage.usedSize / 1024;
    } finally {
      await session.close();
    }
    await sleep(200);
    const status = this.proc('status');
    return { rssKb: Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]), heapUsedKb };
  }

  /** The last lines the gateway wrote. */
  tail(): string {
    return this.lines.join('\n');
  }

  private proc(file: string): string {
    if (this.exit !== undefined) throw new Error(`the gateway ended (${this.exit}):\n${this.tail()}`);
    return readFileSync(`/proc/${this.pid}/${file}`, 'utf8');
  }

  /** SIGTERM (a graceful stop: calls hung up, lines unregistered), SIGKILL after 15 s. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.child.exitCode === null && this.child.signalCode === null) {
        this.child.kill('SIGTERM');
        const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
        await this.exited;
        clearTimeout(timer);
      }
      if (this.exit !== 'exit code 0') {
        console.log(
          `[bench] the gateway (pid ${this.pid}) ended with ${this.exit ?? '?'}; its last lines:\n${this.tail()}`,
        );
      }
      process.off('exit', this.killOnExit);
      this.registry.delete(this);
    })();
    return this.stopping;
  }
}

/** A Chrome DevTools Protocol session with the gateway's inspector (a WebSocket). */
class InspectorSession {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString()) as {
        id?: number;
        result?: unknown;
        error?: { message: string };
      };
      const waiter = message.id === undefined ? undefined : this.pending.get(message.id);
      if (!waiter || message.id === undefined) return;
      this.pending.delete(message.id);
      if (message.error) waiter.reject(new Error(`inspector: ${message.error.message}`));
      else waiter.resolve(message.result);
    });
    socket.on('close', () => {
      for (const waiter of this.pending.values()) waiter.reject(new Error('inspector: connection closed'));
      this.pending.clear();
    });
  }

  static async open(url: string): Promise<InspectorSession> {
    const socket = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return new InspectorSession(socket);
  }

  call(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.send(JSON.stringify({ id, method, params }));
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.readyState === WebSocket.CLOSED) {
        resolve();
        return;
      }
      this.socket.once('close', () => resolve());
      this.socket.close();
    });
  }
}

/** Polls the REST view of each agent (50 at a time) until every one reports sip.registered. */
export async function allRegistered(gateway: GatewayProcess, agents: readonly string[]): Promise<void> {
  const pending = new Set(agents);
  await eventually(
    async () => {
      const batch = [...pending].slice(0, 50);
      const views = await Promise.all(
        batch.map(async (agent) => {
          const res = await fetch(`${gateway.url}/v1/${DOMAIN}/agents/${agent}`, {
            headers: { authorization: `Bearer ${API_KEY}` },
          });
          const body = (await res.json()) as { sip?: { registered: boolean } | null };
          return { agent, registered: body.sip?.registered === true };
        }),
      );
      for (const view of views) if (view.registered) pending.delete(view.agent);
      return pending.size === 0 ? true : undefined;
    },
    60_000,
    `${agents.length} agents registered`,
  );
}

/** Logs an agent in as a CRM would (POST /{domain}/thirdParty/login with an HS256 token). */
export async function loginAgent(url: string, ipphone: string): Promise<string> {
  const token = await new SignJWT({ ipphone })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt()
    .sign(new TextEncoder().encode(ACCESS_KEY));
  const res = await fetch(`${url}/${DOMAIN}/thirdParty/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token }),
  });
  if (res.status !== 200) throw new Error(`login of ${ipphone} failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { user: { token: string } }).user.token;
}

export function domainsYaml(
  wsUri: string,
  sipDomain: string,
  agents: readonly string[],
  device: 1 | 4,
  options: {
    /** the user every agent's IP phone is (one sipp UAS for all); default each agent's lab phone */
    ipPhoneUser?: string;
    /** `pbx.media`; default: not set (the gateway's default) */
    media?: 'direct' | 'bridge';
  } = {},
): string {
  const entries = agents.map((ext) =>
    [
      `      "${ext}":`,
      `        name: "Agent ${ext}"`,
      `        sip: { user: "${ext}", password: "bench-${ext}" }`,
      `        devices: { ipPhone: "sip:${options.ipPhoneUser ?? labUsers.ipPhone(ext)}@${sipDomain}" }`,
      `        defaultDevice: ${device}`,
    ].join('\n'),
  );
  return [
    'domains:',
    `  ${DOMAIN}:`,
    `    accessKey: "${ACCESS_KEY}"`,
    `    apiKeys: ["${API_KEY}"]`,
    '    allowedOrigins: ["*"]',
    '    timezone: Asia/Ho_Chi_Minh',
    `    pbx: { wsUri: "${wsUri}", sipDomain: "${sipDomain}", mobilePrefix: "9"${options.media ? `, media: ${options.media}` : ''} }`,
    '    agents:',
    ...entries,
    '',
  ].join('\n');
}

/** The gateway's CPU over a window (% of one core), then its memory after a full GC. */
export async function idleWindow(
  gateway: GatewayProcess,
  windowMs: number,
): Promise<{ cpuPercent: number; memory: Memory }> {
  const t0 = performance.now();
  const cpu0 = gateway.cpuSeconds();
  await sleep(windowMs);
  const cpuPercent = percentOfCore(gateway.cpuSeconds() - cpu0, performance.now() - t0);
  return { cpuPercent, memory: await gateway.settledMemory() };
}
