// scripts/check-lock.js, run first by `npm test`: the lock file must list every platform's
// optional packages, or `npm ci` fails on macOS and ARM.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../apps/gateway/src/config.js';

const root = projectRoot();
const script = join(root, 'scripts', 'check-lock.js');

interface Lock {
  packages: Record<string, { optionalDependencies?: Record<string, string> }>;
}

async function check(lockPath: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [script, lockPath]);
    return { code: 0, output: `${stdout}${stderr}` };
  } catch (err) {
    const failed = err as { code: number; stdout: string; stderr: string };
    return { code: failed.code, output: `${failed.stdout}${failed.stderr}` };
  }
}

describe('scripts/check-lock.js', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'callgate-lock-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("passes on the repository's lock file", async () => {
    const result = await check(join(root, 'package-lock.json'));
    expect(result).toEqual({ code: 0, output: expect.stringContaining('every optional package') as string });
  });

  it("fails, naming the package, on a copy with one platform's optional package removed", async () => {
    const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as Lock;
    const missing = 'node_modules/@swc/core-darwin-arm64';
    expect(lock.packages['node_modules/@swc/core']?.optionalDependencies).toHaveProperty(
      '@swc/core-darwin-arm64',
    );
    expect(lock.packages).toHaveProperty([missing]);
    delete lock.packages[missing];
    const copy = join(dir, 'package-lock.json');
    writeFileSync(copy, JSON.stringify(lock));
    const result = await check(copy);
    expect(result.code).toBe(1);
    expect(result.output).toContain('@swc/core-darwin-arm64 (optional dependency of node_modules/@swc/core)');
    expect(result.output).toContain('npm install --package-lock-only');
  });
});
