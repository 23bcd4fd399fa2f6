import { join } from 'node:path';
import { ConfigError } from '@callgate/auth';
import { startGateway } from '../../gateway/src/app.js';
import { loadConfig, projectRoot } from '../../gateway/src/config.js';
import { loadDemoConfig } from './config.js';
import { startDemoCrm } from './crm-server.js';

/** `npm run demo`: the gateway on embedded defaults (in-memory coordination, demo domains) and the demo CRM. */
async function main(): Promise<void> {
  let gatewayConfig;
  let demo;
  try {
    // The one place the demo reads the environment.
    // eslint-disable-next-line no-restricted-syntax
    const env = process.env;
    gatewayConfig = loadConfig(env);
    demo = loadDemoConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`callgate demo: cannot start: ${err.message}`);
      process.exit(1);
    }
    throw err;
  }
  const gateway = await startGateway(gatewayConfig);
  const root = projectRoot();
  const crm = await startDemoCrm({
    gatewayUrl: gatewayConfig.publicUrl ?? gateway.url,
    domain: demo.domain,
    domainConfig: gatewayConfig.domains.domain(demo.domain),
    port: demo.crmPort,
    host: '127.0.0.1',
    publicDir: join(root, 'apps', 'demo-crm', 'public'),
    scriptsDir: join(root, 'dist', 'demo-crm'),
  });
  console.log(`
  callgate demo is running
    gateway    ${gateway.url}   (coordination: ${gateway.coordination.kind})
    demo CRM   ${crm.url}

  Open ${crm.url} , sign in as agent 5000, then open a second tab of ${crm.url}/desk
  and press "Take voice here": the voice lock moves between the tabs.
  Ctrl-C stops everything.
`);
  const stop = (): void => {
    Promise.all([crm.close(), gateway.close()]).then(
      () => process.exit(0),
      (err: unknown) => {
        console.error('callgate demo: unclean stop', err);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error('callgate demo: failed to start', err);
  process.exit(1);
});
