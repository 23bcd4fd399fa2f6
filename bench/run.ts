/**
 * `npm run bench`: runs every benchmark and writes BENCHMARKS.md (median of several runs each,
 * with the machine noted). `npm run bench -- login voice` runs only the named ones.
 */
import { writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../apps/gateway/src/config.js';

export interface BenchSection {
  title: string;
  markdown: string;
}

type Bench = () => Promise<BenchSection>;

const BENCHES: Record<string, () => Promise<{ default: Bench }>> = {
  login: () => import('./login.js'),
  'voice-lock': () => import('./voice-lock.js'),
  'sdk-size': () => import('./sdk-size.js'),
  'browser-ringing': () => import('./browser-ringing.js'),
  calls: () => import('./calls.js'),
};

function machine(): string {
  const cpu = cpus();
  return [
    `- date: ${new Date().toISOString()}`,
    `- CPU: ${cpu[0]?.model ?? 'unknown'} × ${cpu.length}`,
    `- memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `- Node.js ${process.version} on ${process.platform}/${process.arch}`,
  ].join('\n');
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const names = Object.keys(BENCHES).filter(
    (name) => only.length === 0 || only.some((o) => name.includes(o)),
  );
  const sections: BenchSection[] = [];
  for (const name of names) {
    const load = BENCHES[name];
    if (!load) continue;
    console.log(`[bench] ${name}...`);
    const started = Date.now();
    const section = await (await load()).default();
    console.log(`[bench] ${name} done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    sections.push(section);
  }
  const body = [
    '# callgate benchmarks',
    '',
    'Written by `npm run bench`; every figure is the median of several runs unless a table says otherwise.',
    '',
    '## Machine',
    '',
    machine(),
    '',
    ...sections.flatMap((s) => [`## ${s.title}`, '', s.markdown.trim(), '']),
  ].join('\n');
  const file = join(projectRoot(), 'BENCHMARKS.md');
  await writeFile(file, body);
  console.log(`[bench] wrote ${file}`);
}

main().catch((err: unknown) => {
  console.error('[bench] failed', err);
  process.exit(1);
});
