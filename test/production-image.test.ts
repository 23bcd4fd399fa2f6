// What deploy/Dockerfile does, without Docker: scripts/production-install.sh (the script the
// Dockerfile runs) builds the gateway and installs it with `npm ci --omit=dev` into a clean folder
// outside the repository; the gateway started from there, as a plain process, against a real
// redis-server and the lab Kamailio, gets ready, logs an agent in, registers a mode-4 agent and
// stops cleanly on SIGTERM. A runtime import of a devDependency fails here ("Cannot find package").
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../apps/gateway/src/config.js';
import { startLab, type Lab } from '../apps/lab/src/lab.js';
import { crmToken } from './support/gateway.js';
import { spawnGateway, type GatewayProcess } from './support/gateway-process.js';
import { labDomainsYaml, MOBILE_PREFIX, rest, waitRegistered } from './support/lab-gateway.js';
import { startRedis, type RedisServer } from './support/redis-server.js';

const root = projectRoot();

describe('the production install (scripts/production-install.sh, as deploy/Dockerfile runs it)', () => {
  let dir: string;
  let prod: string;
  let redis: RedisServer | undefined;
  let lab: Lab | undefined;
  let gw: GatewayProcess | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'callgate-prod-'));
    prod = join(dir, 'app');
    await promisify(execFile)('bash', [join(root, 'scripts', 'production-install.sh'), prod], {
      cwd: root,
      maxBuffer: 16 * 1024 * 1024,
    });
    [redis, lab] = await Promise.all([
      startRedis(),
      startLab({ mobilePrefix: MOBILE_PREFIX, customers: 1, ipPhones: ['5000'] }),
    ]);
    writeFileSync(join(dir, 'domains.yaml'), labDomainsYaml(lab.pbx.wsUri, {}, [{ ext: '5000', device: 4 }]));
  }, 300_000);

  afterAll(async () => {
    await gw?.stop();
    await lab?.close();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('is what deploy/Dockerfile runs: the image is the folder the script makes', () => {
    const dockerfile = readFileSync(join(root, 'deploy', 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^RUN bash scripts\/production-install\.sh \/app$/m);
    expect(dockerfile).toMatch(/^COPY --from=build \/app \/app$/m);
    expect(dockerfile).toMatch(/^CMD \["node", "dist\/apps\/gateway\/src\/main\.js"\]$/m);
  });

  it('installs only production packages: no devDependency in the folder', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    for (const name of Object.keys(pkg.dependencies))
      expect(existsSync(join(prod, 'node_modules', name))).toBe(true);
    for (const name of ['jest', 'typescript', '@swc/core', 'esbuild', 'playwright-core'])
      expect(existsSync(join(prod, 'node_modules', name))).toBe(false);
    expect(existsSync(join(prod, 'dist', 'apps', 'gateway', 'src', 'main.js'))).toBe(true);
  });

  it('boots against Redis and the lab PBX, gets ready, logs in, registers a mode-4 agent, and stops on SIGTERM', async () => {
    gw = await spawnGateway({
      instanceId: 'prod-1',
      configPath: join(dir, 'domains.yaml'),
      redisUrl: redis!.url,
      keyPrefix: 'prod:',
      main: join(prod, 'dist', 'apps', 'gateway', 'src', 'main.js'),
      env: { NODE_ENV: 'production' },
      startTimeoutMs: 60_000,
    });
    const ready = await fetch(`${gw.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', coordination: 'redis' });

    const login = await fetch(`${gw.url}/demo/thirdParty/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: await crmToken('5000', {}, 'demo', join(dir, 'domains.yaml')) }),
    });
    expect(login.status).toBe(200);
    expect(((await login.json()) as { user: { ipphone: string } }).user.ipphone).toBe('5000');

    await waitRegistered(gw, '5000', true, 30_000);
    const view = await rest(gw, 'GET', '/v1/demo/agents/5000');
    expect(view.body.sip).toMatchObject({ registered: true, owner: 'prod-1' });
    // The SDK bundle is served from the production folder too.
    expect((await fetch(`${gw.url}/embed/callgate.js`)).status).toBe(200);

    gw.signal('SIGTERM');
    expect(await gw.exited).toBe(0);
    expect(gw.output()).toMatch(/callgate prod-1 stopped/);
    expect(gw.output()).not.toMatch(/Cannot find (package|module)/);
  }, 120_000);
});
