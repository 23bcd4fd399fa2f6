import { spawn, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger, type SipLogger } from '@callgate/sip';
import { freeTcpPort, isTcpPortFree, isUdpPortFree } from './ports.js';
import { lastWindow, readWav, type WavWindow } from './wav.js';

export interface BaresipOptions {
  /** The SIP user (AOR sip:<user>@<domain>). */
  user: string;
  /** The SIP domain of the AOR. */
  domain: string;
  /** Where the phone sends its requests (its outbound proxy): host and UDP port of the PBX. */
  proxy: { host: string; port: number };
  /** Digest credentials; omit on a trusted socket (the lab trunk). */
  authUser?: string;
  password?: string;
  /** Register (default true). */
  register?: boolean;
  /** Tone it plays into every call (Hz). Default 440. */
  tone?: number;
  /** Answer incoming calls by itself (default true). */
  autoAnswer?: boolean;
  logger?: SipLogger;
  /** Bound on the start and registration (ms). Default 10 000. */
  startTimeoutMs?: number;
}

/** An event baresip's ctrl_tcp reports, e.g. {type: 'CALL_ESTABLISHED', peeruri: 'sip:…'}. */
export interface BaresipEvent {
  type: string;
  class?: string;
  accountaor?: string;
  direction?: string;
  peeruri?: string;
  id?: string;
  param?: string;
}

interface BaresipResponse {
  ok: boolean;
  data: string;
}

/** What a phone heard, from its recording. */
export interface HeardAudio extends WavWindow {
  file: string;
  /** The whole recording's length so far (ms). */
  total: number;
}

/**
 * A baresip desk phone (Debian `baresip-core`) as an independent endpoint: plain RTP with PCMU,
 * digest authentication, a sine tone (`ausine`) as microphone, auto-answer, and a recording of the
 * decoded audio of each call (`sndfile`) to check what it hears. Controlled over `ctrl_tcp`, one
 * controller (this object) per phone, as ctrl_tcp takes one client at a time (LAB-NOTES).
 */
export class BaresipPhone {
  readonly events: BaresipEvent[] = [];
  private readonly waiters = new Set<{
    match: (e: BaresipEvent) => boolean;
    resolve: (e: BaresipEvent) => void;
  }>();
  private readonly pending = new Map<string, (r: BaresipResponse) => void>();
  private buffer = Buffer.alloc(0);
  private token = 0;
  private socket: Socket | undefined;
  private exited: Promise<void>;
  private exitedFlag = false;
  private closing: Promise<void> | undefined;
  private readonly logger: SipLogger;

