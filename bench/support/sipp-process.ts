/** sipp as a long-running child of a benchmark (load generator or endpoint), and its CPU. */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../apps/gateway/src/config.js';
import type { Kamailio } from '../../apps/lab/src/kamailio.js';
import { freeUdpPort } from '../../apps/lab/src/ports.js';
import { runSipp } from '../../apps/lab/src/sipp.js';
import { CLOCK_TICKS, ticksOf } from './cpu.js';

type SippPbx = Pick<Kamailio, 'host' | 'udpPort'>;

/**
 * A scenario of `bench/sipp` as a long-running sipp against the lab Kamailio's UDP side, on its own
 * free SIP and media ports, up to 2048 sockets, output discarded (its exit code says how it went).
 */
export async function sippScenario(
  pbx: SippPbx,
  scenario: string,
  args: readonly string[],
): Promise<{ child: ChildProcess; port: number }> {
  const port = await freeUdpPort(pbx.host);
  const mediaPort = await freeUdpPort(pbx.host);
  const child = spawn(
    'sipp',
    [
      `${pbx.host}:${pbx.udpPort}`,
      '-i',
      pbx.host,
      '-nostdin',
      '-sf',
      join(projectRoot(), 'bench', 'sipp', scenario),
      '-p',
      String(port),
      '-mp',
      String(mediaPort),
      '-max_socket',
      '2048',
      ...args,
    ],
    { stdio: ['ignore', 'ignore', 'ignore'] },
  );
  return { child, port };
}

/** sipp's load arguments: new calls at `rate`/s, at most `limit` at once, `calls` in all, each `holdMs` long. */
export function sippLoad(load: { rate: number; limit: number; calls: number; holdMs: number }): string[] {
  return [
    '-r',
    String(load.rate),
    '-l',
    String(load.limit),
    '-m',
    String(load.calls),
    '-d',
    String(Math.round(load.holdMs)),
  ];
}

/**
 * The desk phone of the direct-media benches: one sipp UAS (`direct-device.xml`, `-rtp_echo`: it
 * sends every RTP packet back) answering every call, registered with the PBX as `user`.
 */
export async function startEchoDesk(pbx: SippPbx, user: string): Promise<ChildProcess> {
  const { child, port } = await sippScenario(pbx, 'direct-device.xml', ['-rtp_echo']);
  const registered = await runSipp({
    host: pbx.host,
    port: pbx.udpPort,
    scenario: 'register-contact',
    service: user,
    keys: { contact_port: String(port) },
  });
  if (registered.exitCode !== 0) {
    await stopProcess(child);
    throw new Error(`registering the desk ${user} failed: ${registered.errors}`);
  }
  return child;
}

/** utime + stime of any process so far (s), from /proc/<pid>/stat; 0 once it is gone. */
export function processCpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    return ticksOf(readFileSync(`/proc/${pid}/stat`, 'utf8')) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

export function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));
}

/** SIGTERM, SIGKILL after 5 s; resolves once the process is gone. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited(child);
  clearTimeout(killer);
}
