import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningGateway, startGateway } from '../../gateway/src/app.js';
import { type GatewayConfig, loadConfig, projectRoot } from '../../gateway/src/config.js';
import { type Lab, startLab } from '../../lab/src/lab.js';
import { isTcpPortFree, isUdpPortFree } from '../../lab/src/ports.js';
import { type RunningCrm, startDemoCrm } from './crm-server.js';

export interface Demo {
  crm: RunningCrm;
  gateway: RunningGateway;
  lab: Lab;
  close(): Promise<void>;
}

export interface DemoOptions {
  /** the gateway's validated environment (PORT, CALLGATE_CONFIG, ...) */
  env: Readonly<Record<string, string | undefined>>;
  crmPort: number;
  domain: string;
  /** use the demo config's PBX ports (5066/5060) when free; false: always free ports (tests) */
  preferDemoPorts: boolean;
}

/**
 * The whole demo in one process: the lab PBX (Kamailio + simulated customers and desk phones), the
 * gateway on embedded defaults, and the demo CRM with its "simulate a customer call" button.
 */
export async function startDemo(options: DemoOptions): Promise<Demo> {
  const root = projectRoot();
  let gatewayConfig: GatewayConfig = loadConfig(options.env);
  const preferred = options.preferDemoPorts && (await isTcpPortFree(5066)) && (await isUdpPortFree(5060));
  const lab = await startLab({
    customers: 3,
    ipPhones: ['5000', '5001', '5003'],
    mobiles: ['0930000004'],
    queues: ['1'],
    mobilePrefix: '9',
    behaviours: { ipPhone: { incoming: { action: 'answer', afterMs: 2500 } } },
    kamailio: preferred ? { wsPort: 5066, udpPort: 5060 } : {},
  });
  lab.bot('0901000003').setBehaviour({ incoming: { action: 'reject', statusCode: 486 } });
  let tempDir: string | undefined;
  try {
    if (!preferred) {
      // Point the domains file at the lab's actual port.
      tempDir = mkdtempSync(join(tmpdir(), 'callgate-demo-'));
      const configPath = join(tempDir, 'domains.yaml');
      const yaml = readFileSync(gatewayConfig.configPath, 'utf8').replaceAll(
        'ws://127.0.0.1:5066',
        lab.pbx.wsUri,
      );
      writeFileSync(configPath, yaml);
      gatewayConfig = loadConfig({ ...options.env, CALLGATE_CONFIG: configPath });
    }
    const gateway = await startGateway(gatewayConfig);
    const crm = await startDemoCrm({
      gatewayUrl: gatewayConfig.publicUrl ?? gateway.url,
      domain: options.domain,
      domainConfig: gatewayConfig.domains.domain(options.domain),
      port: options.crmPort,
      host: '127.0.0.1',
      publicDir: join(root, 'apps', 'demo-crm', 'public'),
      scriptsDir: join(root, 'dist', 'demo-crm'),
      customers: JSON.parse(readFileSync(join(root, 'apps', 'demo-crm', 'customers.json'), 'utf8')) as Record<
        string,
        unknown
      >,
      simulateCall: (from, to) => {
        lab.bot(from).call(to);
      },
    });
    return {
      crm,
      gateway,
      lab,
      close: async () => {
        await Promise.all([crm.close(), gateway.close()]);
        await lab.close();
        if (tempDir) rmSync(tempDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await lab.close();
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
    throw err;
  }
}
