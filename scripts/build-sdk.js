// Bundles the embed SDK with esbuild (run by `npm run build` after swc):
//   libs/embed-sdk/src/global.ts -> dist/embed/callgate.js   classic script (IIFE) for 3C pages
//   libs/embed-sdk/src/index.ts  -> dist/embed/callgate.mjs  typed ESM API
//   npm jquery 3.x + jquery-migrate -> dist/embed/jquery.min.js  what 3C pages get at
//     /js/embed/jquery.min.js: a maintained jQuery with the official Migrate plugin, which puts
//     back the 1.x-era calls those pages use ($(window).unload(fn), .bind); never hand-copied
//   libs/embed-sdk/src/sipjs.ts  -> dist/embed/sipjs.js      the Alohub JS-PHONE widget (IIFE)
// Both minified, target es2020, with source maps. The @callgate/* aliases resolve through the
// `paths` of tsconfig.json. Prints each bundle's size raw and gzipped, and fails when a bundle
// grows past its gzip budget (raise the budget here, on purpose, when it has to grow).
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

/**
 * Budgets in bytes, gzipped. Raised from 24 kB to 84 kB with the in-page phone: JsSIP alone is
 * about 55 kB gzipped.
 */
const budgets = {
  'callgate.js': 84 * 1024,
  'callgate.mjs': 84 * 1024,
  'jquery.min.js': 40 * 1024,
  'sipjs.js': 90 * 1024,
};

/** `--outdir <dir>` (scripts/production-install.sh builds into its own folder); default dist/embed. */
const at = process.argv.indexOf('--outdir');
const outArg = at === -1 ? 'dist/embed' : process.argv[at + 1];
if (!outArg) throw new Error('build-sdk: --outdir needs a folder');
const outdir = resolve(root, outArg);

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
  { entryPoints: ['libs/embed-sdk/src/global.ts'], outfile: join(outdir, 'callgate.js'), format: 'iife' },
  { entryPoints: ['libs/embed-sdk/src/index.ts'], outfile: join(outdir, 'callgate.mjs'), format: 'esm' },
  {
    // jQuery's CommonJS build does not set window.$ by itself; Migrate patches the same instance
    // and warns once per deprecated call on the console (no stack traces)
    stdin: {
      contents: [
        "var jQuery = require('jquery');",
        'window.jQuery = window.$ = jQuery;',
        'jQuery.migrateTrace = false;',
        "require('jquery-migrate');",
      ].join('\n'),
      resolveDir: root,
      sourcefile: 'vendor-jquery.js',
    },
    outfile: join(outdir, 'jquery.min.js'),
    format: 'iife',
    legalComments: 'inline',
  },
  // the Alohub JS-PHONE widget, served at the vendor's name (/sipjs.js, /lib/sipjs.js, ...)
  { entryPoints: ['libs/embed-sdk/src/sipjs.ts'], outfile: join(outdir, 'sipjs.js'), format: 'iife' },
];

const kB = (bytes) => `${(bytes / 1024).toFixed(1)} kB`;

const results = await Promise.all(
  bundles.map(async (bundle) => {
    await build({ ...common, ...bundle });
    const code = readFileSync(bundle.outfile);
    return {
      file: relative(root, bundle.outfile),
      raw: code.length,
      gzip: gzipSync(code, { level: 9 }).length,
    };
  }),
);

let overBudget = false;
for (const { file, raw, gzip } of results) {
  const budget = budgets[file.split('/').pop()];
  console.log(`[build-sdk] ${file}: ${kB(raw)} raw, ${kB(gzip)} gzip (budget ${kB(budget)} gzip)`);
  if (gzip > budget) {
    console.error(`[build-sdk] ${file} is over its gzip budget by ${kB(gzip - budget)}`);
    overBudget = true;
  }
}
if (overBudget) process.exit(1);
