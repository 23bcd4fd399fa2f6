// Builds the embed SDK as the npm package @callgate/embed-sdk into dist/sdk-package/ (or --outdir):
//   callgate.mjs   typed ESM API (libs/embed-sdk/src/index.ts), `import` condition of `exports`
//   callgate.js    classic script (IIFE, libs/embed-sdk/src/global.ts) for <script> tags
//   index.d.ts     one self-contained declaration file (dts-bundle-generator), @callgate/* inlined
//   package.json   libs/embed-sdk/package.json with the root's version
// jssip and socket.io-client are bundled, so the package has no dependencies. Then
// `npm pack dist/sdk-package` makes the tarball.
import { build } from 'esbuild';
import { generateDtsBundle } from 'dts-bundle-generator';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const sdkPkg = JSON.parse(readFileSync(join(root, 'libs/embed-sdk/package.json'), 'utf8'));

const at = process.argv.indexOf('--outdir');
const outArg = at === -1 ? 'dist/sdk-package' : process.argv[at + 1];
if (!outArg) throw new Error('build-sdk-package: --outdir needs a folder');
const outdir = resolve(root, outArg);
rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });

const common = {
  absWorkingDir: root,
  tsconfig: 'tsconfig.json',
  bundle: true,
  minify: true,
  sourcemap: true,
  sourcesContent: false,
  target: 'es2020',
  platform: 'browser',
  legalComments: 'none',
  logLevel: 'warning',
  define: { __CALLGATE_VERSION__: JSON.stringify(rootPkg.version) },
};

await Promise.all([
  build({
    ...common,
    entryPoints: ['libs/embed-sdk/src/index.ts'],
    outfile: join(outdir, 'callgate.mjs'),
    format: 'esm',
  }),
  build({
    ...common,
    entryPoints: ['libs/embed-sdk/src/global.ts'],
    outfile: join(outdir, 'callgate.js'),
    format: 'iife',
  }),
]);

// @callgate/* resolve through the root tsconfig's paths, so they are not node_modules
// packages and dts-bundle-generator inlines them; library types stay imports only if used
const [dts] = generateDtsBundle(
  [
    {
      filePath: join(root, 'libs/embed-sdk/src/index.ts'),
      output: { noBanner: true, exportReferencedTypes: false },
    },
  ],
  { preferredConfigPath: join(root, 'tsconfig.json') },
);
if (dts === undefined) throw new Error('build-sdk-package: dts-bundle-generator returned nothing');
const leaked = /from ['"](?!\.)([^'"]+)['"]/.exec(dts);
if (leaked)
  throw new Error(`build-sdk-package: index.d.ts imports ${leaked[1]}; the package has no dependencies`);
writeFileSync(join(outdir, 'index.d.ts'), dts);

writeFileSync(
  join(outdir, 'package.json'),
  `${JSON.stringify({ ...sdkPkg, version: rootPkg.version }, null, 2)}\n`,
);
writeFileSync(join(outdir, 'README.md'), readFileSync(join(root, 'libs/embed-sdk/README.md')));
console.log(
  `[build-sdk-package] ${outArg}: callgate.mjs, callgate.js, index.d.ts (${dts.length} chars), package.json ${rootPkg.version}`,
);
