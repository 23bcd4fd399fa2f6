import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningGateway } from '../../apps/gateway/src/app.js';
import type { PbxMediaPath } from '../../libs/auth/src/index.js';
import { labPasswords, startLab, type Lab, type LabOptions } from '../../apps/lab/src/lab.js';
import { startGateway, type GatewayOptions } from './gateway.js';
import { LAB_AGENTS, MOBILE_PREFIX, labDomainsYaml, type LabAgent } from './lab-gateway.js';

/** How the gateway's domains file differs from the lab's own passwords and plain ws://. */
export interface FieldDomainOptions {
  /** `wss`: the PBX's TLS WebSocket, trusting the lab CA (pbx.tls); default `ws`. */
  transport?: 'ws' | 'wss';
  /** pbx.tls.caFile instead of the lab's CA (e.g. a CA the PBX's certificate is not from). */
  caFile?: string;
  /** Passwords the domains file gives agents, when not the PBX's (a wrong one). */
  passwords?: Record<string, string>;
  /** Extra `pbx:` settings, YAML flow style without braces (e.g. `iceServers: [...]`). */
  pbxExtra?: string;
  /** The SIP domain of the file; default 127.0.0.1. */
  sipDomain?: string;
  /** `pbx.media`; unset: the default (direct) */
  media?: PbxMediaPath;
}

export interface FieldGateway {
  lab: Lab;
  gateway: RunningGateway;
  configPath: string;
  close(): Promise<void>;
}

/**
 * The field lab (digest auth, rtpengine, baresip phones and customers) and a gateway whose agents
 * register with the PBX's passwords ({@link labPasswords}.agent) unless told otherwise.
 */
export async function startFieldGateway(
  labOptions: LabOptions,
  options: { agents?: readonly LabAgent[]; domain?: FieldDomainOptions; gateway?: GatewayOptions } = {},
): Promise<FieldGateway> {
  const agents = options.agents ?? LAB_AGENTS;
  const lab = await startLab({
    mobilePrefix: MOBILE_PREFIX,
    ...labOptions,
    profile: 'field',
    agents: Object.fromEntries(agents.map(({ ext }) => [ext, labPasswords.agent(ext)])),
  });
  try {
    const { gateway, configPath, close } = await startGatewayOn(
      lab,
      agents,
      options.domain ?? {},
      options.gateway,
    );
    return {
      lab,
      gateway,
      configPath,
      close: async () => {
        await close();
        await lab.close();
      },
    };
  } catch (error) {
    await lab.close();
    throw error;
  }
}

/** A (further) gateway on a running field lab, with its own domains file; close() leaves the lab running. */
export async function startGatewayOn(
  lab: Lab,
  agents: readonly LabAgent[],
  domain: FieldDomainOptions,
  gatewayOptions: GatewayOptions = {},
): Promise<{ gateway: RunningGateway; configPath: string; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'callgate-field-'));
  const configPath = join(dir, 'domains.yaml');
  let gateway: RunningGateway;
  try {
    writeFileSync(configPath, fieldDomainsYaml(lab, agents, domain));
    gateway = await startGateway({ configPath, ...gatewayOptions });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    gateway,
    configPath,
    close: async () => {
      await gateway.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The lab domains file, pointed at the field PBX (lab passwords are `lab-<ext>`, as labPasswords.agent). */
export function fieldDomainsYaml(lab: Lab, agents: readonly LabAgent[], domain: FieldDomainOptions): string {
  const field = lab.pbx.field;
  if (!field) throw new Error('not a field lab');
  const wss = domain.transport === 'wss';
  let yaml = labDomainsYaml(wss ? field.wssUri : lab.pbx.wsUri, {}, agents);
  for (const [ext, password] of Object.entries(domain.passwords ?? {})) {
    yaml = replaceOnce(yaml, `password: "${labPasswords.agent(ext)}"`, `password: "${password}"`);
  }
  const extra = [
    ...(wss ? [`tls: { caFile: "${domain.caFile ?? field.caFile}", serverName: ${field.serverName} }`] : []),
    ...(domain.media ? [`media: ${domain.media}`] : []),
    ...(domain.pbxExtra ? [domain.pbxExtra] : []),
  ];
  if (domain.sipDomain) yaml = replaceOnce(yaml, 'sipDomain: 127.0.0.1', `sipDomain: ${domain.sipDomain}`);
  if (extra.length > 0)
    yaml = replaceOnce(
      yaml,
      `mobilePrefix: "${MOBILE_PREFIX}" }`,
      `mobilePrefix: "${MOBILE_PREFIX}", ${extra.join(', ')} }`,
    );
  return yaml;
}

function replaceOnce(text: string, search: string, replacement: string): string {
  if (!text.includes(search)) throw new Error(`fieldDomainsYaml: '${search}' not found`);
  return text.replace(search, replacement);
}
