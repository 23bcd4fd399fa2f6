/**
 * Server-side calls, signalling latency: a customer bot calls agent 5000 (mode 4) whose IP phone
 * rejects 486; a tab of the agent (socket.io-client on /agent, in this process) receives
 * `call.ringing`. Timed from just before `bot.call()`, and from the moment JsSIP hands the INVITE to
 * the WebSocket (its `sending` event), to the tab's receipt of the event; one call at a time, the
 * next once `call.ended` arrived. The gateway is a child process (bench/support/gateway-process.ts).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { labUsers, startLab, type Lab } from '../apps/lab/src/lab.js';
import { Tab } from '../test/support/tabs.js';
import type { BenchSection } from './run.js';
import { percentiles, type Percentiles } from './stats.js';
import {
  allRegistered,
  DOMAIN,
  domainsYaml,
  GatewayProcess,
  gatewayBench,
  loginAgent,
} from './support/gateway-process.js';
import { SessionProbe } from './support/session-probe.js';
import { ms, nextEvent } from './support/timing.js';

const LATENCY_CALLS = 200;
const LATENCY_WARM_UP = 10;
const FIRST_MEDIA_AGENT = 5000;

interface LatencyResult {
  calls: number;
  /** bot.call() → call.ringing at the tab */
  total: Percentiles;
  /** INVITE handed to the WebSocket → call.ringing at the tab */
  fromInvite: Percentiles;
  /** bot.call() → INVITE handed to the WebSocket (JsSIP: local description, ICE gathering) */
  beforeInvite: Percentiles;
  /** bot.call() → call.ended at the tab */
  toEnded: Percentiles;
}

export default function callsLatencyBench(): Promise<BenchSection> {
  return gatewayBench('calls-latency', 'Server-side calls: signalling latency', async (bench) => {
    const probe = new SessionProbe();
    bench.onCleanup(() => probe.uninstall());
    const agent = String(FIRST_MEDIA_AGENT);
    const lab = await startLab({ customers: 1, ipPhones: [agent] });
    bench.onCleanup(() => lab.close());
    const config = join(bench.dir, 'latency.yaml');
    writeFileSync(config, domainsYaml(lab.pbx.wsUri, lab.pbx.sipDomain, [agent], 4));
    const gateway = await GatewayProcess.start(
      { CALLGATE_CONFIG: config, RING_TIMEOUT_MS: '10000' },
      bench.gateways,
    );
    await allRegistered(gateway, [agent]);
    bench.progress.log(`${LATENCY_CALLS} calls`);
    const latency = await measureLatency(lab, gateway, probe);
    return (opening) => render(latency, opening);
  });
}

async function measureLatency(
  lab: Lab,
  gateway: GatewayProcess,
  probe: SessionProbe,
): Promise<LatencyResult> {
  const agent = String(FIRST_MEDIA_AGENT);
  const phone = lab.bot(labUsers.ipPhone(agent));
  const customer = lab.bot(labUsers.customer(1));
  const tab = await Tab.open(gateway.url, { domain: DOMAIN, token: await loginAgent(gateway.url, agent) });
  phone.setBehaviour({ incoming: { action: 'reject', statusCode: 486 } });
  const total: number[] = [];
  const fromInvite: number[] = [];
  const beforeInvite: number[] = [];
  const toEnded: number[] = [];
  try {
    for (let i = 0; i < LATENCY_WARM_UP + LATENCY_CALLS; i++) {
      const ringing = nextEvent(tab, 'call.ringing');
      const ended = nextEvent(tab, 'call.ended');
      const t0 = process.hrtime.bigint();
      const call = customer.call(agent);
      const [ringingAt, endedAt] = await Promise.all([ringing, ended]);
      const end = await call.terminated;
      if (end.statusCode !== 486) {
        throw new Error(`latency call ${i}: the customer got ${end.statusCode ?? end.cause}, not 486`);
      }
      const sentAt = probe.session(call.id)?.inviteSentAt;
      if (sentAt === undefined) throw new Error(`latency call ${i}: the INVITE was not seen leaving`);
      if (i < LATENCY_WARM_UP) continue;
      total.push(ms(ringingAt - t0));
      fromInvite.push(ms(ringingAt - sentAt));
      beforeInvite.push(ms(sentAt - t0));
      toEnded.push(ms(endedAt - t0));
    }
  } finally {
    phone.setBehaviour({ incoming: { action: 'answer', afterMs: 0 } });
    tab.close();
    await tab.waitForDisconnect().catch(() => undefined);
  }
  return {
    calls: LATENCY_CALLS,
    total: percentiles(total),
    fromInvite: percentiles(fromInvite),
    beforeInvite: percentiles(beforeInvite),
    toEnded: percentiles(toEnded),
  };
}

function render(latency: LatencyResult, opening: string): string {
  const f1 = (n: number): string => n.toFixed(1);
  const row = (name: string, p: Percentiles): string =>
    `| ${name} | ${f1(p.p50)} | ${f1(p.p99)} | ${f1(p.mean)} | ${f1(p.max)} |`;
  const lines = [
    opening,
    '',
    `${latency.calls} calls, one at a time after ${LATENCY_WARM_UP} warm-up calls: a customer bot calls ` +
      `agent ${FIRST_MEDIA_AGENT} (mode 4), the gateway publishes \`call.ringing\` as the INVITE arrives and ` +
      `rings the IP phone, which rejects 486; the next call starts once the tab has \`call.ended\`. The tab ` +
      `is a socket.io-client on \`/agent\` in the bench process; times are taken in that process. ` +
      `"INVITE sent" is JsSIP's \`sending\` event, just before the INVITE is written to the WebSocket.`,
    '',
    '| interval | p50 (ms) | p99 (ms) | mean (ms) | max (ms) |',
    '| --- | ---: | ---: | ---: | ---: |',
    row('`bot.call()` → `call.ringing` at the tab', latency.total),
    row('INVITE sent → `call.ringing` at the tab (Kamailio + gateway + Socket.IO)', latency.fromInvite),
    row('`bot.call()` → INVITE sent (the bot: offer and ICE gathering)', latency.beforeInvite),
    row('`bot.call()` → `call.ended` at the tab (486 from the phone)', latency.toEnded),
    '',
  ];
  return `${lines.join('\n')}\n`;
}
