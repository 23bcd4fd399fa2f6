/**
 * The embed SDK in real headless Chromium against a real gateway: CRM pages on their own origin
 * load `/embed/callgate.js` from the gateway and use the 3C functions and callbacks.
 */
import { execFile } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { LoginResponse } from '@callgate/contracts';
import { launchBrowser, type TestBrowser } from './support/browser.js';
import { crmToken, login, startGateway } from './support/gateway.js';
import {
  openCrmTab,
  startCrmPages,
  type CrmPageOptions,
  type CrmPageServer,
  type CrmTab,
} from './support/pages.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Newest modification time under `dir`, in ms. */
function newest(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((latest, entry) => {
    const path = join(dir, entry.name);
    return Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }, 0);
}

/** Builds dist/embed (what the gateway serves) when it is missing or older than the SDK's sources. */
async function ensureSdkBuilt(): Promise<void> {
  const bundle = join(ROOT, 'dist', 'embed', 'callgate.js');
  let built = 0;
  try {
    built = statSync(bundle).mtimeMs;
  } catch {
    // not built yet: built stays 0
  }
  const sources = Math.max(
    newest(join(ROOT, 'libs', 'embed-sdk', 'src')),
    newest(join(ROOT, 'libs', 'contracts', 'src')),
  );
  if (built > sources) return;
  await promisify(execFile)(process.execPath, [join(ROOT, 'scripts', 'build-sdk.js')], { cwd: ROOT });
}

