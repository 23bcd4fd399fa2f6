/** sipp as a long-running child of a benchmark (load generator or endpoint), and its CPU. */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Kamailio } from '../../apps/lab/src/kamailio.js';
import { CLOCK_TICKS, ticksOf } from './cpu.js';

/** sipp against the lab Kamailio's UDP side, output discarded (its exit code says how it went). */
export function sippProcess(pbx: Pick<Kamailio, 'host' | 'udpPort'>, args: readonly string[]): ChildProcess {
  return spawn('sipp', [`${pbx.host}:${pbx.udpPort}`, '-i', pbx.host, '-nostdin', ...args], {
    stdio: ['ignore', 'ignore', 'ignore'],
  });
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
