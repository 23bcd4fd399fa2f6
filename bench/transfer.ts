/**
 * Transfer: the target agent's `transfer.respond {accept}` leaves its tab → the customer hears the
 * target's desk phone. Two paths through the lab PBX: a server-side source (5000, the gateway
 * re-bridges the customer) and a browser-mode source (5003 in headless Chromium, the page REFERs
 * the customer); the target is server-side 5001 both times.
 */
import { execFileSync } from 'node:child_process';
import { AudioAnalyser, type SipCall, SipCallState } from '@callgate/sip';
import { projectRoot } from '../apps/gateway/src/config.js';
import { labTone } from '../apps/lab/src/lab.js';
import { launchBrowser } from '../test/support/browser.js';
import { login } from '../test/support/gateway.js';
import { type LabGateway, startLabGateway, waitRegistered } from '../test/support/lab-gateway.js';
import { openCrmTab, startCrmPages } from '../test/support/pages.js';
import { Tab } from '../test/support/tabs.js';
import type { BenchSection } from './run.js';
import { percentile } from './stats.js';

const TRANSFERS = 20;
/** A short analysis window: the tone switch is seen within about this much of arriving. */
const WINDOW_MS = 40;
const DESK_5001 = labTone('ipPhone', 1);

/** Resolves with the ms from `accept()` until `leg()` (once it exists) carries the target's tone. */
async function timeToHear(accept: () => Promise<void>, leg: () => Promise<SipCall>): Promise<number> {
  const acceptedAt = performance.now();
  await accept();
  const call = await leg();
  const track = call.remoteAudioTrack;
  if (!track) throw new Error('the customer has no audio');
  const analyser = new AudioAnalyser(track, { windowMs: WINDOW_MS });
  try {
    await analyser.waitFor({ frequency: DESK_5001, timeoutMs: 10_000 });
  } finally {
    analyser.stop();
  }
  return Math.round(performance.now() - acceptedAt);
}

async function openTab(env: LabGateway, ipphone: string): Promise<Tab> {
  return Tab.open(env.gateway.url, { domain: 'demo', token: await login(env.gateway.url, ipphone) });
}

/** Server-side 5000 → server-side 5001: the customer leg stays; the analyser is on it from the start. */
async function serverSide(env: LabGateway): Promise<number[]> {
  const latencies: number[] = [];
  const [source, target] = [await openTab(env, '5000'), await openTab(env, '5001')];
  try {
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
      latencies.push(
        await timeToHear(
          async () => {
            const answer = await target.command('transfer.respond', { accept: true });
            if (!answer.ok) throw new Error(`accept ${i} refused: ${answer.code}`);
          },
          () => Promise.resolve(leg),
        ),
      );
      await customer.hangup(leg);
      await target.nth('call.ended', i, 10_000);
    }
  } finally {
    source.close();
    target.close();
  }
  return latencies;
}

/** Browser 5003 → server-side 5001: the customer follows the page's REFER with a new call. */
async function browserSource(env: LabGateway): Promise<number[]> {
  execFileSync(process.execPath, ['scripts/build-sdk.js'], { cwd: projectRoot(), stdio: 'ignore' });
  const latencies: number[] = [];
  const browser = await launchBrowser();
  const pages = await startCrmPages();
  const target = await openTab(env, '5001');
  try {
    await waitRegistered(env.gateway, '5001');
    const page = await openCrmTab(browser, pages, {
      gatewayUrl: env.gateway.url,
      token: await login(env.gateway.url, '5003'),
    });
    await page.waitForCallback('csShowEnableVoice', { args: [true] });
    const customer = env.lab.bot('0901000002');
    for (let i = 1; i <= TRANSFERS; i++) {
      // the in-page phone answers 404 until it has registered: call until it rings
      let leg: SipCall | undefined;
      for (let attempt = 0; !leg; attempt++) {
        const call = customer.call('5003');
        const rang = await Promise.race([
          call.terminated.then(() => false),
          new Promise<boolean>((resolve) => call.once('progress', () => resolve(true))),
        ]);
        if (rang) leg = call;
        else if (attempt > 100) throw new Error('the in-page phone never registered');
      }
      const mark = await page.mark();
      await page.call('onAcceptCall');
      await page.waitForCallback('csAcceptCall', { after: mark });
      const asked = await page.call('csTransferCallAgent', '5001');
      if (!asked.ok) throw new Error(`transfer ${i} refused: ${asked.code}`);
      await target.nth('transfer.request', i, 10_000);
      const referred = customer.waitFor('referred', { timeoutMs: 10_000 });
      let newCall: SipCall | undefined;
      latencies.push(
        await timeToHear(
          async () => {
            const answer = await target.command('transfer.respond', { accept: true });
            if (!answer.ok) throw new Error(`accept ${i} refused: ${answer.code}`);
          },
          async () => {
            const { newCall: followed } = await referred;
            if (!followed) throw new Error('the customer did not follow the REFER');
            newCall = followed;
            if (followed.state !== SipCallState.Established)
              await customer.waitFor('answered', { filter: (e) => e.call === followed, timeoutMs: 10_000 });
            return followed;
          },
        ),
      );
      await page.waitForCallback('csTransferCallSuccess', { after: mark });
      if (newCall) await customer.hangup(newCall);
      await target.nth('call.ended', i, 10_000);
    }
  } finally {
    target.close();
    await browser.close();
    await pages.close();
  }
  return latencies;
}

export default async function transferBench(): Promise<BenchSection> {
  const env = await startLabGateway({ customers: 2, ipPhones: ['5000', '5001'] });
  let server: number[];
  let browser: number[];
  try {
    server = await serverSide(env);
    browser = await browserSource(env);
  } finally {
    await env.close();
  }
  const row = (label: string, values: number[]): string => {
    const sorted = [...values].sort((a, b) => a - b);
    return `| ${label} | ${sorted.length} | ${percentile(sorted, 50)} ms | ${percentile(sorted, 90)} ms | ${sorted[0]} ms | ${sorted.at(-1)} ms |`;
  };
  return {
    title: 'Transfer: accept → the customer hears the target',
    markdown: `From just before the target agent's tab (5001, server-side: its desk phone is a lab bot that
answers at once) sends \`transfer.respond {accept: true}\` until the customer bot hears 5001's desk tone
(an analyser with a ${WINDOW_MS} ms window on the customer's received audio), ${TRANSFERS} transfers one after
the other for each source:

- **server-side source** (5000, desk phone): the gateway calls extension 5001 from 5000's line through
  Kamailio (ICE gathering first, about 100 ms), 5001's line rings its desk phone, answers and bridges,
  and 5000's line re-bridges the customer to the new leg;
- **browser-mode source** (5003 in headless Chromium): the page REFERs the customer, the customer bot
  calls extension 5001 itself (a new call, with its own ICE gathering), 5001's line rings its desk
  phone, answers and bridges; the time includes the customer's new call being set up.

| source | transfers | p50 | p90 | min | max |
|---|---:|---:|---:|---:|---:|
${row('server-side (re-bridge)', server)}
${row('browser mode (REFER)', browser)}`,
  };
}
