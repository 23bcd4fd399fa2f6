import { spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger, type SipLogger } from '@callgate/sip';
import { freeTcpPort, isUdpPortFree } from './ports.js';
import { terminate } from './probe.js';

export interface CoturnOptions {
  host?: string;
  /** The static TURN user. Default "callgate". */
  username?: string;
  /** Its password. Default "lab-turn-password". */
  password?: string;
  /** Realm. Default "callgate.lab". */
  realm?: string;
  binary?: string;
  logger?: SipLogger;
}

/** A running coturn for the field lab: TURN over UDP and TCP on one free port, long-term credentials. */
export interface Coturn {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly password: string;
  readonly realm: string;
  /** turn:127.0.0.1:<port>?transport=udp — an `iceServers` entry with {@link username}/{@link password}. */
  readonly turnUrl: string;
  readonly stunUrl: string;
  readonly logFile: string;
  /** How many lines of the log match (e.g. /allocation/). */
  countLog(pattern: RegExp): number;
  stop(): Promise<void>;
}

/**
 * Starts coturn (Debian `coturn`, the `turnserver` binary) on a free port of 127.0.0.1, with one
 * static user (long-term credentials), relay ports at a random base, and loopback peers allowed
 * (every lab peer is on 127.0.0.1; coturn refuses loopback peers by default). Resolves once it
 * accepts TCP connections.
 */
export async function startCoturn(options: CoturnOptions = {}): Promise<Coturn> {
  const host = options.host ?? '127.0.0.1';
  const logger = options.logger ?? silentLogger;
  let port = await freeTcpPort(host);
  for (let i = 0; i < 10 && !(await isUdpPortFree(port, host)); i++) port = await freeTcpPort(host);
  const base = randomInt(40_000, 60_000);
  const dir = mkdtempSync(join(tmpdir(), 'callgate-coturn-'));
  const logFile = join(dir, 'turnserver.log');
  const username = options.username ?? 'callgate';
  const password = options.password ?? 'lab-turn-password';
  const realm = options.realm ?? 'callgate.lab';
  const args = [
    '-n', // no configuration file
    `--listening-ip=${host}`,
    `--relay-ip=${host}`,
    `--listening-port=${port}`,
    `--min-port=${base}`,
    `--max-port=${base + 199}`,
    '--lt-cred-mech',
    `--user=${username}:${password}`,
    `--realm=${realm}`,
    '--allow-loopback-peers',
    '--no-tls',
    '--no-dtls',
    '--no-cli',
    '--no-multicast-peers',
    `--pidfile=${join(dir, 'turnserver.pid')}`,
    '--simple-log',
    `--log-file=stdout`,
    '--verbose',
  ];
  const log = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(options.binary ?? 'turnserver', args, { cwd: dir, stdio: ['ignore', log, log] });
  } finally {
    closeSync(log);
  }
  const turn = new CoturnProcess(child, host, port, username, password, realm, dir, logFile);
  const deadline = performance.now() + 10_000;
  while (performance.now() < deadline) {
    if (!turn.running) break;
    if (await tcpAccepts(host, port)) {
      logger.info(`coturn up: turn:${host}:${port} (user ${username}, realm ${realm})`);
      return turn;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const tail = readLog(logFile).split('\n').slice(-20).join('\n');
  await turn.stop();
  throw new Error(`coturn did not start (is the coturn package installed?):\n${tail}`);
}

class CoturnProcess implements Coturn {
  readonly turnUrl: string;
  readonly stunUrl: string;
  private readonly exited: Promise<void>;
  private exitedFlag = false;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly child: ChildProcess,
    readonly host: string,
    readonly port: number,
    readonly username: string,
    readonly password: string,
    readonly realm: string,
    private readonly dir: string,
    readonly logFile: string,
  ) {
    this.turnUrl = `turn:${host}:${port}?transport=udp`;
    this.stunUrl = `stun:${host}:${port}`;
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', () => resolve());
    }).then(() => {
      this.exitedFlag = true;
    });
  }

  get running(): boolean {
    return this.child.pid !== undefined && !this.exitedFlag;
  }

  countLog(pattern: RegExp): number {
    return readLog(this.logFile)
      .split('\n')
      .filter((line) => pattern.test(line)).length;
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.running) await terminate(this.child, this.exited);
      rmSync(this.dir, { recursive: true, force: true });
    })();
    return this.stopping;
  }
}

function readLog(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function tcpAccepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
