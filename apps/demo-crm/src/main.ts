import { ConfigError } from '@callgate/auth';
import { loadDemoConfig } from './config.js';
import { type Demo, startDemo } from './demo.js';

/** `npm run demo`: the lab PBX, the gateway on embedded defaults, and the demo CRM. */
async function main(): Promise<void> {
  // The one place the demo reads the environment.
  // eslint-disable-next-line no-restricted-syntax
  const env = process.env;
  let demo: Demo;
  try {
    const settings = loadDemoConfig(env);
    demo = await startDemo({
      env,
      crmPort: settings.crmPort,
      domain: settings.domain,
      preferDemoPorts: true,
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`callgate demo: cannot start: ${err.message}`);
      process.exit(1);
    }
    throw err;
  }
  const { crm, gateway, lab } = demo;
  console.log(`
  callgate demo is running
    demo CRM   ${crm.url}
    gateway    ${gateway.url}   (coordination: ${gateway.coordination.kind})
    lab PBX    ${lab.pbx.wsUri}  (Kamailio; simulated customers 0901000001-3, desk phones 5000-desk, 5001-desk, 5003-desk)

  1. Open ${crm.url} and sign in as agent 5000. This tab holds voice: it is the phone (device 1,
     WebRTC in the page; allow the microphone).
  2. Press "Simulate a customer call": the customer card pops up; press Answer and you hear the
     lab customer's tone; try Hold, Mute and Hang up. "Call" dials 0901000001-3 (the third is busy).
  3. Set Device to "4 · IP phone (always)": calls now ring the lab's desk phone 5000-desk instead
     (it answers after 2.5 s), with no tab needed.
  4. Open ${crm.url}/desk in a second tab and press "Take voice here": the voice lock (and the
     phone) move to that tab.
  Ctrl-C stops everything.
`);
  const stop = (): void => {
    demo.close().then(
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
