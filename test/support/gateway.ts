import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { parseDomainsFile } from '@callgate/auth';
import type { LoginResponse } from '@callgate/contracts';
import { type RunningGateway, startGateway as start } from '../../apps/gateway/src/app.js';
import { loadConfig, projectRoot } from '../../apps/gateway/src/config.js';

export const DEMO_CONFIG = join(projectRoot(), 'config', 'demo.yaml');
/** The secret all test instances share, as instances behind one load balancer must. */
export const TEST_SESSION_SECRET = 'test-session-secret-0123456789-abcdefghijkl';

export interface GatewayOptions {
  redisUrl?: string;
  instanceId?: string;
  configPath?: string;
  keyPrefix?: string;
  leaseMs?: number;
  env?: Record<string, string>;
}

/**
 * One gateway instance in this process, on a free loopback port. Without Redis and without a
 * DATA_DIR of the test's own, it gets a fresh DATA_DIR (removed at close): what one test's gateway
 * keeps there (agents' device and On/Off) must not leak into the next test's.
 */
export function startGateway(options: GatewayOptions = {}): Promise<RunningGateway> {
  const ownDataDir =
    options.redisUrl || options.env?.DATA_DIR !== undefined
      ? undefined
      : mkdtempSync(join(tmpdir(), 'callgate-test-data-'));
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    // Tests are quiet; TEST_LOG_LEVEL=log (or debug) shows the gateway's logs while debugging one.
    // eslint-disable-next-line no-restricted-syntax
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'error',
    SESSION_SECRET: TEST_SESSION_SECRET,
    CALLGATE_CONFIG: options.configPath ?? DEMO_CONFIG,
    ...(options.redisUrl ? { REDIS_URL: options.redisUrl } : {}),
    ...(options.instanceId ? { INSTANCE_ID: options.instanceId } : {}),
    ...(options.keyPrefix ? { REDIS_KEY_PREFIX: options.keyPrefix } : {}),
    ...(options.leaseMs ? { LEASE_MS: String(options.leaseMs) } : {}),
    ...(ownDataDir ? { DATA_DIR: ownDataDir } : {}),
    ...options.env,
  });
  // Not async: a config refused by loadConfig throws here, as callers expect.
  if (!ownDataDir) return start(config);
  return start(config).then((gateway) => ({
    ...gateway,
    close: async () => {
      await gateway.close();
      rmSync(ownDataDir, { recursive: true, force: true });
    },
  }));
}

/** The access key of a domain of the demo config (what a CRM keeps secret). */
export function accessKey(domain = 'demo', configPath = DEMO_CONFIG): string {
  const file = parseDomainsFile(readFileSync(configPath, 'utf8'), configPath);
  const config = file.domains[domain];
  if (!config) throw new Error(`no domain ${domain} in ${configPath}`);
  return config.accessKey;
}

/** A CRM token as a CRM signs it: HS256 with the domain's access key. */
export async function crmToken(
  ipphone: string,
  claims: Record<string, unknown> = {},
  domain = 'demo',
  configPath = DEMO_CONFIG,
): Promise<string> {
  // `iat` now, unless the test gives its own (setIssuedAt would overwrite it)
  const jwt = new SignJWT({ ipphone, ...claims }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' });
  if (claims.iat === undefined) jwt.setIssuedAt();
  return jwt.sign(new TextEncoder().encode(accessKey(domain, configPath)));
}

/** Logs an agent in through `POST /{domain}/thirdParty/login`; returns the gateway session token. */
export async function login(
  url: string,
  ipphone: string,
  domain = 'demo',
  configPath = DEMO_CONFIG,
): Promise<string> {
  const res = await fetch(`${url}/${domain}/thirdParty/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token: await crmToken(ipphone, {}, domain, configPath) }),
  });
  if (res.status !== 200) throw new Error(`login of ${ipphone} failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as LoginResponse).user.token;
}
