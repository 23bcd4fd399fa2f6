// A gateway instance as its own process (`node dist/apps/gateway/src/main.js`), as operators run
// it: for the tests that kill, freeze and drain instances. Its output is kept for the assertions
// and for the failure message; readiness is its "listening on" log line.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../apps/gateway/src/config.js';
import { TEST_SESSION_SECRET } from './gateway.js';
import { freePort } from './ports.js';

const MAIN = join(projectRoot(), 'dist', 'apps', 'gateway', 'src', 'main.js');

export interface GatewayProcessOptions {
  instanceId: string;
  configPath: string;
  /** '' for the in-memory store (one instance) */
  redisUrl: string;
  keyPrefix?: string;
  leaseMs?: number;
  env?: Record<string, string>;
  /** how long the process may take to listen (default 20 s) */
  startTimeoutMs?: number;
  /** the gateway's main.js (default: this repository's dist; a production folder's for the install test) */
  main?: string;
}

export interface GatewayProcess {
  readonly instanceId: string;
  readonly url: string;
  readonly pid: number;
  /** everything the process printed so far */
  output(): string;
  /** the complete lines it printed on stdout only, so far */
  stdoutLines(): string[];
  /** Resolves with the first output line that matches (already printed or to come). */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  signal(signal: NodeJS.Signals): void;
  /** resolves with the exit code (or signal name) once the process is gone */
  readonly exited: Promise<number | string>;
  /** SIGCONT (in case it was frozen), SIGTERM, SIGKILL after `graceMs`; resolves once gone. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

export async function spawnGateway(options: GatewayProcessOptions): Promise<GatewayProcess> {
  const port = await freePort();
  // In memory mode without a DATA_DIR of the test's own: a fresh one (removed once the process is
  // gone), so that what one test's gateway keeps there does not leak into another's.
  const ownDataDir =
    options.redisUrl === '' && options.env?.DATA_DIR === undefined
      ? mkdtempSync(join(tmpdir(), 'callgate-test-data-'))
      : undefined;
  const child: ChildProcess = spawn(process.execPath, [options.main ?? MAIN], {
    env: {
      // eslint-disable-next-line no-restricted-syntax -- the child needs PATH to find its tools
      PATH: process.env.PATH ?? '',
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'log',
      SESSION_SECRET: TEST_SESSION_SECRET,
      CALLGATE_CONFIG: options.configPath,
      ...(options.redisUrl === '' ? {} : { REDIS_URL: options.redisUrl }),
      INSTANCE_ID: options.instanceId,
      ...(options.keyPrefix ? { REDIS_KEY_PREFIX: options.keyPrefix } : {}),
      ...(options.leaseMs ? { LEASE_MS: String(options.leaseMs) } : {}),
      ...(ownDataDir ? { DATA_DIR: ownDataDir } : {}),
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const stdoutLines: string[] = [];
  let waiters: Array<() => void> = [];
  const reader = (also?: string[]): ((chunk: Buffer) => void) => {
    let partial = '';
    return (chunk) => {
      const text = partial + chunk.toString('utf8');
      const parts = text.split('\n');
      partial = parts.pop() ?? '';
      lines.push(...parts);
      also?.push(...parts);
      for (const wake of waiters) wake();
    };
  };
  child.stdout?.on('data', reader(stdoutLines));
  child.stderr?.on('data', reader());
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      for (const wake of waiters) wake();
      resolve(code ?? signal ?? 'unknown');
    });
  });
  let gone = false;
  void exited.then(() => {
    gone = true;
    for (const wake of waiters) wake();
    if (ownDataDir) rmSync(ownDataDir, { recursive: true, force: true });
  });

  const waitForLog = (pattern: RegExp, timeoutMs = 20_000): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const found = lines.find((line) => pattern.test(line));
        if (found !== undefined) {
          cleanup();
          resolve(found);
        } else if (gone) {
          cleanup();
          reject(new Error(`${options.instanceId} exited before logging ${pattern}:\n${tail(lines)}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(`${options.instanceId} did not log ${pattern} within ${timeoutMs} ms:\n${tail(lines)}`),
        );
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        waiters = waiters.filter((w) => w !== check);
      };
      waiters.push(check);
      check();
    });

  try {
    await waitForLog(/listening on http/, options.startTimeoutMs ?? 20_000);
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    throw err;
  }

  let stopping: Promise<void> | undefined;
  return {
    instanceId: options.instanceId,
    url: `http://127.0.0.1:${port}`,
    pid: child.pid ?? -1,
    output: () => lines.join('\n'),
    stdoutLines: () => [...stdoutLines],
    waitForLog,
    signal: (signal) => {
      if (!gone) child.kill(signal);
    },
    exited,
    stop: (graceMs = 15_000) => {
      stopping ??= (async () => {
        if (gone) return;
        child.kill('SIGCONT');
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}

function tail(lines: string[]): string {
  return lines.slice(-30).join('\n');
}
