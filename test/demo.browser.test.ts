import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { Page } from 'playwright-core';
import { join } from 'node:path';
import { projectRoot } from '../apps/gateway/src/config.js';
import { type Demo, startDemo } from '../apps/demo-crm/src/demo.js';
import { TEST_SESSION_SECRET } from './support/gateway.js';
import { launchBrowser, type TestBrowser } from './support/browser.js';
import { eventually } from './support/tabs.js';

/** The demo CRM as a newcomer uses it, in a real Chromium against the lab PBX. */
describe('the demo CRM', () => {
  let demo: Demo;
  let browser: TestBrowser;
  // Its own DATA_DIR: a developer's earlier `npm run demo` (agents' device, On/Off) must not leak in.
  const dataDir = mkdtempSync(join(tmpdir(), 'callgate-demo-data-'));

  beforeAll(async () => {
    demo = await startDemo({
      env: {
        PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'error',
        SESSION_SECRET: TEST_SESSION_SECRET,
        DATA_DIR: dataDir,
      },
      crmPort: 0,
      domain: 'demo',
      preferDemoPorts: false,
    });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser.close();
    await demo.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('signs in, takes a simulated customer call on the desk phone with the customer card popped up, and hangs up', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.setViewportSize({ width: 1360, height: 800 });
    await page.goto(demo.crm.url);
    await page.selectOption('#ipphone', '5000');
    await page.click('button[type=submit]');
    await page.waitForURL('**/desk');
    await page.waitForFunction(() => document.getElementById('conn')?.textContent === 'connected');

    await page.selectOption('#device-select', '4');
    await page.waitForFunction(() =>
      [...document.querySelectorAll('#event-log .name')].some((el) => el.textContent === 'csShowDeviceType'),
    );
    // The desk phone's line must be registered before a customer can reach it.
    await eventually(async () => {
      const res = await fetch(`${demo.gateway.url}/v1/demo/agents/5000`, {
        headers: { authorization: 'Bearer demo-api-key-change-me-0123456789' },
      });
      return ((await res.json()) as { sip: { registered: boolean } | null }).sip?.registered
        ? true
        : undefined;
    }, 10_000);

    await page.selectOption('#simulate-from', '0901000001');
    await page.click('#simulate-btn');
    await page.waitForSelector('#customer-card.ringing h3', { timeout: 10_000 });
    expect(await page.textContent('#customer-card h3')).toContain('Nguyễn Thị Lan');
    await page.waitForFunction(
      () => document.getElementById('call-state')?.textContent === 'In call',
      undefined,
      {
        timeout: 10_000,
      },
    );
    const dir = join(projectRoot(), 'test-results');
    mkdirSync(dir, { recursive: true });
    await page.screenshot({ path: join(dir, 'demo-desk-in-call.png') });

    await page.click('#hold-btn');
    await page.waitForFunction(() =>
      [...document.querySelectorAll('#event-log .name')].some((el) => el.textContent === 'csHoldCall'),
    );
    await page.click('#hangup-btn');
    await page.waitForFunction(() => document.getElementById('call-state')?.textContent === 'Idle');
    expect(errors).toEqual([]);
    await page.selectOption('#device-select', '1');
    await page.waitForFunction(
      () =>
        [...document.querySelectorAll('#event-log .name')].filter(
          (el) => el.textContent === 'csShowDeviceType',
        ).length >= 3,
    );
    await page.close();
  });

  it('in browser mode the desk itself answers: the customer card pops up, Answer, the page plays the customer', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`${demo.crm.url}/desk`);
    await page.waitForFunction(() => document.getElementById('conn')?.textContent === 'connected');
    if ((await page.textContent('#voice-label')) !== 'Voice in this tab') await page.click('#voice-btn');
    await page.waitForFunction(
      () => document.getElementById('voice-label')?.textContent === 'Voice in this tab',
    );
    expect(await page.inputValue('#device-select')).toBe('1');

    // The simulated customer reaches the in-page phone once it has registered (the PBX says 404 before).
    await eventually(
      async () => {
        await page.selectOption('#simulate-from', '0901000002');
        await page.click('#simulate-btn');
        const rang = await page
          .waitForSelector('#customer-card.ringing h3', { timeout: 1500 })
          .then(() => true)
          .catch(() => undefined);
        return rang;
      },
      15_000,
      'the customer card after a simulated call',
    );
    expect(await page.textContent('#customer-card h3')).toContain('Trần Văn Minh');
    await page.click('#answer-btn');
    await page.waitForFunction(() => document.getElementById('call-state')?.textContent === 'In call');
    await page.waitForFunction(() => {
      const el = document.getElementById('peer-video') as HTMLMediaElement | null;
      return el?.srcObject instanceof MediaStream && el.srcObject.getAudioTracks().length === 1;
    });
    await page.click('#hangup-btn');
    await page.waitForFunction(() => document.getElementById('call-state')?.textContent === 'Idle');
    expect(errors).toEqual([]);
  });

  it('the JS-PHONE page registers and calls a customer with the seed’s markup and functions', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`${demo.crm.url}/jsphone`);
    await page.waitForFunction(() => document.getElementById('jp-status')?.textContent === 'registered');
    const customer = demo.lab.bot('0901000001');
    const answered = customer.waitFor('answered', { timeoutMs: 15_000 });
    // onRegister() took voice: this page's in-page phone places the call once it has registered.
    await eventually(
      async () => {
        await page.fill('#alohub_call_dial', '0901000001');
        await page.click('#alohub_shipjs_container button.primary');
        return page
          .waitForFunction(() => document.getElementById('jp-call')?.textContent === 'In call', undefined, {
            timeout: 3000,
          })
          .then(() => true)
          .catch(() => undefined);
      },
      20_000,
      'a call from the JS-PHONE page',
    );
    const { call } = await answered;
    await page.click('#alohub_shipjs_container button.danger');
    expect((await call.terminated).by).toBe('remote');
    await page.waitForFunction(() => document.getElementById('jp-call')?.textContent === 'Idle');
    expect(errors).toEqual([]);
  });

  it('two agents in two browser windows: 5001 transfers its customer to 5002, who accepts; the customer is with 5002', async () => {
    const desk = async (ipphone: string): Promise<Page> => {
      // one window per agent: each has its own cookie jar, as two browsers on two desks
      const context = await browser.browser.newContext();
      const page = await context.newPage();
      page.on('pageerror', (err) => errors.push(`${ipphone}: ${err.message}`));
      await page.goto(demo.crm.url);
      await page.selectOption('#ipphone', ipphone);
      await page.click('button[type=submit]');
      await page.waitForURL('**/desk');
      await page.waitForFunction(() => document.getElementById('conn')?.textContent === 'connected');
      await page.waitForFunction(
        () => document.getElementById('voice-label')?.textContent === 'Voice in this tab',
      );
      return page;
    };
    const errors: string[] = [];
    const loggedName = (page: Page, name: string): Promise<unknown> =>
      page.waitForFunction(
        (name) => [...document.querySelectorAll('#event-log .name')].some((el) => el.textContent === name),
        name,
        { timeout: 15_000 },
      );
    const target = await desk('5002');
    const source = await desk('5001');
    await eventually(
      async () => {
        await source.selectOption('#simulate-from', '0901000001');
        await source.click('#simulate-btn');
        return source
          .waitForSelector('#customer-card.ringing h3', { timeout: 1500 })
          .then(() => true)
          .catch(() => undefined);
      },
      15_000,
      'the customer card at 5001',
    );
    await source.click('#answer-btn');
    await source.waitForFunction(() => document.getElementById('call-state')?.textContent === 'In call');

    await source.click('#refresh-agents');
    await source.click('#agent-list li[data-ipphone="5002"] .transfer-btn');
    await target.waitForSelector('#transfer-request:not([hidden])');
    expect(await target.textContent('#transfer-text')).toContain('Nguyễn Thị Lan');
    await target.click('#transfer-accept');
    // The request closes on the target's desk through callgate's 3C addition.
    await loggedName(target, 'csTransferRequestClosed');
    expect(await target.isHidden('#transfer-request')).toBe(true);

    await target.waitForFunction(
      () => document.getElementById('call-state')?.textContent === 'In call',
      undefined,
      {
        timeout: 15_000,
      },
    );
    expect(await target.textContent('#customer-card h3')).toContain('Nguyễn Thị Lan');
    await target.waitForFunction(() => {
      const el = document.getElementById('peer-video') as HTMLMediaElement | null;
      return el?.srcObject instanceof MediaStream && el.srcObject.getAudioTracks().length === 1;
    });
    await loggedName(source, 'csTransferCallSuccess');
    await source.waitForFunction(() => document.getElementById('call-state')?.textContent === 'Idle');
    await target.click('#hangup-btn');
    await target.waitForFunction(() => document.getElementById('call-state')?.textContent === 'Idle');
    expect(errors).toEqual([]);
    await source.context().close();
    await target.context().close();
  });
});
