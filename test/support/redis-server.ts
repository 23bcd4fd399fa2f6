// A real, throwaway redis-server on a free loopback port, for tests and benchmarks. Nothing is
// persisted; readiness is a PING answered with PONG; stop() waits for the process to be gone.
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { freePort } from './ports.js';

export interface RedisServer {
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** the running server's process id (changes on restart) */
  readonly pid: number;
  /** Terminate the server (SIGTERM, then SIGKILL after 5 s) and wait for it to exit. Idempotent. */
  stop(): Promise<void>;
  /** Stop, then start a fresh server on the same port (its data is gone). */
  restart(): Promise<void>;
}

export interface StartRedisOptions {
  /** how long the server may take to answer PING (default 10 s) */
  readyTimeoutMs?: number;
}

const BINARY = 'redis-server';
const HOST = '127.0.0.1';
const POLL_MS = 25;
const STOP_GRACE_MS = 5_000;
const BIND_ATTEMPTS = 5;

/** Start redis-server on a free port; retries with another port when the chosen one was taken. */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const readyTimeoutMs = options.readyTimeoutMs ?? 10_000;
  for (let attempt = 1; ; attempt++) {
    const port = await freePort(HOST);
    try {
      const server = await spawnReady(port, readyTimeoutMs);
      return handle(port, server, readyTimeoutMs);
    } catch (error) {
      if (!(error instanceof PortTakenError) || attempt >= BIND_ATTEMPTS) throw error;
    }
  }
}

class PortTakenError extends Error {}

/** A started server process; `closed` settles when it has exited and its pipes are closed. */
interface ServerProcess {
  child: ChildProcess;
  pid: number;
  closed: Promise<void>;
  exited: () => boolean;
}

function handle(port: number, first: ServerProcess, readyTimeoutMs: number): RedisServer {
  let current = first;
  const stop = (): Promise<void> => terminate(current);
  return {
    url: `redis://${HOST}:${port}`,
    port,
    get pid() {
      return current.pid;
    },
    stop,
    async restart() {
      await stop();
      current = await spawnReady(port, readyTimeoutMs);
    },
  };
}

async function spawnReady(port: number, readyTimeoutMs: number): Promise<ServerProcess> {
  const started = spawnServer(port);
  const server = await started.spawned;
  const deadline = Date.now() + readyTimeoutMs;
  while (!(await answersPing(port))) {
    if (server.exited()) {
      await server.closed;
      const output = started.output();
      if (/address already in use/i.test(output)) throw new PortTakenError(`port ${port} is taken`);
      throw new Error(`redis-server on port ${port} exited before answering PING:\n${output}`);
    }
    if (Date.now() > deadline) {
      await terminate(server);
      throw new Error(`redis-server on port ${port} did not answer PING within ${readyTimeoutMs} ms`);
    }
    // Poll again shortly, or as soon as the process exits.
    await Promise.race([delay(POLL_MS), server.closed]);
  }
  return server;
}

function spawnServer(port: number): { spawned: Promise<ServerProcess>; output: () => string } {
  let output = '';
  const child = spawn(
    BINARY,
    [
      '--port',
      String(port),
      '--bind',
      HOST,
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'no',
      '--dir',
      tmpdir(),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const collect = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-8_192);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let hasExited = false;
  const closed = new Promise<void>((resolve) => {
    child.once('close', () => {
      hasExited = true;
      resolve();
    });
  });
  const spawned = new Promise<ServerProcess>((resolve, reject) => {
    child.once('spawn', () => {
      if (child.pid === undefined) {
        reject(new Error('redis-server started without a pid'));
        return;
      }
      resolve({ child, pid: child.pid, closed, exited: () => hasExited });
    });
    child.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'ENOENT'
          ? new Error(`${BINARY} is not installed (not found on PATH): run \`bash scripts/ensure-deps.sh\``)
          : error,
      );
    });
  });
  return { spawned, output: () => output };
}

async function terminate(server: ServerProcess): Promise<void> {
  if (server.exited()) return server.closed;
  server.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), STOP_GRACE_MS);
  });
  const timedOut = await Promise.race([server.closed.then(() => false), gaveUp]);
  clearTimeout(timer);
  if (timedOut) {
    server.child.kill('SIGKILL');
    await server.closed;
  }
}

/** One connection attempt: true when the server answers PING with PONG. */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: HOST, port });
    let reply = '';
    const finish = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('utf8');
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG'));
    });
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
