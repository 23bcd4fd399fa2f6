import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInThisContext } from 'node:vm';
import { silentLogger, type SipLogger } from '@callgate/sip';
import { WebSocket } from 'ws';
import { kamailioConfig, type KamailioConfigParams } from './kamailio-config.js';
import { freeSipPorts, freeTcpPort, freeUdpPort } from './ports.js';
import { udpProbe } from './probe.js';
import { kamailioTlsConfig, makeLabCertificates } from './tls-ca.js';

/** The field profile's PBX settings (see kamailioConfig's `field`). */
export interface KamailioFieldOptions {
  /** auth user → password. */
  passwords: Readonly<Record<string, string>>;
  /** rtpengine's ng socket, e.g. udp:127.0.0.1:2223 (see startRtpengine). */
  rtpengineSocket: string;
  /** Digest realm. Default the SIP domain (the host). */
  realm?: string;
  /** pike: requests per source address per 2 s. Default 400 (the whole lab shares 127.0.0.1). */
  pikeDensity?: number;
  /** Name in the server certificate. Default pbx.callgate.lab. */
  serverName?: string;
  /** Registrations last exactly this long (s): clients refresh often (tests of a changed password). Default 3600. */
  maxExpires?: number;
  /** auth_ephemeral's shared secret (short-lived `<expiry>:<user>` credentials). Default: not loaded. */
  ephemeralSecret?: string;
}

/** What the field profile adds to a running Kamailio. */
export interface KamailioField {
  /** SIP over secure WebSocket, with the lab CA's certificate: wss://127.0.0.1:<port>. */
  readonly wssUri: string;
  readonly tlsPort: number;
  /** The "carrier trunk" UDP socket: requests arriving there are not challenged. */
  readonly trunkPort: number;
  readonly realm: string;
  /** The lab CA (PEM): trust it to connect to {@link wssUri}. */
  readonly caFile: string;
  /** The name the server certificate carries (use it as TLS server name). */
  readonly serverName: string;
  /** Changes (or adds) an auth user's password while Kamailio runs (kamcmd htable.sets). */
  setPassword(authUser: string, password: string): Promise<void>;
}

export interface KamailioOptions {
  /** Loopback address to listen on; also the SIP domain. Default 127.0.0.1. */
  host?: string;
  /** Fixed WebSocket port; default a free one. */
  wsPort?: number;
  /** Fixed UDP port; default a free one. */
  udpPort?: number;
  /** Path of the kamailio binary; default found on PATH or in /usr/sbin. */
  binary?: string;
  /** Bound on the wait until Kamailio answers (ms). Default 10 000. */
  startTimeoutMs?: number;
  /** After SIGTERM, SIGKILL follows after this long (ms). Default 5000. */
  stopTimeoutMs?: number;
  /** Shared memory (-m, MB). Default 256 (the websocket module takes ~80 KB per connection). */
  sharedMemoryMb?: number;
  /** Private memory per process (-M, MB). Default 16. */
  privateMemoryMb?: number;
  /** Worker processes. Default 2. */
  children?: number;
  /** Kamailio log level, -3..3. Default 1 (notice); 3 logs every message. */
  debugLevel?: number;
  /** Keep the temp dir (config, log) after stop(). Default false. */
  keepFiles?: boolean;
  logger?: SipLogger;
  /** The field profile: digest auth, rtpengine, a TLS WebSocket, pike. Default: none (the plain lab). */
  field?: KamailioFieldOptions;
}

