/**
 * Pages written for the 3C / VCC vendor, in the styles real integrations use, work against callgate
 * when only the host of their script tags changes (VENDOR-BEHAVIOUR.md §1): a jQuery 1.x-era page
 * that loads the six vendor scripts in <head> and calls csInit before <body> exists, and a
 * React-style page whose callbacks are `window.x = function` assignments and which passes the
 * CRM's own JWT to csInit on every load, without any login.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../apps/gateway/src/config.js';
import { launchBrowser, type TestBrowser } from './support/browser.js';
import { crmToken, startGateway } from './support/gateway.js';
import { openCrmTab, startCrmPages, type CrmPageServer, type CrmTab } from './support/pages.js';

const VENDOR_SCRIPTS = [
  'jquery.min.js',
  'jssip-3.0.7.js',
  'init-3.0.7.js',
  'web.push.js',
  'cs_const.js',
  'cs_voice.js',
];

const CALLBACKS = [
  'csInitComplete',
  'csInitError',
  'csShowEnableVoice',
  'csShowCallStatus',
  'csShowDeviceType',
  'csListTransferAgent',
  'csCallRinging',
  'csEndCall',
  'csOndisconnected',
];

function inline(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

/** A jQuery 1.x-era page, as the vendor's demo and older CRMs write it: everything in <head>. */
function jqueryEraPage(gatewayUrl: string, token: string): string {
  const tags = VENDOR_SCRIPTS.map((file) => `<script src="${gatewayUrl}/js/embed/${file}"></script>`).join(
    '\n',
  );
  const callbacks = CALLBACKS.filter((name) => name !== 'csInitComplete')
    .map((name) => `function ${name}() { calls.push([${inline(name)}].concat([].slice.call(arguments))); }`)
    .join('\n');
  return `<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>Vendor-era CRM</title>
${tags}
<script>
var calls = [];
window.calls = calls;
window.unloadHandlers = 0;
${callbacks}
function csInitComplete() {
  calls.push(['csInitComplete']);
  if (!csVoice.enableVoice) csEnableCall();
  $('#status').text('ready');
}
$(window).unload(function () {
  csUnregister();
  if (csVoice.enableVoice) reConfigDeviceType();
});
$(window).bind('beforeunload', function () { window.unloadHandlers++; });
window.bodyAtInit = document.body === null;
csInit(${inline(token)}, 'demo');
</script>
</head>
<body>
<span id="status">loading</span>
<input id="phone" value="0901000001">
<video id="my-video" hidden></video>
<video id="peer-video" hidden></video>
<script>$(function () { window.domReady = $('#peer-video').length === 1 && $('#phone').val() === '0901000001'; });</script>
</body>
</html>
`;
}

/** A React-style page: callbacks assigned to window, the CRM JWT straight into csInit, no login. */
function reactStylePage(gatewayUrl: string, token: string): string {
  const callbacks = CALLBACKS.map(
    (name) =>
      `window.${name} = function () { window.calls.push([${inline(name)}].concat([].slice.call(arguments))); };`,
  ).join('\n');
  return `<!doctype html>
<html>
<head>
<meta charset="utf-8">
<title>React-style CRM</title>
<script src="${gatewayUrl}/js/embed/jquery.min.js"></script>
<script src="${gatewayUrl}/js/embed/jssip-3.2.10.js"></script>
<script src="${gatewayUrl}/js/embed/init-3.0.7.js"></script>
<script src="${gatewayUrl}/js/embed/web.push.js"></script>
<script src="${gatewayUrl}/js/embed/cs_const.js"></script>
<script src="${gatewayUrl}/js/embed/cs_voice.js"></script>
</head>
<body>
<div id="root"></div>
<video id="my-video" hidden></video>
<video id="peer-video" hidden></video>
<script>
window.calls = [];
${callbacks}
window.csInit(${inline(token)}, 'demo');
</script>
</body>
</html>
`;
}

