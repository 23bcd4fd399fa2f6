import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningGateway } from '../apps/gateway/src/app.js';
import { projectRoot } from '../apps/gateway/src/config.js';
import type { LoginResponse } from '@callgate/contracts';
import type { Lab } from '../apps/lab/src/lab.js';
import { launchBrowser, type TestBrowser } from './support/browser.js';
import { crmToken, startGateway } from './support/gateway.js';
import { API_KEY, startLabGateway, type LabGateway } from './support/lab-gateway.js';
import { openCrmTab, startCrmPages, type CrmPageServer, type CrmTab } from './support/pages.js';
import { eventually } from './support/tabs.js';

/** A customer's call that reaches the in-page phone of 5003 (once it is registered). */
async function ringAgent(lab: Lab, customerNumber: string) {
  const customer = lab.bot(customerNumber);
  const call = await eventually(
    async () => {
      const attempt = customer.call('5003');
      const rang = await Promise.race([
        attempt.terminated.then(() => false),
        new Promise<boolean>((resolve) => attempt.once('progress', () => resolve(true))),
      ]);
      return rang ? attempt : undefined;
    },
    15_000,
    'the in-page phone ringing',
  );
  return { customer, call };
}

/**
 * The embedded default (one gateway, no Redis, no SESSION_SECRET) restarted under open pages:
 * its session secret is kept in DATA_DIR, and its event ids continue above
 * the old ones, so the pages come back by themselves and hear the next call.
 */
describe('embedded default restarted under an open page (no Redis, no SESSION_SECRET)', () => {
  let env: LabGateway;
  let gateway: RunningGateway;
  let browser: TestBrowser;
  let pages: CrmPageServer;
  let tab: CrmTab;
  let dataDir: string;
  let port: number;

  const restart = async (): Promise<void> => {
    await gateway.close();
    gateway = await startGateway({
      configPath: env.configPath,
      env: { SESSION_SECRET: '', DATA_DIR: dataDir, PORT: String(port) },
    });
  };

  beforeAll(async () => {
    execFileSync(process.execPath, ['scripts/build-sdk.js'], { cwd: projectRoot(), stdio: 'ignore' });
    dataDir = mkdtempSync(join(tmpdir(), 'callgate-data-'));
    env = await startLabGateway(
      { customers: 2 },
      { gateway: { env: { SESSION_SECRET: '', DATA_DIR: dataDir } } },
    );
    gateway = env.gateway;
    port = gateway.port;
    browser = await launchBrowser();
    pages = await startCrmPages();
    // The page passes the CRM token to csInit, as real pages do, after the CRM logged it in.
    const token = await crmToken('5003');
    const res = await fetch(`${gateway.url}/demo/thirdParty/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token }),
    });
    expect(((await res.json()) as LoginResponse).code).toBe('ok');
    tab = await openCrmTab(browser, pages, { gatewayUrl: gateway.url, token });
    await tab.waitForCallback('csShowEnableVoice', { args: [true] });
  });
  afterAll(async () => {
    await browser.close();
    await pages.close();
    await gateway.close();
    await env.lab.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps the session secret in DATA_DIR with mode 0600', () => {
    expect(statSync(join(dataDir, 'session-secret')).mode & 0o777).toBe(0o600);
  });

  it('an idle page comes back by itself after a restart and hears the next call to its end', async () => {
    const before = await tab.mark();
    await restart();
    await tab.waitForCallback('csNotifyReconnecting', { after: before });
    await tab.waitForCallback('csShowEnableVoice', { args: [true], after: before, timeoutMs: 20_000 });

    const afterRestart = await tab.mark();
    const { customer, call } = await ringAgent(env.lab, '0901000001');
    await tab.waitForCallback('csCallRinging', { args: ['0901000001'], after: afterRestart });
    await tab.page.evaluate(() => (window as unknown as { onAcceptCall(): Promise<unknown> }).onAcceptCall());
    await tab.waitForCallback('csAcceptCall', { after: afterRestart });
    await customer.hangup(call);
    await tab.waitForCallback('csEndCall', { after: afterRestart });
    expect(tab.errors).toEqual([]);
  }, 60_000);

  it('a call ringing through the restart is answered and ended afterwards, and the next call rings', async () => {
    const before = await tab.mark();
    const { customer, call } = await ringAgent(env.lab, '0901000002');
    await tab.waitForCallback('csCallRinging', { args: ['0901000002'], after: before });

    const beforeRestart = await tab.mark();
    await restart();
    await tab.waitForCallback('csShowEnableVoice', { args: [true], after: beforeRestart, timeoutMs: 20_000 });
    expect(call.isTerminated).toBe(false);
    await tab.page.evaluate(() => (window as unknown as { onAcceptCall(): Promise<unknown> }).onAcceptCall());
    await tab.waitForCallback('csAcceptCall', { after: beforeRestart });
    await customer.hangup(call);
    await tab.waitForCallback('csEndCall', { after: beforeRestart });

    const next = await tab.mark();
    const second = await ringAgent(env.lab, '0901000001');
    await tab.waitForCallback('csCallRinging', { args: ['0901000001'], after: next });
    await second.customer.hangup(second.call);
    await tab.waitForCallback('csEndCall', { after: next });
    expect(tab.errors).toEqual([]);
  }, 90_000);

  it('a page reloaded after a restart is accepted with the CRM token it logged in with', async () => {
    await restart();
    await tab.page.reload();
    await tab.waitForCallback('csInitComplete', { timeoutMs: 20_000 });
    await tab.waitForCallback('csShowEnableVoice', { args: [true], timeoutMs: 20_000 });
    const { customer, call } = await ringAgent(env.lab, '0901000001');
    await tab.waitForCallback('csCallRinging', { args: ['0901000001'] });
    await customer.hangup(call);
    await tab.waitForCallback('csEndCall');
    expect((await tab.calls()).some(([name]) => name === 'csInitError')).toBe(false);
  }, 60_000);
  it('the agent’s device and On/Off come back after a restart (kept in DATA_DIR)', async () => {
    const before = await tab.mark();
    await tab.page.evaluate(() => {
      (window as unknown as { changeCallStatus(): void }).changeCallStatus();
    });
    await tab.waitForCallback('csShowCallStatus', { args: ['Offline'], after: before });
    await tab.page.evaluate(() => {
      (window as unknown as { changeDevice(type: number): void }).changeDevice(4);
    });
    await tab.waitForCallback('csShowDeviceType', { args: [4], after: before });

    const beforeRestart = await tab.mark();
    await restart();
    // The page reconnects by itself; its snapshot shows what the agent had, not the defaults.
    await tab.waitForCallback('csShowDeviceType', { args: [4], after: beforeRestart, timeoutMs: 20_000 });
    await tab.waitForCallback('csShowCallStatus', { args: ['Offline'], after: beforeRestart });
    const shown = (await tab.calls()).filter(([name]) => name === 'csShowCallStatus').at(-1);
    expect(shown).toEqual(['csShowCallStatus', 'Offline']);
    const res = await fetch(`${gateway.url}/v1/demo/agents/5003`, {
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    expect(await res.json()).toMatchObject({ deviceType: 4, callStatus: 'off' });
    expect(tab.errors).toEqual([]);
  }, 60_000);
});