/** A running lab Kamailio. */
export interface Kamailio {
  /** SIP over WebSocket, e.g. ws://127.0.0.1:40123 (give it to JsSIP). */
  readonly wsUri: string;
  readonly wsPort: number;
  /** SIP over UDP on {@link host}, for classic peers (sipp). */
  readonly udpPort: number;
  readonly host: string;
  /** The domain users register in: the listen address, '127.0.0.1'. */
  readonly sipDomain: string;
  /** Temp dir with the config, the pid file, the runtime dir and the log. */
  readonly dir: string;
  readonly configFile: string;
  /** Kamailio's stderr and stdout. */
  readonly logFile: string;
  /** PID of the main Kamailio process while it runs. */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** The field profile's parts, when started with `field`. */
  readonly field: KamailioField | undefined;
  /** The last lines of the log. */
  logTail(lines?: number): string;
  /** How many lines of the log match `pattern` (e.g. the field profile's `auth:` lines). */
  countLog(pattern: RegExp): number;
  /** SIGTERM, SIGKILL after the deadline (also to leftover workers); resolves once it exited. Idempotent. */
  stop(): Promise<void>;
  /** Stops and starts again on the same ports; resolves once it answers again. */
  restart(): Promise<void>;
}

export type KamailioErrorCode = 'KAMAILIO_MISSING' | 'KAMAILIO_START_FAILED' | 'KAMAILIO_PORT_IN_USE';

export class KamailioError extends Error {
  override readonly name = 'KamailioError';
  constructor(
    readonly code: KamailioErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const MODULE_DIRS = [
  '/usr/lib/x86_64-linux-gnu/kamailio/modules',
  '/usr/lib/aarch64-linux-gnu/kamailio/modules',
  '/usr/lib64/kamailio/modules',
  '/usr/lib/kamailio/modules',
  '/usr/local/lib64/kamailio/modules',
  '/usr/local/lib/kamailio/modules',
];

const MISSING_HINT =
  'run bash scripts/ensure-deps.sh (Debian packages kamailio and kamailio-websocket-modules)';

/** Processes started here and not yet gone: killed if Node exits first. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  nodeProcess().once('exit', () => {
    for (const child of live) {
      for (const pid of [...childPids(child.pid), child.pid]) {
        if (pid === undefined) continue;
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    }
  });
}

/**
 * The process object of Node's main context (jest gives sandboxed modules a copy of
 * `process` whose 'exit' the real process never emits).
 */
function nodeProcess(): NodeJS.Process {
  const candidate: unknown = runInThisContext('process');
  return typeof candidate === 'object' && candidate !== null && 'once' in candidate
    ? (candidate as NodeJS.Process)
    : process;
}

/**
 * Starts the lab Kamailio on free loopback ports (unless fixed ones are given) with a
 * generated configuration (see {@link kamailioConfig}; no authentication), in the
 * foreground of its own child process, and resolves once it answers a SIP OPTIONS over
 * UDP and a WebSocket handshake. Throws a {@link KamailioError}: `KAMAILIO_MISSING` with
 * a hint to run scripts/ensure-deps.sh, or `KAMAILIO_START_FAILED` with the log's tail.
 */
export async function startKamailio(options: KamailioOptions = {}): Promise<Kamailio> {
  const binary = options.binary ?? findKamailioBinary();
  const modulesDir = findModulesDir();
  if (!modulesDir) {
    throw new KamailioError('KAMAILIO_MISSING', `Kamailio's websocket module not found: ${MISSING_HINT}`);
  }
  const fixedPorts = options.wsPort !== undefined || options.udpPort !== undefined;
  const attempts = fixedPorts ? 1 : 3;
  let lastError: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const host = options.host ?? '127.0.0.1';
    const ports = fixedPorts ? undefined : await freeSipPorts(host);
    const wsPort = options.wsPort ?? ports?.wsPort ?? 0;
    const udpPort = options.udpPort ?? ports?.udpPort ?? 0;
    const fieldPorts = options.field
      ? { trunkPort: await freeUdpPort(host), tlsPort: await freeTcpPort(host) }
      : undefined;
    const kamailio = new KamailioProcess(binary, modulesDir, host, wsPort, udpPort, options, fieldPorts);
    try {
      await kamailio.launch();
      return kamailio;
    } catch (error) {
      lastError = error;
      await kamailio.stop();
      if (!(error instanceof KamailioError && error.code === 'KAMAILIO_PORT_IN_USE')) throw error;
    }
  }
  throw lastError;
}

/** Where Debian and source installs put the binary; otherwise the PATH decides at spawn time. */
const BINARY_CANDIDATES = [
  '/usr/sbin/kamailio',
  '/usr/local/sbin/kamailio',
  '/usr/bin/kamailio',
  '/sbin/kamailio',
];

/** The kamailio binary: a well-known path when one exists, else the bare name (looked up on PATH). */
export function findKamailioBinary(): string {
  return BINARY_CANDIDATES.find((candidate) => existsSync(candidate)) ?? 'kamailio';
}

function findModulesDir(): string | undefined {
  const candidates = [...MODULE_DIRS];
  try {
    for (const entry of readdirSync('/usr/lib')) candidates.push(join('/usr/lib', entry, 'kamailio/modules'));
  } catch {
    // No /usr/lib: nothing more to look at.
  }
  return candidates.find((dir) => existsSync(join(dir, 'websocket.so')));
}

class KamailioProcess implements Kamailio {
  readonly wsUri: string;
  readonly sipDomain: string;
  readonly dir: string;
  readonly configFile: string;
  readonly logFile: string;
  private readonly pidFile: string;
  private readonly runDir: string;
  private readonly logger: SipLogger;
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private workers: number[] = [];
  private spawnError: NodeJS.ErrnoException | undefined;
  private stopping: Promise<void> | undefined;
  private removed = false;
  readonly field: KamailioField | undefined;
  private readonly ctlSocket: string;

