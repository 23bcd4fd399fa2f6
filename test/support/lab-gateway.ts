import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningGateway } from '../../apps/gateway/src/app.js';
import type { PbxMediaPath } from '../../libs/auth/src/index.js';
import { startLab, type Lab, type LabOptions } from '../../apps/lab/src/lab.js';
import { accessKey } from './gateway.js';
import { startGateway, type GatewayOptions } from './gateway.js';
import { eventually } from './tabs.js';

export const API_KEY = 'demo-api-key-change-me-0123456789';
export const MOBILE_PREFIX = '9';

/** An agent of a lab domains file: its extension, default device, and whether it may call out. */
export interface LabAgent {
  ext: string;
  device: 1 | 2 | 3 | 4 | 6;
  canCallOut?: boolean;
  /** it has a vendor softphone (device 6) "<ext>-softphone" in the lab */
  softphone?: boolean;
  /** its desk phone answers by itself when asked (`devices.ipPhoneAutoAnswer`) */
  autoAnswer?: boolean;
}

/**
 * The agents of the lab tests: each has a desk phone "<ext>-desk" in the lab; 5004's mobile is
 * reached through the prefix; 5002 may not call out; 5000's desk phone answers when asked to.
 */
export const LAB_AGENTS: readonly LabAgent[] = [
  { ext: '5000', device: 4, autoAnswer: true },
  { ext: '5001', device: 2 },
  { ext: '5002', device: 4, canCallOut: false },
  { ext: '5003', device: 1 },
  { ext: '5004', device: 3 },
];

/** The numbers the lab's two callout services present to customers. */
export const LAB_HOTLINES = { sales: '02873000001', care: '19001234' } as const;

/** The lab's domains file (domain `demo`): `agents` with `defaults` overriding their devices. */
export function labDomainsYaml(
  wsUri: string,
  defaults: Record<string, 1 | 2 | 3 | 4 | 6> = {},
  agents: readonly LabAgent[] = LAB_AGENTS,
  /** `pbx.media`; unset: the default */
  media?: PbxMediaPath,
): string {
  const agent = ({
    ext,
    device,
    canCallOut = true,
    autoAnswer = false,
    softphone = false,
  }: LabAgent): string => `
      "${ext}":
        name: "Agent ${ext}"
        sip: { user: "${ext}", password: "lab-${ext}" }
        devices: { ipPhone: "sip:${ext}-desk@127.0.0.1", mobile: "09300000${ext.slice(-2)}", ipPhoneAutoAnswer: ${autoAnswer}${softphone ? `, softphone: "sip:${ext}-softphone@127.0.0.1"` : ''} }
        defaultDevice: ${defaults[ext] ?? device}
        canCallOut: ${canCallOut}`;
  return `domains:
  demo:
    accessKey: "${accessKey()}"
    apiKeys: ["${API_KEY}"]
    allowedOrigins: ["*"]
    timezone: Asia/Ho_Chi_Minh
    pbx: { wsUri: "${wsUri}", sipDomain: 127.0.0.1, mobilePrefix: "${MOBILE_PREFIX}"${media ? `, media: ${media}` : ''} }
    queues: { "1": "sip:queue1@127.0.0.1" }
    surveys: { csat: "sip:survey-csat@127.0.0.1" }
    calloutServices:
      - { id: "1", description: "Sales hotline", callerNumber: "${LAB_HOTLINES.sales}", default: true }
      - { id: "cskh", description: "Customer care", callerNumber: "${LAB_HOTLINES.care}" }
    # the cluster bench opens thousands of tabs for one agent and sends commands back to back
    quotas: { tabsPerAgent: 100000, commandsPerSecond: 100000, commandsPerSecondPerAgent: 100000, loginsPerMinutePerAddress: 100000, loginsPerMinute: 100000 }
    agents:${agents.map(agent).join('')}
`;
}

export interface LabGateway {
  lab: Lab;
  gateway: RunningGateway;
  configPath: string;
  close(): Promise<void>;
}

/** A lab Kamailio with bots, and a gateway whose domains file points at it. */
export async function startLabGateway(
  labOptions: LabOptions,
  options: {
    defaults?: Record<string, 1 | 2 | 3 | 4 | 6>;
    agents?: readonly LabAgent[];
    gateway?: GatewayOptions;
    /** the domain's `pbx.media` */
    media?: PbxMediaPath;
  } = {},
): Promise<LabGateway> {
  const lab = await startLab({ mobilePrefix: MOBILE_PREFIX, ...labOptions });
  const dir = mkdtempSync(join(tmpdir(), 'callgate-lab-'));
  const configPath = join(dir, 'domains.yaml');
  writeFileSync(configPath, labDomainsYaml(lab.pbx.wsUri, options.defaults, options.agents, options.media));
  let gateway: RunningGateway;
  try {
    gateway = await startGateway({ configPath, ...options.gateway });
  } catch (err) {
    await lab.close();
    throw err;
  }
  return {
    lab,
    gateway,
    configPath,
    close: async () => {
      await gateway.close();
      await lab.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** REST helper with the lab's API key. */
export async function rest(
  gateway: { url: string },
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${gateway.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${API_KEY}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Waits until the gateway's SIP registration of an agent is (or is no longer) up, as REST reports it. */
export function waitRegistered(
  gateway: { url: string },
  ipphone: string,
  want = true,
  timeoutMs = 15_000,
): Promise<true> {
  return eventually(
    async () => {
      const view = await rest(gateway, 'GET', `/v1/demo/agents/${ipphone}`);
      const sip = view.body.sip as { registered: boolean } | null;
      return (sip?.registered ?? false) === want ? true : undefined;
    },
    timeoutMs,
    `${ipphone} registered=${String(want)}`,
  );
}