/** Logs a CRM token in (as the CRM backend does), so csInit may use the CRM token itself. */
async function loginWith(url: string, token: string): Promise<LoginResponse> {
  const res = await fetch(`${url}/demo/thirdParty/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as LoginResponse;
}

describe('embed SDK in Chromium: the 3C functions against a live gateway', () => {
  let browser: TestBrowser;
  let pages: CrmPageServer;
  let gateway: Awaited<ReturnType<typeof startGateway>>;
  let tabs: CrmTab[] = [];

  const open = async (options: Omit<CrmPageOptions, 'gatewayUrl'>): Promise<CrmTab> => {
    const tab = await openCrmTab(browser, pages, { gatewayUrl: gateway.url, ...options });
    tabs.push(tab);
    return tab;
  };

  beforeAll(async () => {
    await ensureSdkBuilt();
    browser = await launchBrowser();
    pages = await startCrmPages();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await pages?.close();
  });

  beforeEach(async () => {
    gateway = await startGateway();
  });

  afterEach(async () => {
    const opened = tabs;
    tabs = [];
    await Promise.all(opened.map((tab) => tab.close()));
    await gateway.close();
    for (const tab of opened) expect(tab.errors).toEqual([]);
  });

  it("the first tab holds voice; a second tab's csEnableCall takes it and both tabs are told", async () => {
    const first = await open({ token: await login(gateway.url, '5000') });
    await first.waitForCallback('csInitComplete');
    await first.waitForCallback('csShowEnableVoice', { args: [true] });
    expect(await first.voice()).toBe(true);

    // the second tab uses the CRM token itself, which csInit accepts once it was logged in
    const token = await crmToken('5000');
    await loginWith(gateway.url, token);
    const second = await open({ token });
    await second.waitForCallback('csInitComplete');
    await second.waitForCallback('csShowEnableVoice', { args: [false] });
    expect(await second.voice()).toBe(false);

    const firstMark = await first.mark();
    const secondMark = await second.mark();
    expect(await second.call('csEnableCall')).toMatchObject({ ok: true, isEnable: true });
    await second.waitForCallback('csShowEnableVoice', { args: [true], after: secondMark });
    await first.waitForCallback('csShowEnableVoice', { args: [false], after: firstMark });
    expect(await second.voice()).toBe(true);
    expect(await first.voice()).toBe(false);
    const shown = async (tab: CrmTab, after: number) =>
      (await tab.calls()).slice(after).filter(([name]) => name === 'csShowEnableVoice');
    expect(await shown(second, secondMark)).toEqual([['csShowEnableVoice', true]]);
    expect(await shown(first, firstMark)).toEqual([['csShowEnableVoice', false]]);
  });

  it('a token with a bad signature fires csInitError(INVALID_TOKEN) and never csInitComplete', async () => {
    const [header, payload, signature = ''] = (await crmToken('5000')).split('.');
    const forged = `${header}.${payload}.${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`;
    const tab = await open({ token: forged });
    await tab.waitForCallback('csInitError', { args: ['INVALID_TOKEN'] });
    const names = (await tab.calls()).map(([name]) => name);
    expect(names).not.toContain('csInitComplete');
    expect(await tab.voice()).toBe(false);
  });

  it('a token that is not a JWT fires csInitError(INVALID_TOKEN)', async () => {
    const tab = await open({ token: 'not-a-jwt' });
    await tab.waitForCallback('csInitError', { args: ['INVALID_TOKEN'] });
  });

  it('changeCallStatus, changeDevice, reConfigDeviceType and getTransferAgent reach every tab of the agent', async () => {
    const token = await login(gateway.url, '5000');
    const a = await open({ token });
    const b = await open({ token });
    await a.waitForCallback('csInitComplete');
    await b.waitForCallback('csInitComplete');

    let aMark = await a.mark();
    let bMark = await b.mark();
    expect(await a.call('changeCallStatus')).toMatchObject({ ok: true, status: 'off' });
    await a.waitForCallback('csShowCallStatus', { args: ['Offline'], after: aMark });
    await b.waitForCallback('csShowCallStatus', { args: ['Offline'], after: bMark });

    aMark = await a.mark();
    bMark = await b.mark();
    expect(await a.call('changeDevice', 4)).toMatchObject({ ok: true, type: 4 });
    await a.waitForCallback('csShowDeviceType', { args: [4], after: aMark });
    await b.waitForCallback('csShowDeviceType', { args: [4], after: bMark });

    // a refused change: the promise tells the page, no callback fires, a warning names the code
    aMark = await a.mark();
    bMark = await b.mark();
    expect(await a.call('changeDevice', 3, '09x; DROP')).toMatchObject({ ok: false, code: 'INVALID_MOBILE' });
    expect(a.console.some((line) => line.startsWith('warning:') && line.includes('INVALID_MOBILE'))).toBe(
      true,
    );

    // the refusing tab is shown the device really active (4); changeDevice(8) says why it is refused
    await a.waitForCallback('csShowDeviceType', { args: [4], after: aMark });
    expect(await a.call('changeDevice', 8)).toMatchObject({
      ok: false,
      code: 'INVALID_DEVICE_TYPE',
      message: expect.stringContaining("the vendor's mobile app") as unknown,
    });

    // back to the default device (1 for 5000)
    expect(await a.call('reConfigDeviceType')).toMatchObject({ ok: true, type: 1 });
    await a.waitForCallback('csShowDeviceType', { args: [1], after: aMark });
    await b.waitForCallback('csShowDeviceType', { args: [1], after: bMark });
    for (const [tab, mark, shown] of [
      [a, aMark, [4, 4, 1]],
      [b, bMark, [1]],
    ] as const) {
      const since = (await tab.calls()).slice(mark);
      expect(since.filter(([name]) => name === 'csShowDeviceType')).toEqual(
        shown.map((type) => ['csShowDeviceType', type]),
      );
      expect(since.filter(([name]) => name === 'csInitError')).toEqual([]);
    }

    aMark = await a.mark();
    const listed = await a.call('getTransferAgent');
    expect(listed).toMatchObject({ ok: true });
    const [, list] = await a.waitForCallback('csListTransferAgent', { after: aMark });
    // available agents only: 5000 itself (now off) is not listed
    expect(list).toEqual([]);
  });

  it('a page that defines none of the callbacks loads, gets voice and runs commands without a page error', async () => {
    const tab = await open({ token: await login(gateway.url, '5000'), callbacks: false });
    await tab.waitForVoice(true);
    expect(
      await tab.page.evaluate(
        () => typeof (window as unknown as { callgate?: { connect?: unknown } }).callgate?.connect,
      ),
    ).toBe('function');
    // events with no callback to call (agent.callStatus, agent.device) arrive between these answers
    expect(await tab.call('changeCallStatus')).toMatchObject({ ok: true, status: 'off' });
    expect(await tab.call('changeDevice', 4)).toMatchObject({ ok: true, type: 4 });
    expect(await tab.call('reConfigDeviceType')).toMatchObject({ ok: true, type: 1 });
    expect(await tab.call('getTransferAgent')).toMatchObject({ ok: true });
    // The in-page phone of this browser-mode agent tries the demo config's PBX, which this test
    // does not run: that connection error is expected; anything else is not.
    expect(
      tab.console.filter((line) => line.startsWith('error:') && !line.includes('ws://127.0.0.1:5066')),
    ).toEqual([]);
  });

  it('the ESM API from another origin: connect(), typed events, and a refused command resolves with its code', async () => {
    const token = await login(gateway.url, '5000');
    const tab = await open({ token, init: false, callbacks: false });
    const result = await tab.page.evaluate(
      async ({ gatewayUrl, token }) => {
        const sdk = (await import(
          `${gatewayUrl}/embed/callgate.mjs`
        )) as typeof import('@callgate/embed-sdk');
        const client = sdk.connect({ gatewayUrl, domain: 'demo', token });
        const ready = await new Promise<{ isEnable: boolean; deviceType: number }>((resolve) =>
          client.once('session.ready', (event) => resolve(event.data)),
        );
        const refused = await client.command('agent.setDevice', { type: 3, mobile: '09x; DROP' });
        const toggled = await client.command('agent.toggleCallStatus', {});
        const lastEventId = client.lastEventId;
        client.close();
        return { ready, refused, toggled, lastEventId, closed: client.closed };
      },
      { gatewayUrl: gateway.url, token },
    );
    expect(result.ready).toMatchObject({ isEnable: true, deviceType: 1 });
    expect(result.refused).toMatchObject({ ok: false, code: 'INVALID_MOBILE' });
    expect(result.toggled).toMatchObject({ ok: true, status: 'off' });
    expect(typeof result.lastEventId).toBe('string');
    expect(result.closed).toBe(true);
  });

  it('the 3C unload snippet: csUnregister then reConfigDeviceType while csVoice.enableVoice is still true', async () => {
    const token = await login(gateway.url, '5000');
    const tab = await open({ token });
    await tab.waitForVoice(true);
    expect(await tab.call('changeDevice', 4)).toMatchObject({ ok: true, type: 4 });
    const answers = await tab.page.evaluate(() => {
      const w = window as unknown as {
        csUnregister(): Promise<unknown>;
        reConfigDeviceType(): Promise<unknown>;
        csVoice: { enableVoice: boolean };
      };
      const unregistered = w.csUnregister();
      const reset = w.csVoice.enableVoice ? w.reConfigDeviceType() : Promise.resolve('not sent');
      return Promise.all([unregistered, reset]);
    });
    expect(answers).toEqual([{ ok: true }, expect.objectContaining({ ok: true, type: 1 })]);
    expect(await tab.voice()).toBe(false);

    // another tab of the agent sees the default device
    const other = await open({ token });
    await other.waitForCallback('csShowDeviceType', { args: [1] });
  });
});
