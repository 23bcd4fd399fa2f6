import { ConfigError } from '@callgate/auth';

export interface DemoConfig {
  /** port of the demo CRM (the gateway has its own PORT) */
  crmPort: number;
  /** the tenant the demo CRM logs agents into */
  domain: string;
}

/** The demo's own settings (DEMO_PORT, DEMO_DOMAIN); the gateway's are read by its loadConfig. */
export function loadDemoConfig(env: Readonly<Record<string, string | undefined>>): DemoConfig {
  const port = env.DEMO_PORT ?? '3000';
  if (!/^\d+$/.test(port) || Number(port) > 65535) {
    throw new ConfigError('environment', [`DEMO_PORT: must be a port number, got ${JSON.stringify(port)}`]);
  }
  return { crmPort: Number(port), domain: env.DEMO_DOMAIN ?? 'demo' };
}
