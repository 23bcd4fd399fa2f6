import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger, type SipLogger } from '@callgate/sip';
import { freeUdpPort } from './ports.js';
import { terminate, udpProbe } from './probe.js';

export interface RtpengineOptions {
  host?: string;
  /** Media ports are taken from this many ports at a random base in 20000..59000. Default 200. */
  portCount?: number;
  binary?: string;
  startTimeoutMs?: number;
  logger?: SipLogger;
}

/** A running rtpengine (userspace forwarding) for the field lab. */
export interface Rtpengine {
  /** The ng control socket for Kamailio's rtpengine module: udp:127.0.0.1:<port>. */
  readonly ngSocket: string;
  readonly ngPort: number;
  readonly pid: number | undefined;
  readonly running: boolean;
  readonly logFile: string;
  /** Answers an ng `ping` in time. */
  ping(timeoutMs?: number): Promise<boolean>;
  /** CPU time (user + system) the process has used so far, in ms (Linux /proc). */
  cpuMs(): number;
  logTail(lines?: number): string;
  /** SIGTERM, then SIGKILL after 5 s; idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts rtpengine (Debian `rtpengine-daemon`) in userspace (`--table=-1`), without the system
 * configuration (`--config-file=none`), on a free ng port and a random media port range; resolves
 * once it answers an ng ping. See LAB-NOTES "A field PBX".
 */
export async function startRtpengine(options: RtpengineOptions = {}): Promise<Rtpengine> {
  const host = options.host ?? '127.0.0.1';
  const ngPort = await freeUdpPort(host);
  const count = options.portCount ?? 200;
  const base = randomInt(20_000, 59_000 - count);
  const dir = mkdtempSync(join(tmpdir(), 'callgate-rtpengine-'));
  const logFile = join(dir, 'rtpengine.log');
  const args = [
    '--table=-1',
    '--config-file=none',
    `--interface=${host}`,
    `--listen-ng=${host}:${ngPort}`,
    '--foreground',
    '--log-stderr',
    `--pidfile=${join(dir, 'rtpengine.pid')}`,
    `--port-min=${base}`,
    `--port-max=${base + count - 1}`,
    '--timeout=30',
    '--delete-delay=0',
    '--log-level=5',
  ];
  const log = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(options.binary ?? 'rtpengine', args, { stdio: ['ignore', log, log], cwd: dir });
  } finally {
    closeSync(log);
  }
  const engine = new RtpengineProcess(child, host, ngPort, dir, logFile);
  const deadline = performance.now() + (options.startTimeoutMs ?? 10_000);
  while (performance.now() < deadline) {
    if (!engine.running) {
      await engine.stop();
      throw new Error(
        `rtpengine exited during startup (is rtpengine-daemon installed?):\n${engine.logTail()}`,
      );
    }
    if (await engine.ping(250)) {
      (options.logger ?? silentLogger).info(
        `rtpengine up: ng ${engine.ngSocket}, media ${base}-${base + count - 1}`,
      );
      return engine;
    }
  }
  const tail = engine.logTail();
  await engine.stop();
  throw new Error(`rtpengine did not answer an ng ping in time:\n${tail}`);
}

class RtpengineProcess implements Rtpengine {
  readonly ngSocket: string;
  private readonly exited: Promise<void>;
  private stopping: Promise<void> | undefined;
  private exitedFlag = false;

  constructor(
    private readonly child: ChildProcess,
    private readonly host: string,
    readonly ngPort: number,
    private readonly dir: string,
    readonly logFile: string,
  ) {
    this.ngSocket = `udp:${host}:${ngPort}`;
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', () => resolve());
    }).then(() => {
      this.exitedFlag = true;
    });
  }

  get pid(): number | undefined {
    return this.running ? this.child.pid : undefined;
  }

  get running(): boolean {
    return this.child.pid !== undefined && !this.exitedFlag;
  }

  ping(timeoutMs = 500): Promise<boolean> {
    const cookie = randomBytes(6).toString('hex');
    return udpProbe(
      this.host,
      this.ngPort,
      () => `${cookie} d7:command4:pinge`,
      (answer) => answer.toString('latin1').startsWith(`${cookie} `) && answer.includes('pong'),
      timeoutMs,
    );
  }

  cpuMs(): number {
    if (!this.running) return 0;
    try {
      const stat = readFileSync(`/proc/${this.child.pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime and stime are fields 14 and 15 (1-based), in clock ticks (100 per second on Linux).
      return (Number(fields[11]) + Number(fields[12])) * 10;
    } catch {
      return 0;
    }
  }

  logTail(lines = 30): string {
    try {
      return readFileSync(this.logFile, 'utf8')
        .split('\n')
        .slice(-lines - 1)
        .join('\n');
    } catch {
      return '(no log)';
    }
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.running) await terminate(this.child, this.exited);
      rmSync(this.dir, { recursive: true, force: true });
    })();
    return this.stopping;
  }
}