  constructor(
    private readonly binary: string,
    modulesDir: string,
    readonly host: string,
    readonly wsPort: number,
    readonly udpPort: number,
    private readonly options: KamailioOptions,
    fieldPorts?: { trunkPort: number; tlsPort: number },
  ) {
    this.logger = options.logger ?? silentLogger;
    this.sipDomain = host;
    this.wsUri = `ws://${host}:${wsPort}`;
    this.dir = mkdtempSync(join(tmpdir(), 'callgate-kamailio-'));
    this.configFile = join(this.dir, 'kamailio.cfg');
    this.logFile = join(this.dir, 'kamailio.log');
    this.pidFile = join(this.dir, 'kamailio.pid');
    this.runDir = join(this.dir, 'run');
    this.ctlSocket = join(this.runDir, 'kamailio_ctl');
    const fieldOptions = options.field;
    let field: KamailioConfigParams['field'];
    if (fieldOptions && fieldPorts) {
      const certs = makeLabCertificates(this.dir, fieldOptions.serverName);
      const tlsConfigFile = join(this.dir, 'tls.cfg');
      writeFileSync(tlsConfigFile, kamailioTlsConfig(certs));
      const realm = fieldOptions.realm ?? host;
      field = {
        realm,
        passwords: fieldOptions.passwords,
        unknownPassword: randomBytes(18).toString('base64url'),
        trunkPort: fieldPorts.trunkPort,
        tlsPort: fieldPorts.tlsPort,
        tlsConfigFile,
        rtpengineSocket: fieldOptions.rtpengineSocket,
        pikeDensity: fieldOptions.pikeDensity ?? 400,
        ...(fieldOptions.maxExpires === undefined ? {} : { maxExpires: fieldOptions.maxExpires }),
        ...(fieldOptions.ephemeralSecret === undefined
          ? {}
          : { ephemeralSecret: fieldOptions.ephemeralSecret }),
      };
      this.field = {
        wssUri: `wss://${host}:${fieldPorts.tlsPort}`,
        tlsPort: fieldPorts.tlsPort,
        trunkPort: fieldPorts.trunkPort,
        realm,
        caFile: certs.caFile,
        serverName: certs.serverName,
        setPassword: (authUser, password) =>
          this.kamcmd('htable.sets', 'pw', `s:${authUser}`, `s:${password}`),
      };
    }
    writeFileSync(
      this.configFile,
      kamailioConfig({
        host,
        udpPort,
        wsPort,
        modulesDir,
        ctlSocket: this.ctlSocket,
        children: options.children,
        debugLevel: options.debugLevel,
        ...(field ? { field } : {}),
      }),
    );
  }

