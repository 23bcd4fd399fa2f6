// Bundles the embed SDK with esbuild (run by `npm run build` after swc):
//   libs/embed-sdk/src/global.ts -> dist/embed/callgate.js   classic script (IIFE) for 3C pages
//   libs/embed-sdk/src/index.ts  -> dist/embed/callgate.mjs  typed ESM API
//   libs/embed-sdk/src/sipjs.ts  -> dist/embed/sipjs.js      the Alohub JS-PHONE widget (IIFE)
// Both minified, target es2020, with source maps. The @callgate/* aliases resolve through the
// `paths` of tsconfig.json. Prints each bundle's size raw and gzipped, and fails when a bundle
// grows past its gzip budget (raise the budget here, on purpose, when it has to grow).
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

/**
 * Budgets in bytes, gzipped. Raised from 24 kB to 84 kB with the in-page phone: JsSIP alone is
 * about 55 kB gzipped.
 */
const budgets = {
  'dist/embed/callgate.js': 84 * 1024,
  'dist/embed/callgate.mjs': 84 * 1024,
  'dist/embed/sipjs.js': 90 * 1024,
};

const common = {
  absWorkingDir: root,
  tsconfig: 'tsconfig.json',
  bundle: true,
  minify: true,
  sourcemap: true,
  target: 'es2020',
  platform: 'browser',
  legalComments: 'none',
  logLevel: 'warning',
  define: { __CALLGATE_VERSION__: JSON.stringify(pkg.version) },
};

const bundles = [
  { entryPoints: ['libs/embed-sdk/src/global.ts'], outfile: 'dist/embed/callgate.js', format: 'iife' },
  { entryPoints: ['libs/embed-sdk/src/index.ts'], outfile: 'dist/embed/callgate.mjs', format: 'esm' },
  // the Alohub JS-PHONE widget, served at the vendor's name (/sipjs.js, /lib/sipjs.js, ...)
  { entryPoints: ['libs/embed-sdk/src/sipjs.ts'], outfile: 'dist/embed/sipjs.js', format: 'iife' },
];

const kB = (bytes) => `${(bytes / 1024).toFixed(1)} kB`;

const results = await Promise.all(
  bundles.map(async (bundle) => {
    await build({ ...common, ...bundle });
    const code = readFileSync(new URL(`../${bundle.outfile}`, import.meta.url));
    return { file: bundle.outfile, raw: code.length, gzip: gzipSync(code, { level: 9 }).length };
  }),
);

let overBudget = false;
for (const { file, raw, gzip } of results) {
  const budget = budgets[file];
  console.log(`[build-sdk] ${file}: ${kB(raw)} raw, ${kB(gzip)} gzip (budget ${kB(budget)} gzip)`);
  if (gzip > budget) {
    console.error(`[build-sdk] ${file} is over its gzip budget by ${kB(gzip - budget)}`);
    overBudget = true;
  }
}
if (overBudget) process.exit(1);
