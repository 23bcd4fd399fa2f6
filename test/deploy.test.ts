// docker-compose.yml cannot run here (no Docker engine), so this keeps it true to the code: each
// gateway's environment passes the gateway's own config validation, nginx balances exactly those
// gateways with WebSocket upgrade, and deploy/kamailio.cfg is what the lab generator produces and
// what Kamailio itself accepts.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { loadConfig, projectRoot } from '../apps/gateway/src/config.js';
import { kamailioConfig } from '../apps/lab/src/kamailio-config.js';
import { findKamailioBinary } from '../apps/lab/src/kamailio.js';

const root = projectRoot();
const read = (path: string): string => readFileSync(join(root, path), 'utf8');

interface ComposeService {
  environment?: Record<string, string>;
  stop_grace_period?: string;
  volumes?: string[];
}

const compose = parse(read('docker-compose.yml'), { merge: true }) as {
  services: Record<string, ComposeService>;
};
const gateways = Object.entries(compose.services).filter(([name]) => name.startsWith('gateway-'));

describe('docker-compose deployment files', () => {
  it('has two gateway instances whose environments pass the gateway’s config validation', () => {
    expect(gateways.map(([name]) => name)).toEqual(['gateway-a', 'gateway-b']);
    const ids = new Set<string>();
    for (const [name, service] of gateways) {
      const env = { ...service.environment };
      expect(env.SESSION_SECRET).toMatch(/^\$\{SESSION_SECRET:\?/);
      env.SESSION_SECRET = 'x'.repeat(40);
      expect(service.volumes).toContain('./deploy/domains.yaml:/etc/callgate/domains.yaml:ro');
      env.CALLGATE_CONFIG = join(root, 'deploy', 'domains.yaml');
      const config = loadConfig(env);
      expect(config.redisUrl).toBe('redis://redis:6379');
      ids.add(config.instanceId);
      // The container waits for the drain before killing it.
      const grace = Number(/^(\d+)s$/.exec(service.stop_grace_period ?? '')?.[1] ?? 0) * 1000;
      expect(grace).toBeGreaterThan(config.drainTimeoutMs);
      expect(name).toBe(config.instanceId);
    }
    expect(ids.size).toBe(gateways.length);
  });

  it('nginx balances exactly those gateways, with the WebSocket upgrade', () => {
    const nginx = read('deploy/nginx.conf');
    const servers = [...nginx.matchAll(/^\s*server\s+([\w-]+):(\d+)/gm)].map((m) => `${m[1]}:${m[2]}`);
    expect(servers).toEqual(gateways.map(([name, s]) => `${name}:${s.environment?.PORT ?? ''}`));
    expect(nginx).toContain('proxy_set_header Upgrade $http_upgrade;');
    expect(nginx).toMatch(/proxy_read_timeout\s+\d{3,}s;/);
  });

  it('deploy/kamailio.cfg is the lab configuration, and Kamailio accepts it', async () => {
    const cfg = read('deploy/kamailio.cfg');
    expect(cfg).toBe(
      kamailioConfig({
        host: '0.0.0.0',
        udpPort: 5060,
        wsPort: 5066,
        modulesDir: '/usr/lib/x86_64-linux-gnu/kamailio/modules',
        ctlSocket: '/run/kamailio/kamailio_ctl',
        children: 4,
      }),
    );
    const { stderr, stdout } = await promisify(execFile)(findKamailioBinary(), [
      '-c',
      '-f',
      join(root, 'deploy', 'kamailio.cfg'),
    ]);
    expect(`${stdout}${stderr}`).toMatch(/tcp: 0\.0\.0\.0 \[0\.0\.0\.0\]:5066/);
  });
});
