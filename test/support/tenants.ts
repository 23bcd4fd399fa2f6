// Two tenants in one domains file, for the security suites: `demo` (the demo config, with extra
// settings spliced in) and `acme`, the bystander that must keep being served whatever `demo`'s
// clients send. Written to a temporary directory; remove() deletes it.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_CONFIG, login } from './gateway.js';
import { Tab } from './tabs.js';

export const ACME_API_KEY = 'acme-api-key-0123456789-abcdefghij';
export const DEMO_API_KEY = 'demo-api-key-change-me-0123456789';

export interface TenantsFile {
  readonly path: string;
  remove(): void;
}

/**
 * `demoExtra`/`acmeExtra`: YAML lines (indented 4 spaces) added to each domain's settings;
 * `demoAgentExtra`: lines (indented 8 spaces) added to every demo agent.
 */
export function writeTenants(
  options: {
    demoExtra?: string;
    acmeExtra?: string;
    demoAgentExtra?: string;
    /** per demo agent (ipphone), lines (indented 8 spaces) added to that agent only */
    demoAgent?: Record<string, string>;
  } = {},
): TenantsFile {
  let demo = readFileSync(DEMO_CONFIG, 'utf8');
  if (options.demoExtra)
    demo = demo.replace(
      '    tokenLifetimeSeconds: 86400\n',
      `    tokenLifetimeSeconds: 86400\n${options.demoExtra}\n`,
    );
  if (options.demoAgentExtra)
    demo = demo.replace(/( {8}defaultDevice: \d\n)/g, `$1${options.demoAgentExtra}\n`);
  for (const [ipphone, extra] of Object.entries(options.demoAgent ?? {}))
    demo = demo.replace(
      new RegExp(`( {6}'${ipphone}':\\n[\\s\\S]*? {8}defaultDevice: \\d\\n)`),
      `$1${extra}\n`,
    );
  const acme = `
  acme:
    accessKey: 'acme-access-key-0123456789-abcdefghijklmnopqrstuvwxyz'
    apiKeys: ['${ACME_API_KEY}']
    allowedOrigins: ['http://acme.test']
    timezone: UTC
${options.acmeExtra ?? ''}
    pbx:
      wsUri: ws://127.0.0.1:5066
      sipDomain: 127.0.0.1
      mobilePrefix: '9'
    agents:
      '7000':
        name: 'Acme 7000'
        sip: { user: '7000', password: 'acme-7000' }
        defaultDevice: 1
`;
  const dir = mkdtempSync(join(tmpdir(), 'callgate-tenants-'));
  const path = join(dir, 'domains.yaml');
  writeFileSync(path, demo + acme);
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Whether the bystander tenant is still served: its REST answers and its agent's tab opens. */
export async function acmeServed(url: string, tenants: TenantsFile): Promise<boolean> {
  const res = await fetch(`${url}/v1/acme/agents`, { headers: { authorization: `Bearer ${ACME_API_KEY}` } });
  if (res.status !== 200) return false;
  const body = (await res.json()) as { agents: { ipphone: string }[] };
  if (!body.agents.some((a) => a.ipphone === '7000')) return false;
  const token = await login(url, '7000', 'acme', tenants.path);
  const tab = await Tab.open(url, { domain: 'acme', token }, { origin: 'http://acme.test' });
  try {
    return tab.of('session.ready').length === 1;
  } finally {
    tab.close();
    await tab.waitForDisconnect();
  }
}