describe('3C drop-in: vendor pages with only the script host changed', () => {
  let browser: TestBrowser;
  let pages: CrmPageServer;
  let gateway: Awaited<ReturnType<typeof startGateway>>;
  const tabs: CrmTab[] = [];

  const openPage = async (html: string): Promise<CrmTab> => {
    const tab = await openCrmTab(browser, pages, { gatewayUrl: gateway.url, token: '', html });
    tabs.push(tab);
    return tab;
  };

  beforeAll(async () => {
    await promisify(execFile)(process.execPath, [join(projectRoot(), 'scripts', 'build-sdk.js')], {
      cwd: projectRoot(),
    });
    browser = await launchBrowser();
    pages = await startCrmPages();
    gateway = await startGateway();
  }, 120_000);

  afterAll(async () => {
    for (const tab of tabs.splice(0)) await tab.close();
    await browser?.close();
    await pages?.close();
    await gateway?.close();
  });

  it('a jQuery 1.x-era page: $ works ($(window).unload, .bind), csInit runs before <body> with the CRM JWT', async () => {
    const token = await crmToken('5000');
    const tab = await openPage(jqueryEraPage(gateway.url, token));
    await tab.waitForCallback('csInitComplete');
    await tab.waitForCallback('csShowCallStatus', { args: ['Online'] });
    await tab.waitForVoice(true);
    const state = await tab.page.evaluate(() => {
      const w = window as unknown as {
        $: { fn: { jquery: string }; _data(el: unknown, key: string): Record<string, unknown[]> };
        bodyAtInit: boolean;
        domReady: boolean;
      };
      const events = w.$._data(window, 'events');
      return {
        jquery: w.$.fn.jquery,
        bodyAtInit: w.bodyAtInit,
        domReady: w.domReady,
        unload: events.unload?.length ?? 0,
        beforeunload: events.beforeunload?.length ?? 0,
        status: document.getElementById('status')?.textContent,
      };
    });
    expect(state).toEqual({
      jquery: expect.stringMatching(/^3\./) as unknown,
      bodyAtInit: true,
      domReady: true,
      unload: 1,
      beforeunload: 1,
      status: 'ready',
    });
    expect(tab.errors).toEqual([]);
  });

  it('a React-style page passes the CRM JWT on every reload without a login; a refusal reaches csInitError and a retried csInit recovers', async () => {
    const token = await crmToken('5001', { expired: new Date(Date.now() + 3600_000).toISOString() });
    const tab = await openPage(reactStylePage(gateway.url, token));
    await tab.waitForCallback('csInitComplete');
    await tab.waitForCallback('csShowCallStatus', { args: ['Online'] });
    for (let load = 0; load < 2; load++) {
      await tab.page.reload({ waitUntil: 'load' });
      await tab.waitForCallback('csInitComplete');
    }
    expect(
      await tab.page.evaluate(() => (window as unknown as { getExtension(): string }).getExtension()),
    ).toBe('5001');

    // a CRM token past its expiry: refused with its code, then a fresh token recovers without a reload
    const expired = await crmToken('5001', { exp: Math.floor(Date.now() / 1000) - 600 });
    const mark = await tab.mark();
    expect(await tab.call('csInit', expired, 'demo')).toMatchObject({ ok: false, code: 'TOKEN_EXPIRED' });
    await tab.waitForCallback('csInitError', { args: ['TOKEN_EXPIRED'], after: mark });
    const fresh = await crmToken('5001', { expired: Math.floor(Date.now() / 1000) + 3600 });
    expect(await tab.call('csInit', fresh, 'demo')).toMatchObject({ ok: true });
    await tab.waitForCallback('csInitComplete', { after: mark });
    expect(tab.errors).toEqual([]);
  });

  it('a token whose ipphone is not a safe agent id is refused with INVALID_TOKEN, and the page stays usable', async () => {
    for (const ipphone of ['50@00', '5000;x=1', '50 00', '5'.repeat(200)]) {
      const tab = await openPage(reactStylePage(gateway.url, await crmToken(ipphone)));
      await tab.waitForCallback('csInitError', { args: ['INVALID_TOKEN'] });
      expect(tab.errors).toEqual([]);
      await tab.close();
    }
  });
});