  private constructor(
    readonly user: string,
    readonly dir: string,
    readonly sipPort: number,
    readonly ctrlPort: number,
    private readonly child: ChildProcess,
    logger: SipLogger,
  ) {
    this.logger = logger;
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', () => resolve());
    }).then(() => {
      this.exitedFlag = true;
    });
  }

  /**
   * Starts baresip in its own folder and, unless `register: false`, waits until it is registered.
   * Its ports are found free, then bound by baresip a moment later: another process may take one
   * in between (tests start labs side by side), and baresip exits. It is then started again on
   * fresh ports, up to {@link START_ATTEMPTS} times in all; the error names its last output.
   */
  static async start(options: BaresipOptions): Promise<BaresipPhone> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await BaresipPhone.startOnce(options);
      } catch (error) {
        if (!(error instanceof BaresipExitedError) || attempt >= START_ATTEMPTS) throw error;
        (options.logger ?? silentLogger).warn(`${error.message}; starting it again on other ports`);
      }
    }
  }

  private static async startOnce(options: BaresipOptions): Promise<BaresipPhone> {
    const logger = options.logger ?? silentLogger;
    const dir = mkdtempSync(join(tmpdir(), `callgate-baresip-${options.user}-`));
    const sipPort = await freeSipPortTriple();
    let ctrlPort = await freeTcpPort();
    while (ctrlPort === sipPort + 1) ctrlPort = await freeTcpPort();
    writeFileSync(join(dir, 'config'), baresipConfig(sipPort, ctrlPort, dir, options.tone ?? 440));
    writeFileSync(join(dir, 'accounts'), baresipAccount(options) + '\n');
    const output = openSync(join(dir, 'output.log'), 'a');
    let child: ChildProcess;
    try {
      child = spawn('baresip', ['-f', dir], { cwd: dir, stdio: ['ignore', output, output] });
    } finally {
      closeSync(output);
    }
    const phone = new BaresipPhone(options.user, dir, sipPort, ctrlPort, child, logger);
    try {
      await phone.connectControl(options.startTimeoutMs ?? 10_000);
      if (options.register !== false) await phone.waitRegistered(options.startTimeoutMs ?? 10_000);
    } catch (error) {
      await phone.close();
      throw error;
    }
    logger.info(`baresip ${options.user} up (sip ${sipPort}, ctrl ${ctrlPort})`);
    return phone;
  }

  get running(): boolean {
    return !this.exitedFlag;
  }

  get pid(): number | undefined {
    return this.exitedFlag ? undefined : this.child.pid;
  }

  /** Sends a ctrl_tcp command (e.g. 'dial', 'sip:5003@127.0.0.1'); rejects when baresip says it failed. */
  async command(command: string, params = '', timeoutMs = 5_000): Promise<string> {
    const socket = this.socket;
    if (!socket) throw new Error(`baresip ${this.user}: no control connection`);
    const token = String(++this.token);
    const body = JSON.stringify({ command, params, token });
    const response = await new Promise<BaresipResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(token);
        reject(new Error(`baresip ${this.user}: no answer to '${command}' within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(token, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      socket.write(`${Buffer.byteLength(body)}:${body},`);
    });
    if (!response.ok)
      throw new Error(`baresip ${this.user}: '${command} ${params}' failed: ${response.data}`);
    return response.data;
  }

  /** Calls `uri` (a SIP URI). */
  async dial(uri: string): Promise<void> {
    await this.command('dial', uri);
  }

  async hangup(): Promise<void> {
    await this.command('hangup');
  }

  /** Answers (200 OK) the incoming call that rings or plays early media. */
  async accept(): Promise<void> {
    await this.command('accept');
  }

  /** Resolves with the first event (past or future, from `since`) that matches. */
  waitFor(
    type: string,
    timeoutMs = 15_000,
    since = 0,
    match: (e: BaresipEvent) => boolean = () => true,
  ): Promise<BaresipEvent> {
    const test = (e: BaresipEvent): boolean => e.type === type && match(e);
    const past = this.events.slice(since).find(test);
    if (past) return Promise.resolve(past);
    return new Promise((resolve, reject) => {
      const waiter = {
        match: test,
        resolve: (e: BaresipEvent) => {
          clearTimeout(timer);
          resolve(e);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(
          new Error(
            `baresip ${this.user}: no ${type} within ${timeoutMs} ms (events: ${this.events.map((e) => e.type).join(', ')})`,
          ),
        );
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** The newest recording of received audio (`dump-*-dec.wav`), or undefined before any call. */
  latestRecording(): string | undefined {
    const files = readdirSync(this.dir)
      .filter((name) => name.startsWith('dump-') && name.endsWith('-dec.wav'))
      .map((name) => join(this.dir, name))
      .map((file) => ({ file, mtime: statSync(file).mtimeMs }))
      .sort((a, b) => b.mtime - a.mtime);
    return files[0]?.file;
  }

  /** What the phone hears now: the last `windowMs` of its newest recording. */
  heard(windowMs = 300): HeardAudio | undefined {
    const file = this.latestRecording();
    if (!file) return undefined;
    const pcm = readWav(file);
    return {
      file,
      total: (pcm.samples.length / pcm.channels / pcm.sampleRate) * 1000,
      ...lastWindow(pcm, windowMs),
    };
  }

  /**
   * Resolves once the phone hears a tone of `frequency` (±10 %, level ≥ `minLevel`) in the last
   * 300 ms of its newest recording, and the recording is still growing (fresh audio); rejects after
   * `timeoutMs` with what it heard.
   */
  async hears(frequency: number, timeoutMs = 10_000, minLevel = 0.02): Promise<HeardAudio> {
    const deadline = performance.now() + timeoutMs;
    let last: HeardAudio | undefined;
    let previous: { file: string; durationMs: number } | undefined;
    while (performance.now() < deadline) {
      last = this.heard();
      const growing =
        last !== undefined &&
        (previous === undefined || previous.file !== last.file || last.total > previous.durationMs);
      if (
        last &&
        growing &&
        previous !== undefined &&
        last.level >= minLevel &&
        last.frequency !== null &&
        Math.abs(last.frequency - frequency) <= frequency * 0.1
      )
        return last;
      previous = last ? { file: last.file, durationMs: last.total } : undefined;
      await delay(150);
    }
    throw new Error(
      `baresip ${this.user}: did not hear ${frequency} Hz within ${timeoutMs} ms (last: ${last ? `${last.frequency?.toFixed(0) ?? 'no'} Hz at ${last.level.toFixed(3)}` : 'no recording'})`,
    );
  }

  /**
   * Resolves once the phone hears nothing: the last 300 ms of its newest recording are quiet
   * (level < `maxLevel`), or no audio has arrived for 600 ms (a held stream may stop altogether).
   */
  async hearsSilence(timeoutMs = 10_000, maxLevel = 0.01): Promise<HeardAudio> {
    const deadline = performance.now() + timeoutMs;
    let last: HeardAudio | undefined;
    let sameSince: { file: string; total: number; at: number } | undefined;
    while (performance.now() < deadline) {
      last = this.heard();
      const now = performance.now();
      if (last && last.durationMs >= 250 && last.level < maxLevel) return last;
      if (last) {
        if (sameSince?.file === last.file && sameSince.total === last.total) {
          if (now - sameSince.at >= 600) return { ...last, level: 0, frequency: null };
        } else {
          sameSince = { file: last.file, total: last.total, at: now };
        }
      }
      await delay(100);
    }
    throw new Error(
      `baresip ${this.user}: still hears ${last?.level.toFixed(3) ?? '?'} after ${timeoutMs} ms`,
    );
  }

  /** Quits baresip (SIGTERM, SIGKILL after 3 s) and removes its folder. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.socket?.destroy();
      this.socket = undefined;
      if (!this.exitedFlag) {
        this.child.kill('SIGTERM');
        const timer = setTimeout(() => this.child.kill('SIGKILL'), 3_000);
        await this.exited;
        clearTimeout(timer);
      }
      rmSync(this.dir, { recursive: true, force: true });
    })();
    return this.closing;
  }

  private async waitRegistered(timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    let info = '';
    // The REGISTER may be answered before the controller connected: ask, besides listening.
    while (performance.now() < deadline) {
      const fail = this.events.find((e) => e.type === 'REGISTER_FAIL');
      if (fail) throw new Error(`baresip ${this.user}: registration failed (${fail.param ?? '?'})`);
      if (this.events.some((e) => e.type === 'REGISTER_OK')) return;
      // reginfo colours the state with ANSI escapes: "\x1b[32mOK \x1b[;m". A command sent while
      // baresip is still starting up can go unanswered: ask again, until the deadline.
      const left = deadline - performance.now();
      try {
        info = (await this.command('reginfo', '', Math.max(500, Math.min(5_000, left)))).replace(
          ANSI_ESCAPE,
          '',
        );
      } catch (err) {
        info = (err as Error).message;
        continue;
      }
      if (/\sOK\s/.test(info)) return;
      await delay(100);
    }
    throw new Error(`baresip ${this.user}: not registered within ${timeoutMs} ms (${info.trim()})`);
  }

  private async connectControl(timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (this.exitedFlag)
        throw new BaresipExitedError(this.user, this.sipPort, this.ctrlPort, this.outputTail());
      try {
        this.socket = await new Promise<Socket>((resolve, reject) => {
          const socket = connect(this.ctrlPort, '127.0.0.1');
          socket.once('connect', () => resolve(socket));
          socket.once('error', reject);
        });
        break;
      } catch (error) {
        if (performance.now() > deadline)
          throw new Error(`baresip ${this.user}: ctrl_tcp not reachable: ${String(error)}`, { cause: error });
        await delay(50);
      }
    }
    this.socket.on('data', (data: Buffer) => this.onData(data));
    this.socket.on('error', (error) => this.logger.debug(`baresip ${this.user}: control ${error.message}`));
  }

  /** The last lines baresip printed (its output.log), for an error message. */
  private outputTail(lines = 5): string {
    try {
      const text = readFileSync(join(this.dir, 'output.log'), 'utf8').replace(ANSI_ESCAPE, '');
      return text.trim().split('\n').slice(-lines).join(' | ');
    } catch {
      return '(no output)';
    }
  }

  private onData(data: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, data]);
    for (;;) {
      const colon = this.buffer.indexOf(0x3a);
      if (colon < 0) return;
      const length = Number(this.buffer.toString('latin1', 0, colon));
      if (this.buffer.length < colon + 1 + length + 1) return;
      const text = this.buffer.toString('utf8', colon + 1, colon + 1 + length);
      this.buffer = this.buffer.subarray(colon + 1 + length + 1);
      let message: Record<string, unknown>;
      try {
        message = JSON.parse(text) as Record<string, unknown>;
      } catch {
        this.logger.warn(`baresip ${this.user}: unreadable control message ${text}`);
        continue;
      }
      if (message.response === true && typeof message.token === 'string') {
        const resolve = this.pending.get(message.token);
        this.pending.delete(message.token);
        resolve?.({ ok: message.ok === true, data: typeof message.data === 'string' ? message.data : '' });
      } else if (message.event === true && typeof message.type === 'string') {
        const event = message as unknown as BaresipEvent;
        this.events.push(event);
        this.logger.debug(`baresip ${this.user}: ${event.type} ${event.peeruri ?? ''} ${event.param ?? ''}`);
        for (const waiter of [...this.waiters]) {
          if (waiter.match(event)) {
            this.waiters.delete(waiter);
            waiter.resolve(event);
          }
        }
      }
    }
  }
}

/** A port free for SIP over UDP and TCP, with the next one free for baresip's TLS listener. */
async function freeSipPortTriple(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await freeTcpPort();
    if (port < 65535 && (await isUdpPortFree(port)) && (await isTcpPortFree(port + 1))) return port;
  }
  throw new Error('no free port for baresip');
}

function baresipConfig(sipPort: number, ctrlPort: number, dir: string, tone: number): string {
  return [
    'poll_method epoll',
    `sip_listen 127.0.0.1:${sipPort}`,
    'net_interface 127.0.0.1',
    `audio_source ausine,${tone}`,
    // A player is needed for the decoded audio to pass the sndfile filter; aubridge needs no sound card.
    'audio_player aubridge,nil',
    'ausrc_srate 48000',
    'ausrc_channels 2',
    'module_path /usr/lib/baresip/modules',
    'module g711.so',
    'module ausine.so',
    'module aubridge.so',
    'module sndfile.so',
    'module ctrl_tcp.so',
    'module_app account.so',
    'module_app menu.so',
    `ctrl_tcp_listen 127.0.0.1:${ctrlPort}`,
    `snd_path ${dir}`,
    '',
  ].join('\n');
}

function baresipAccount(options: BaresipOptions): string {
  const params = [
    `outbound="sip:${options.proxy.host}:${options.proxy.port};transport=udp"`,
    `regint=${options.register === false ? 0 : 600}`,
    'audio_codecs=PCMU',
    `answermode=${options.autoAnswer === false ? 'manual' : 'auto'}`,
    ...(options.authUser !== undefined ? [`auth_user=${options.authUser}`] : []),
    ...(options.password !== undefined ? [`auth_pass=${options.password}`] : []),
  ];
  return `<sip:${options.user}@${options.domain}>;${params.join(';')}`;
}

/** How often {@link BaresipPhone.start} tries before it gives up on a baresip that exits at startup. */
const START_ATTEMPTS = 3;

/** baresip exited before its control port answered (most often: a port taken in the meantime). */
class BaresipExitedError extends Error {
  constructor(user: string, sipPort: number, ctrlPort: number, output: string) {
    super(`baresip ${user} exited during startup (sip ${sipPort}, ctrl ${ctrlPort}): ${output}`);
  }
}

/** ANSI colour escapes (ESC [ … m). */
const ANSI_ESCAPE = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
