// The embed SDK as the npm package @callgate/embed-sdk (scripts/build-sdk-package.js): built,
// packed with `npm pack`, installed offline into a scratch TypeScript project, and type-checked
// with the repository's tsc (built into a temporary folder, not dist/, so parallel runs do not meet): a correct integration passes, a misuse fails, so the types are real:
// event names and data, and `client.command(...)` typed by the contracts' command map (name,
// payload, answer).
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../apps/gateway/src/config.js';

const root = projectRoot();
const run = promisify(execFile);
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

async function exec(file: string, args: string[], cwd: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(file, args, { cwd, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, output: `${stdout}${stderr}` };
  } catch (err) {
    const failed = err as { code: number; stdout: string; stderr: string };
    return { code: failed.code, output: `${failed.stdout}${failed.stderr}` };
  }
}

const goodMain = `import { connect, VERSION, type CallgateClient, type ConnectOptions } from '@callgate/embed-sdk';

const options: ConnectOptions = { gatewayUrl: 'https://callgate.example.com', domain: 'demo', token: 't' };
const client: CallgateClient = connect(options);
const off = client.on('call.ringing', (event) => {
  const phone: string = event.data.phone;
  console.log(VERSION, phone);
});
off();
export const answer: Promise<unknown> = client.command('call.dial', { number: '0912345678' });
// The answer is typed by the command: its result fields on success, a code on failure.
export async function setDevice(): Promise<string> {
  const ack = await client.command('agent.setDevice', { type: 3, mobile: '0912345678' });
  if (ack.ok) {
    const type: 1 | 2 | 3 | 4 | 6 = ack.type;
    return \`device \${type}\`;
  }
  const code: string = ack.code;
  return code;
}
`;

const badEventName = `import { connect } from '@callgate/embed-sdk';

const client = connect({ gatewayUrl: 'https://callgate.example.com', domain: 'demo', token: 't' });
client.on('call.ringin', () => undefined);
`;

const badPayload = `import { connect } from '@callgate/embed-sdk';

const client = connect({ gatewayUrl: 'https://callgate.example.com', domain: 'demo', token: 't' });
client.on('call.ringing', (event) => {
  const phone: number = event.data.phone;
  console.log(phone);
});
`;

const badCommandName = `import { connect } from '@callgate/embed-sdk';

const client = connect({ gatewayUrl: 'https://callgate.example.com', domain: 'demo', token: 't' });
void client.command('call.dail', { number: '0912345678' });
`;

const badCommandPayload = `import { connect } from '@callgate/embed-sdk';

const client = connect({ gatewayUrl: 'https://callgate.example.com', domain: 'demo', token: 't' });
void client.command('call.dial', { number: 912345678 });
`;

const missingCommandField = `import { connect } from '@callgate/embed-sdk';

const client = connect({ gatewayUrl: 'https://callgate.example.com', domain: 'demo', token: 't' });
void client.command('agent.setDevice', {});
`;

const badCommandAnswer = `import { connect } from '@callgate/embed-sdk';

const client = connect({ gatewayUrl: 'https://callgate.example.com', domain: 'demo', token: 't' });
void client.command('agent.toggleCallStatus', {}).then((ack) => {
  if (ack.ok) console.log(ack.callId);
});
`;

describe('@callgate/embed-sdk npm package', () => {
  let dir: string;
  let tarball: string;
  let files: string[];
  let project: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'callgate-sdk-package-'));
    const outdir = join(dir, 'sdk-package');
    const built = await exec(
      process.execPath,
      [join(root, 'scripts', 'build-sdk-package.js'), '--outdir', outdir],
      root,
    );
    expect(built).toEqual({ code: 0, output: expect.stringContaining('[build-sdk-package]') as string });
    const packed = await exec('npm', ['pack', outdir, '--pack-destination', dir, '--json'], dir);
    expect(packed.code).toBe(0);
    const [info] = JSON.parse(packed.output.slice(packed.output.indexOf('['))) as {
      filename: string;
      files: { path: string }[];
    }[];
    if (!info) throw new Error(`npm pack printed no package: ${packed.output}`);
    tarball = join(dir, info.filename);
    files = info.files.map((f) => f.path).sort();

    project = join(dir, 'crm');
    mkdirSync(project);
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'scratch-crm', private: true, type: 'module' }, null, 2),
    );
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify(
        {
          compilerOptions: {
            target: 'ES2022',
            lib: ['ES2022', 'DOM', 'DOM.Iterable'],
            module: 'ESNext',
            moduleResolution: 'bundler',
            strict: true,
            noEmit: true,
            skipLibCheck: false,
            types: [],
          },
          files: ['main.ts'],
        },
        null,
        2,
      ),
    );
    const installed = await exec(
      'npm',
      ['install', '--no-audit', '--no-fund', '--offline', '--ignore-scripts', tarball],
      project,
    );
    expect(installed).toEqual({ code: 0, output: expect.any(String) as string });
  }, 240_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('packs the ESM build, the IIFE build, the types and the package file, nothing from src', () => {
    expect(files).toEqual(
      expect.arrayContaining(['callgate.js', 'callgate.mjs', 'index.d.ts', 'package.json']) as string[],
    );
    expect(files.filter((f) => f.includes('src/') || (f.endsWith('.ts') && f !== 'index.d.ts'))).toEqual([]);
    const pkg = JSON.parse(
      readFileSync(join(project, 'node_modules', '@callgate', 'embed-sdk', 'package.json'), 'utf8'),
    ) as {
      version: string;
      dependencies?: unknown;
    };
    const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    expect(pkg.version).toBe(rootPkg.version);
    expect(pkg.dependencies).toBeUndefined();
  });

  it('type-checks a correct integration under strict', async () => {
    writeFileSync(join(project, 'main.ts'), goodMain);
    const result = await exec(process.execPath, [tsc, '-p', project], project);
    expect(result).toEqual({ code: 0, output: '' });
  }, 120_000);

  it.each([
    ['a wrong event name', badEventName, 'call.ringin'],
    ['a wrong payload type', badPayload, "Type 'string' is not assignable to type 'number'"],
    ['a wrong command name', badCommandName, 'call.dail'],
    ['a wrong command payload', badCommandPayload, "Type 'number' is not assignable to type 'string'"],
    ['a command payload missing a field', missingCommandField, "Property 'type' is missing"],
    ['a field the command answer does not have', badCommandAnswer, "Property 'callId' does not exist"],
  ])(
    'fails to type-check %s',
    async (_name, source, message) => {
      writeFileSync(join(project, 'main.ts'), source);
      const result = await exec(process.execPath, [tsc, '-p', project], project);
      expect(result.code).not.toBe(0);
      expect(result.output).toContain(message);
    },
    120_000,
  );
});