  countLog(pattern: RegExp): number {
    try {
      return readFileSync(this.logFile, 'utf8')
        .split('\n')
        .filter((line) => pattern.test(line)).length;
    } catch {
      return 0;
    }
  }

  /** Runs kamcmd against this Kamailio's ctl socket; rejects with its output on failure. */
  private kamcmd(...args: string[]): Promise<void> {
    return new Promise((resolve, reject) => {
      execFile('kamcmd', ['-s', `unix:${this.ctlSocket}`, ...args], (error, stdout, stderr) => {
        if (error) reject(new Error(`kamcmd ${args[0] ?? ''} failed: ${stderr || stdout || error.message}`));
        else resolve();
      });
    });
  }

  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  get running(): boolean {
    const child = this.child;
    return (
      child?.pid !== undefined && !this.spawnError && child.exitCode === null && child.signalCode === null
    );
  }

  logTail(lines = 30): string {
    try {
      const text = readFileSync(this.logFile, 'utf8');
      return text
        .split('\n')
        .slice(-lines - 1)
        .join('\n');
    } catch {
      return '(no log)';
    }
  }

  async launch(): Promise<void> {
    rmSync(this.runDir, { recursive: true, force: true });
    mkdirSync(this.runDir, { recursive: true });
    const log = openSync(this.logFile, 'a');
    writeSync(log, `--- callgate lab: starting kamailio at ${new Date().toISOString()}\n`);
    const args = [
      '-f',
      this.configFile,
      '-P',
      this.pidFile,
      '-Y',
      this.runDir,
      '-DD',
      '-E',
      '-m',
      String(this.options.sharedMemoryMb ?? 256),
      '-M',
      String(this.options.privateMemoryMb ?? 16),
      // Its own folder as working directory: Kamailio enables core dumps (LAB-NOTES).
      '-w',
      this.dir,
    ];
    let child: ChildProcess;
    try {
      child = spawn(this.binary, args, { stdio: ['ignore', log, log] });
    } finally {
      closeSync(log);
    }
    this.child = child;
    this.spawnError = undefined;
    live.add(child);
    installExitHook();
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', () => {
        live.delete(child);
        resolve();
      });
      child.once('error', (error: NodeJS.ErrnoException) => {
        this.spawnError = error;
        live.delete(child);
        resolve();
      });
    });
    const startedAt = performance.now();
    await this.waitUntilReady(this.options.startTimeoutMs ?? 10_000);
    this.workers = childPids(child.pid);
    this.logger.info(
      `kamailio up in ${Math.round(performance.now() - startedAt)} ms: ${this.wsUri}, udp ${this.host}:${this.udpPort} (pid ${child.pid})`,
    );
  }

  stop(): Promise<void> {
    this.stopping ??= this.terminate().finally(() => {
      this.stopping = undefined;
      if (!this.options.keepFiles && !this.removed) {
        this.removed = true;
        rmSync(this.dir, { recursive: true, force: true });
      }
    });
    return this.stopping;
  }

  async restart(): Promise<void> {
    if (this.removed) throw new KamailioError('KAMAILIO_START_FAILED', 'restart() after stop()');
    await this.terminate();
    const deadline = performance.now() + (this.options.startTimeoutMs ?? 10_000);
    // The ports were ours a moment ago; retry briefly if the kernel has not released them yet.
    for (;;) {
      try {
        await this.launch();
        return;
      } catch (error) {
        await this.terminate();
        const retry = error instanceof KamailioError && error.code === 'KAMAILIO_PORT_IN_USE';
        if (!retry || performance.now() > deadline) throw error;
        await delay(100);
      }
    }
  }

  private async terminate(): Promise<void> {
    const child = this.child;
    if (!child || !this.exited) return;
    const workers = this.workers.length > 0 ? this.workers : childPids(child.pid);
    if (this.running) {
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const stopped = await Promise.race([
        this.exited.then(() => true),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), this.options.stopTimeoutMs ?? 5_000);
        }),
      ]);
      clearTimeout(timer);
      if (!stopped) {
        this.logger.warn(`kamailio (pid ${child.pid}) ignored SIGTERM; sending SIGKILL`);
        child.kill('SIGKILL');
        await this.exited;
      }
    }
    await this.exited;
    // Workers normally exit with the main process; make sure none is left behind.
    for (const pid of workers) {
      if (isAlive(pid)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Exited meanwhile.
        }
      }
    }
    this.child = undefined;
    this.exited = undefined;
    this.workers = [];
  }

  private async waitUntilReady(timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    let udpOk = false;
    let wsOk = false;
    while (performance.now() < deadline) {
      if (!this.running) {
        // Wait for the 'exit' or 'error' event, so that the cause is known.
        await this.exited;
        if (this.spawnError?.code === 'ENOENT') {
          throw new KamailioError('KAMAILIO_MISSING', `kamailio not found (${this.binary}): ${MISSING_HINT}`);
        }
        const tail = this.logTail();
        const inUse = /Address already in use|bind\(.*failed/i.test(tail);
        throw new KamailioError(
          inUse ? 'KAMAILIO_PORT_IN_USE' : 'KAMAILIO_START_FAILED',
          `kamailio exited during startup (exit ${String(this.child?.exitCode ?? this.child?.signalCode)}); log ${this.logFile}:\n${tail}`,
        );
      }
      udpOk ||= await sipOptionsPing(this.host, this.udpPort, 250);
      wsOk ||= udpOk && (await webSocketHandshake(this.wsUri, 500));
      if (udpOk && wsOk) return;
      await delay(50);
    }
    throw new KamailioError(
      'KAMAILIO_START_FAILED',
      `kamailio did not answer within ${timeoutMs} ms (udp ${udpOk ? 'ok' : 'silent'}, websocket ${wsOk ? 'ok' : 'silent'}); log ${this.logFile}:\n${this.logTail()}`,
    );
  }
}

