/**
 * Customer INVITE leaves the bot → `csCallRinging` runs in a real Chromium page (browser mode:
 * the voice tab's in-page phone receives the INVITE and reports it; the gateway fans it out).
 */
import { execFileSync } from 'node:child_process';
import { projectRoot } from '../apps/gateway/src/config.js';
import { launchBrowser } from '../test/support/browser.js';
import { login } from '../test/support/gateway.js';
import { startLabGateway } from '../test/support/lab-gateway.js';
import { openCrmTab, startCrmPages } from '../test/support/pages.js';
import type { BenchSection } from './run.js';
import { percentile } from './stats.js';

const CALLS = 100;

export default async function browserRingingBench(): Promise<BenchSection> {
  execFileSync(process.execPath, ['scripts/build-sdk.js'], { cwd: projectRoot(), stdio: 'ignore' });
  const env = await startLabGateway({ customers: 1 });
  const browser = await launchBrowser();
  const pages = await startCrmPages();
  const latencies: number[] = [];
  try {
    const tab = await openCrmTab(browser, pages, {
      gatewayUrl: env.gateway.url,
      token: await login(env.gateway.url, '5003'),
    });
    await tab.waitForCallback('csShowEnableVoice', { args: [true] });
    // Stamp each csCallRinging with the page's clock (the same machine clock as Date.now() here).
    await tab.page.evaluate(() => {
      const w = window as unknown as { csCallRinging: (phone: string) => void; ringAt: number[] };
      w.ringAt = [];
      const original = w.csCallRinging;
      w.csCallRinging = (phone: string) => {
        w.ringAt.push(Date.now());
        original(phone);
      };
    });
    const customer = env.lab.bot('0901000001');
    // Wait for the in-page phone's registration: the first call that rings.
    for (let i = 0; ; i++) {
      const call = customer.call('5003');
      const rang = await Promise.race([
        call.terminated.then(() => false),
        new Promise<boolean>((resolve) => call.once('progress', () => resolve(true))),
      ]);
      if (rang) {
        await customer.hangup(call);
        await tab.waitForCallback('csEndCall');
        break;
      }
      if (i > 100) throw new Error('the in-page phone never registered');
    }
    for (let i = 0; i < CALLS; i++) {
      const before = await tab.page.evaluate(() => (window as unknown as { ringAt: number[] }).ringAt.length);
      const ends = await tab.mark();
      const sentAt = Date.now();
      const call = customer.call('5003');
      await tab.page.waitForFunction(
        (n) => (window as unknown as { ringAt: number[] }).ringAt.length > n,
        before,
      );
      const ringAt = await tab.page.evaluate(
        (n) => (window as unknown as { ringAt: number[] }).ringAt[n] ?? 0,
        before,
      );
      latencies.push(ringAt - sentAt);
      await customer.hangup(call);
      await tab.waitForCallback('csEndCall', { after: ends });
    }
  } finally {
    await browser.close();
    await pages.close();
    await env.close();
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    title: 'Browser mode: customer INVITE → csCallRinging in the page',
    markdown: `A lab customer bot calls agent 5003 in device mode 1; the INVITE goes through Kamailio to the
in-page JsSIP phone of the voice tab (headless Chromium), which reports \`call.ringing\` to the gateway;
the gateway fans it out and the SDK calls \`csCallRinging\`. Measured from just before \`call()\` in the bot
to the callback in the page (both \`Date.now()\` on this machine), ${CALLS} calls one after the other.
This includes the calling bot's ICE gathering before its INVITE leaves (JsSIP waits for it: about
100 ms on loopback, LAB-NOTES), so the part the PBX, the page and the gateway add is the rest.

| calls | p50 | p99 | min | max |
|---:|---:|---:|---:|---:|
| ${CALLS} | ${percentile(sorted, 50)} ms | ${percentile(sorted, 99)} ms | ${sorted[0]} ms | ${sorted.at(-1)} ms |`,
  };
}
