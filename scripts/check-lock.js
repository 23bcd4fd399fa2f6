// Checks that package-lock.json lists every platform's optional packages: for each package in the
// lock that declares optionalDependencies, each of them must have an entry the package would
// resolve to (its own node_modules, or one of its parents', up to the root). npm writes only the
// current platform's entries when the lock is made by `npm install` on one machine; `npm ci` on
// another platform then fails ("Missing: @swc/core-darwin-arm64 ..."). Fix: `npm install
// --package-lock-only`. Run first by `npm test`.
//   node scripts/check-lock.js [path/to/package-lock.json]
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const path = process.argv[2] ?? fileURLToPath(new URL('../package-lock.json', import.meta.url));
const lock = JSON.parse(readFileSync(path, 'utf8'));
const packages = lock.packages;
if (lock.lockfileVersion < 2 || typeof packages !== 'object' || packages === null) {
  console.error(`[check-lock] ${path}: lockfileVersion 2 or later with a "packages" map expected`);
  process.exit(1);
}

/** Where Node would find `name` from the package at `location` (node_modules/a/node_modules/b). */
function resolves(location, name) {
  let dir = location;
  for (;;) {
    const candidate = dir === '' ? `node_modules/${name}` : `${dir}/node_modules/${name}`;
    if (candidate in packages) return true;
    if (dir === '') return false;
    const at = dir.lastIndexOf('/node_modules/');
    dir = at === -1 ? '' : dir.slice(0, at);
  }
}

const missing = [];
for (const [location, entry] of Object.entries(packages)) {
  for (const name of Object.keys(entry.optionalDependencies ?? {})) {
    if (!resolves(location, name)) missing.push(`${name} (optional dependency of ${location || 'the root'})`);
  }
}
if (missing.length > 0) {
  console.error(
    `[check-lock] ${path} lacks ${missing.length} optional package(s), so npm ci fails on other platforms:\n  ` +
      `${missing.join('\n  ')}\nRun: npm install --package-lock-only`,
  );
  process.exit(1);
}
console.log(`[check-lock] every optional package of every platform is in ${path}`);