/**
 * Sends a SIP OPTIONS to host:port over UDP; resolves true when a 200 comes back in time.
 * Useful as a health probe of any SIP server.
 */
export function sipOptionsPing(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  const tag = randomBytes(6).toString('hex');
  const request = (localPort: number): string =>
    [
      `OPTIONS sip:${host}:${port} SIP/2.0`,
      `Via: SIP/2.0/UDP ${host}:${localPort};branch=z9hG4bK${tag};rport`,
      'Max-Forwards: 5',
      `From: <sip:probe@${host}>;tag=${tag}`,
      `To: <sip:${host}:${port}>`,
      `Call-ID: ${tag}@${host}`,
      'CSeq: 1 OPTIONS',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
  return udpProbe(
    host,
    port,
    request,
    (answer) => {
      const text = answer.toString('utf8');
      return text.startsWith('SIP/2.0 200') && text.includes(tag);
    },
    timeoutMs,
  );
}

/** Resolves true when a WebSocket handshake with the 'sip' subprotocol succeeds in time. */
function webSocketHandshake(uri: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const ws = new WebSocket(uri, 'sip', { handshakeTimeout: timeoutMs });
    let done = false;
    const finish = (ok: boolean): void => {
      if (done) return;
      done = true;
      resolve(ok);
    };
    ws.once('open', () => {
      ws.close(1000);
      finish(true);
    });
    ws.once('error', () => finish(false));
    ws.once('close', () => finish(false));
  });
}

/** PIDs of the direct children of `pid` (Linux /proc). */
function childPids(pid: number | undefined): number[] {
  if (pid === undefined) return [];
  const result: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return result;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Field 4 (ppid) follows the command name in parentheses, which may contain spaces.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid) result.push(Number(entry));
    } catch {
      // The process went away while we looked.
    }
  }
  return result;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
