/**
 * `npm run bench`: runs every benchmark and writes BENCHMARKS.md (median of several runs each,
 * with the machine noted). `npm run bench -- login voice` runs only the subjects whose name contains
 * one of the words (`calls` runs calls-latency, calls-media and calls-idle). One file per subject,
 * each writing its own section; what several share is in stats.ts and support/.
 */
import { readFile, writeFile } from 'node:fs/promises';
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
  'calls-latency': () => import('./calls-latency.js'),
  'calls-media': () => import('./calls-media.js'),
  'calls-idle': () => import('./calls-idle.js'),
  cluster: () => import('./cluster.js'),
  transfer: () => import('./transfer.js'),
  operations: () => import('./operations.js'),
  guards: () => import('./guards.js'),
  'direct-media': () => import('./direct-media.js'),
  'direct-gateway': () => import('./direct-gateway.js'),
  field: () => import('./field.js'),
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

/** The benchmark sections of an existing BENCHMARKS.md (everything but the machine). */
function previousSections(markdown: string): BenchSection[] {
  return markdown
    .split(/^## /m)
    .slice(1)
    .map((chunk) => {
      const newline = chunk.indexOf('\n');
      return { title: chunk.slice(0, newline).trim(), markdown: chunk.slice(newline + 1) };
    })
    .filter((section) => section.title !== 'Machine');
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const names = Object.keys(BENCHES).filter(
    (name) => only.length === 0 || only.some((o) => name.includes(o)),
  );
  const sections: BenchSection[] = [];
  const failed: string[] = [];
  for (const name of names) {
    const load = BENCHES[name];
    if (!load) continue;
    console.log(`[bench] ${name}...`);
    const started = Date.now();
    try {
      sections.push(await (await load()).default());
      console.log(`[bench] ${name} done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    } catch (err) {
      // One failed bench does not lose the others' figures; its old section stays, the run fails.
      console.error(`[bench] ${name} FAILED`, err);
      failed.push(name);
    }
  }
  const file = join(projectRoot(), 'BENCHMARKS.md');
  // A partial or failed run keeps the other sections of the last file.
  const partial = only.length > 0 || failed.length > 0;
  const kept = partial ? previousSections(await readFile(file, 'utf8').catch(() => '')) : [];
  // A section measured again takes its old place; a new one goes at the end.
  const keptTitles = new Set(kept.map((s) => s.title));
  const merged = [
    ...kept.map((old) => sections.find((s) => s.title === old.title) ?? old),
    ...sections.filter((s) => !keptTitles.has(s.title)),
  ];
  const body = [
    '# callgate benchmarks',
    '',
    'Written by `npm run bench`; every figure is the median of several runs unless a table says otherwise.',
    '',
    '## Machine',
    '',
    machine(),
    '',
    ...merged.flatMap((s) => [`## ${s.title}`, '', s.markdown.trim(), '']),
  ].join('\n');
  await writeFile(file, body);
  console.log(`[bench] wrote ${file}`);
  if (failed.length > 0) throw new Error(`failed: ${failed.join(', ')} (their previous sections kept)`);
}

main().catch((err: unknown) => {
  console.error('[bench] failed', err);
  process.exit(1);
});
