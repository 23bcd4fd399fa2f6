/**
 * Transfer: the target agent's `transfer.respond {accept}` leaves its tab → the customer hears the
 * target's desk phone (server-side source 5000 → server-side target 5001, through the lab PBX).
 */
import { AudioAnalyser } from '@callgate/sip';
import { labTone } from '../apps/lab/src/lab.js';
import { login } from '../test/support/gateway.js';
import { startLabGateway, waitRegistered } from '../test/support/lab-gateway.js';
import { Tab } from '../test/support/tabs.js';
import type { BenchSection } from './run.js';
import { percentile } from './stats.js';

const TRANSFERS = 20;
/** A short analysis window: the tone switch is seen within about this much of arriving. */
const WINDOW_MS = 40;

export default async function transferBench(): Promise<BenchSection> {
  const env = await startLabGateway({ customers: 1, ipPhones: ['5000', '5001'] });
  const latencies: number[] = [];
  const tabs: Tab[] = [];
  try {
    const open = async (ipphone: string): Promise<Tab> => {
      const tab = await Tab.open(env.gateway.url, {
        domain: 'demo',
        token: await login(env.gateway.url, ipphone),
      });
      tabs.push(tab);
      return tab;
    };
    const [source, target] = [await open('5000'), await open('5001')];
    await waitRegistered(env.gateway, '5000');
    await waitRegistered(env.gateway, '5001');
    const customer = env.lab.bot('0901000001');
    for (let i = 1; i <= TRANSFERS; i++) {
      const leg = customer.call('5000');
      await customer.hears({ call: leg, frequency: labTone('ipPhone', 0) });
      await source.nth('call.accepted', i, 10_000);
      const asked = await source.command('transfer.toAgent', { ipphone: '5001' });
      if (!asked.ok) throw new Error(`transfer ${i} refused: ${asked.code}`);
      await target.nth('transfer.request', i, 10_000);
      const track = leg.remoteAudioTrack;
      if (!track) throw new Error('the customer has no audio');
      const analyser = new AudioAnalyser(track, { windowMs: WINDOW_MS });
      try {
        const heard = analyser.waitFor({ frequency: labTone('ipPhone', 1), timeoutMs: 10_000 });
        const acceptedAt = performance.now();
        const answer = await target.command('transfer.respond', { accept: true });
        if (!answer.ok) throw new Error(`accept ${i} refused: ${answer.code}`);
        await heard;
        latencies.push(Math.round(performance.now() - acceptedAt));
      } finally {
        analyser.stop();
      }
      await customer.hangup(leg);
      await target.nth('call.ended', i, 10_000);
    }
  } finally {
    for (const tab of tabs) tab.close();
    await env.close();
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    title: 'Transfer: accept → the customer hears the target',
    markdown: `Server-side agent 5000 (desk phone) has a customer on the line and asks server-side agent 5001
to take it; measured from just before 5001's tab sends \`transfer.respond {accept: true}\` until the
customer bot hears 5001's desk tone (an analyser with a ${WINDOW_MS} ms window on the customer's
received audio). In between: the gateway places the call from 5000's line to extension 5001 through
Kamailio (ICE gathering first, about 100 ms), 5001's line rings its desk phone (a bot that answers at
once), answers and bridges, and 5000's line re-bridges the customer to the new leg. ${TRANSFERS} transfers
one after the other.

| transfers | p50 | p90 | min | max |
|---:|---:|---:|---:|---:|
| ${sorted.length} | ${percentile(sorted, 50)} ms | ${percentile(sorted, 90)} ms | ${sorted[0]} ms | ${sorted.at(-1)} ms |`,
  };
}
