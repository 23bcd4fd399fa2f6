/** CPU accounting from /proc, read from outside the measured processes (Linux). */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** Clock ticks per second of /proc's CPU times (normally 100). */
export const CLOCK_TICKS = clockTicks();

function clockTicks(): number {
  try {
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(ticks) && ticks > 0 ? ticks : 100;
  } catch {
    return 100;
  }
}

/** utime + stime (clock ticks) of a /proc stat line: fields 14 and 15, counted after "pid (comm) ". */
export function ticksOf(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

export interface MachineTicks {
  busy: number;
  total: number;
}

/** Busy and total jiffies of all CPUs, from /proc/stat. */
export function machineTicks(): MachineTicks {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const total = values.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  return { busy: total - idle, total };
}

/** Busy time of the machine between two readings, in cores (0..number of cores). */
export function machineBusyCores(a: MachineTicks, b: MachineTicks): number {
  return ((b.busy - a.busy) / Math.max(1, b.total - a.total)) * cpus().length;
}

/** CPU seconds over a window as % of one core. */
export function percentOfCore(cpuSeconds: number, elapsedMs: number): number {
  return (cpuSeconds / (elapsedMs / 1000)) * 100;
}
