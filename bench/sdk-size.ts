/**
 * Size of the embed SDK as a CRM page downloads it: the classic 3C script (IIFE) and the ESM
 * API, minified by esbuild as `scripts/build-sdk.js` builds them, raw and gzipped (level 9),
 * with the share of each part of the bundle. Sizes are deterministic: one build each.
 */
import { build, type Metafile } from 'esbuild';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { projectRoot } from '../apps/gateway/src/config.js';

interface BundleSize {
  label: string;
  file: string;
  raw: number;
  gzip: number;
  /** bytes in the output per part (a package of node_modules, or a library of the repo) */
  parts: Map<string, number>;
}

const kB = (bytes: number): string => `${(bytes / 1024).toFixed(1)} kB`;

/** `node_modules/engine.io-client/...` gives `engine.io-client`; `libs/embed-sdk/src/...` gives `libs/embed-sdk`. */
function partOf(input: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
  if (pkg?.[1]) return pkg[1];
  const lib = /^(libs\/[^/]+)/.exec(input);
  return lib?.[1] ?? input;
}

async function measure(
  root: string,
  label: string,
  entry: string,
  format: 'iife' | 'esm',
): Promise<BundleSize> {
  const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string })
    .version;
  const result = await build({
    absWorkingDir: root,
    tsconfig: 'tsconfig.json',
    entryPoints: [entry],
    outfile: `callgate.${format === 'iife' ? 'js' : 'mjs'}`,
    bundle: true,
    minify: true,
    target: 'es2020',
    platform: 'browser',
    format,
    legalComments: 'none',
    define: { __CALLGATE_VERSION__: JSON.stringify(version) },
    write: false,
    metafile: true,
    logLevel: 'warning',
  });
  const output = result.outputFiles[0];
  if (!output) throw new Error(`esbuild produced nothing for ${entry}`);
  return {
    label,
    file: output.path.slice(root.length + 1),
    raw: output.contents.length,
    gzip: gzipSync(output.contents, { level: 9 }).length,
    parts: partsOf(result.metafile),
  };
}

function partsOf(metafile: Metafile): Map<string, number> {
  const parts = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const part = partOf(input);
      parts.set(part, (parts.get(part) ?? 0) + bytesInOutput);
    }
  }
  return parts;
}

export default async function sdkSizeBench(): Promise<{ title: string; markdown: string }> {
  const root = projectRoot();
  const bundles = [
    await measure(root, '3C script `/embed/callgate.js` (IIFE)', 'libs/embed-sdk/src/global.ts', 'iife'),
    await measure(root, 'ESM API `/embed/callgate.mjs`', 'libs/embed-sdk/src/index.ts', 'esm'),
  ];
  const [script] = bundles;
  const parts = script ? [...script.parts.entries()].sort((a, b) => b[1] - a[1]) : [];
  const markdown = [
    'Minified by esbuild (target es2020), gzip level 9; `scripts/build-sdk.js` fails the build past its gzip budget.',
    '',
    '| bundle | raw | gzip |',
    '|---|---:|---:|',
    ...bundles.map((b) => `| ${b.label} | ${kB(b.raw)} | ${kB(b.gzip)} |`),
    '',
    'What the 3C script is made of (minified bytes before gzip):',
    '',
    '| part | bytes | share |',
    '|---|---:|---:|',
    ...parts.map(
      ([part, bytes]) =>
        `| ${part} | ${kB(bytes)} | ${script ? ((100 * bytes) / script.raw).toFixed(0) : '?'}% |`,
    ),
  ].join('\n');
  return { title: 'Embed SDK size', markdown };
}
