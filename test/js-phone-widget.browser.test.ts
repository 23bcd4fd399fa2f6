/**
 * Real Alohub JS-PHONE pages, changed only in the host of their two script tags, in headless
 * Chromium against a real gateway and the lab PBX. Three vendor styles: only the four `<audio>`
 * tags (the widget builds the UI), the full static markup (the widget uses it), and a page that
 * calls `addHtml(); addHtmlLogin(); onRegister();` from `window.onload`. Agent 5003 is in browser
 * mode; 5000 defaults to its desk phone (mode 4) and becomes browser mode when the widget signs in.
 * Screenshots of each panel go to test-results/.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { ToneSource, type SipCall } from '@callgate/sip';
import { projectRoot } from '../apps/gateway/src/config.js';
import { launchBrowser, type TestBrowser } from './support/browser.js';
import { rest, startLabGateway, type LabGateway, API_KEY } from './support/lab-gateway.js';
import { eventually } from './support/tabs.js';

type Style = 'audio-only' | 'static' | 'onload';

interface PageSpec {
  style: Style;
  /** for `onload`: the form the page fills before `onRegister()` */
  form?: { ext: string; password: string };
}

const AUDIO = `<audio id="audio_remote" autoplay="autoplay"></audio>
<audio id="ringtone" loop="" src="sounds/ringtone.wav"></audio>
<audio id="ringbacktone" loop="" src="sounds/ringbacktone.wav"></audio>
<audio id="dtmfTone" src="sounds/dtmf.wav"></audio>`;

/** The vendor's demo markup, with its own stylesheet; six icons call minimizeContent(); no answer button. */
const STATIC_MARKUP = `<div id="alohub_login_content">
  <div class="bar"><button id="btnOpenLoginForm" onclick="onTogglePhone()">Login</button><i class="icon" onclick="minimizeContent()">_</i></div>
  <div id="alohub_login_form" class="is_open">
    <input id="txtDomain"><input id="txtApiKey"><input id="txtWebsocketServerUrl"><input id="txtIceServers">
    <input id="txtDisplayName"><input id="txtPrivateIdentity"><input id="txtPublicIdentity">
    <input id="txtPassword" type="password"><input id="txtRealm">
    <button id="btnRegister" onclick="onRegister()">Register</button>
  </div>
  <span id="txtRegStatus"></span><i class="icon" onclick="minimizeContent()">_</i>
</div>
<div id="alohub_call_dial"><i class="icon" onclick="minimizeContent()">_</i>
  <input id="txtPhoneNumber"><button id="pageCall" onclick="onCall()">Call</button>
</div>
<div id="alohub_calling_content"><i class="icon" onclick="minimizeContent()">_</i>
  <span id="txtPhoneCalling"></span><button onclick="onHangUp()">End</button>
</div>
<div id="alohub_answer_content"><i class="icon" onclick="minimizeContent()">_</i>
  <span id="txtPhoneAnswer"></span><span id="txtCallTime"></span><button id="pageHangUp" onclick="onHangUp()">End</button>
  <i class="icon" onclick="minimizeContent()">_</i>
</div>`;

function pageHtml(gatewayUrl: string, spec: PageSpec): string {
  const body = spec.style === 'static' ? `${AUDIO}\n${STATIC_MARKUP}` : AUDIO;
  const onload =
    spec.style === 'onload' && spec.form
      ? `<script>
window.onload = function () {
  addHtml(); addHtmlLogin();
  document.getElementById('txtPrivateIdentity').value = ${JSON.stringify(spec.form.ext)};
  document.getElementById('txtPassword').value = ${JSON.stringify(spec.form.password)};
  document.getElementById('txtDomain').value = ${JSON.stringify(`${gatewayUrl}/alohub/demo/makeCall`)};
  window.registered = onRegister();
};
</script>`
      : '';
  return `<!doctype html>
<html>
<head>
<meta charset="utf-8">
<title>CRM with Alohub</title>
<style>
body { font-family: serif; background: #f3f4f6; }
button { background: rgb(255, 0, 0); }
#alohub_sipml5 .icon { cursor: pointer; }
</style>
</head>
<body>
<h1>CRM</h1>
<button id="crmButton">CRM button</button>
<div id="alohub_sipml5">
${body}
</div>
<script src="${gatewayUrl}/lib/jssip-3.10.0.min.js" type="text/javascript"></script>
<script src="${gatewayUrl}/lib/sipjs.js" type="text/javascript"></script>
<script>
window.records = [];
['session.ready', 'call.ringing', 'callout.started', 'call.accepted', 'call.customerAccepted', 'callout.failed', 'call.ended'].forEach(function (type) {
  callgate.on(type, function (event) { window.records.push([type, event.transactionId || null]); });
});
</script>
${onload}
</body>
</html>
`;
}

interface Pages {
  url(spec: PageSpec): string;
  close(): Promise<void>;
}

async function startPages(gatewayUrl: () => string): Promise<Pages> {
  const specs = new Map<string, PageSpec>();
  const server: Server = createServer((req, res) => {
    const match = /^\/crm\/(\d+)$/.exec(new URL(req.url ?? '/', 'http://page').pathname);
    const spec = match?.[1] ? specs.get(match[1]) : undefined;
    if (!spec) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(pageHtml(gatewayUrl(), spec));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url(spec) {
      const id = String(specs.size + 1);
      specs.set(id, spec);
      return `${origin}/crm/${id}`;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

const SHOTS = join(projectRoot(), 'test-results');

/** The customers' tones (Hz), told apart in the page. */
const CUSTOMER_TONES = [700, 1100] as const;

/** A test's time limit: each signs in, and the in-page phone registers on the PBX. */
const TEST_MS = 60_000;

describe('JS-PHONE widget (sipjs.js) on vendor pages, Chromium, real gateway and lab PBX', () => {
  let env: LabGateway;
  let browser: TestBrowser;
  let pages: Pages;
  let opened: { page: Page; errors: Error[]; console: string[] }[] = [];
  const customer = (n: number) => env.lab.bot(`090100000${n}`);

  const open = async (spec: PageSpec): Promise<Page> => {
    const page = await browser.newPage();
    const entry = { page, errors: [] as Error[], console: [] as string[] };
    page.on('pageerror', (error) => entry.errors.push(error));
    page.on('console', (message) => entry.console.push(`${message.type()}: ${message.text()}`));
    opened.push(entry);
    await page.goto(pages.url(spec), { waitUntil: 'load' });
    return page;
  };

  /** Which of the four panels is displayed. */
  const shown = (page: Page): Promise<string[]> =>
    page.evaluate(() =>
      ['alohub_login_content', 'alohub_call_dial', 'alohub_calling_content', 'alohub_answer_content'].filter(
        (id) => {
          const element = document.getElementById(id);
          return element !== null && getComputedStyle(element).display !== 'none';
        },
      ),
    );
  const waitShown = (page: Page, id: string): Promise<true> =>
    eventually(async () => ((await shown(page)).join() === id ? true : undefined), 10_000, `#${id} shown`);
  const text = (page: Page, id: string): Promise<string> =>
    page.evaluate((id) => document.getElementById(id)?.textContent ?? '', id);

  /** Fills the widget's form and presses its button, as an agent would. */
  const signIn = async (page: Page, ext: string, password: string): Promise<void> => {
    await page.fill('#txtPrivateIdentity', ext);
    await page.fill('#txtPassword', password);
    await page.fill('#txtDomain', `${env.gateway.url}/alohub/demo/makeCall`);
    await page.click('#btnRegister');
  };
  const waitStatus = (page: Page, pattern: RegExp): Promise<string> =>
    eventually(
      async () => {
        const status = await text(page, 'txtRegStatus');
        return pattern.test(status) ? status : undefined;
      },
      15_000,
      `#txtRegStatus matching ${String(pattern)}`,
    );

  /** A customer call that reaches the agent's in-page phone (404 from the PBX until it registered). */
  const callUntilReached = (from: number, ext: string): Promise<SipCall> =>
    eventually(
      async () => {
        const call = customer(from).call(ext);
        const first = await Promise.race([
          call.terminated.then(() => 'ended' as const),
          new Promise<'reached'>((resolve) => call.once('progress', () => resolve('reached'))),
          new Promise<'reached'>((resolve) => call.once('accepted', () => resolve('reached'))),
        ]);
        return first === 'reached' ? call : undefined;
      },
      20_000,
      `a customer call reaching ${ext}'s in-page phone`,
    );

  /** The loudest RMS level of what `#audio_remote` plays in the page (WebAudio), and its main frequency then. */
  const pageHears = (page: Page): Promise<{ level: number; frequency: number }> =>
    page.evaluate(async () => {
      const element = document.getElementById('audio_remote') as HTMLAudioElement;
      const stream = element.srcObject;
      if (!(stream instanceof MediaStream)) return { level: 0, frequency: 0 };
      const context = new AudioContext();
      const analyser = context.createAnalyser();
      analyser.fftSize = 4096;
      context.createMediaStreamSource(stream).connect(analyser);
      const samples = new Float32Array(analyser.fftSize);
      const spectrum = new Float32Array(analyser.frequencyBinCount);
      let best = { level: 0, frequency: 0 };
      // twenty looks over half a second: the analyser fills in real time
      for (let i = 0; i < 20; i++) {
        await new Promise((resolve) => setTimeout(resolve, 25));
        analyser.getFloatTimeDomainData(samples);
        const level = Math.sqrt(samples.reduce((sum, v) => sum + v * v, 0) / samples.length);
        if (level <= best.level) continue;
        analyser.getFloatFrequencyData(spectrum);
        const peak = spectrum.indexOf(Math.max(...spectrum));
        best = { level, frequency: (peak * context.sampleRate) / analyser.fftSize };
      }
      await context.close();
      return best;
    });

  /** The lab's audio check both ways: the page's microphone at the customer, the customer's tone in the page. */
  const bothHear = async (page: Page, call: SipCall, from: number): Promise<void> => {
    await eventually(
      () => ((customer(from).audio(call)?.level ?? 0) > 0.005 ? true : undefined),
      10_000,
      'the page audio at the customer',
    );
    await eventually(
      async () => {
        const heard = await pageHears(page);
        return heard.level > 0.01 && Math.abs(heard.frequency - CUSTOMER_TONES[from - 1]!) < 30
          ? true
          : undefined;
      },
      10_000,
      `the customer's ${CUSTOMER_TONES[from - 1]} Hz tone in the page`,
    );
  };

  const shot = (page: Page, name: string): Promise<Buffer> =>
    page.locator('#alohub_sipml5').screenshot({ path: join(SHOTS, `js-phone-${name}.png`) });

  beforeAll(async () => {
    execFileSync(process.execPath, ['scripts/build-sdk.js'], { cwd: projectRoot(), stdio: 'ignore' });
    mkdirSync(SHOTS, { recursive: true });
    env = await startLabGateway({ customers: 2 });
    CUSTOMER_TONES.forEach((tone, i) => customer(i + 1).setTone(tone));
    browser = await launchBrowser();
    pages = await startPages(() => env.gateway.url);
  }, 90_000);

  afterEach(async () => {
    const tabs = opened;
    opened = [];
    await Promise.all(tabs.map((tab) => tab.page.close()));
    for (const n of [1, 2]) customer(n).setBehaviour({ incoming: { action: 'answer', afterMs: 0 } });
    for (const ipphone of ['5000', '5003']) {
      await eventually(async () =>
        (await rest(env.gateway, 'GET', `/v1/demo/agents/${ipphone}`)).body.call === null ? true : undefined,
      );
    }
    for (const tab of tabs) {
      expect(tab.errors).toEqual([]);
      // the pages' sounds/*.wav are missing (404), as on a page that dropped Alohub's files
      expect(
        tab.console.filter((line) => line.startsWith('error:') && !line.includes('status of 404')),
      ).toEqual([]);
    }
  });

  afterAll(async () => {
    await browser?.close();
    await pages?.close();
    await env?.close();
  }, TEST_MS);

  it(
    'a page with only the four <audio> tags: the widget builds the UI (every vendor id), scoped styles; the form signs in; a customer call is answered by itself, both hear each other; hang up',
    async () => {
      const page = await open({ style: 'audio-only' });
      const ids = [
        'alohub_login_content',
        'btnOpenLoginForm',
        'alohub_login_form',
        'txtRegStatus',
        'txtDomain',
        'txtApiKey',
        'txtWebsocketServerUrl',
        'txtIceServers',
        'txtDisplayName',
        'txtPrivateIdentity',
        'txtPublicIdentity',
        'txtPassword',
        'txtRealm',
        'btnRegister',
        'alohub_call_dial',
        'txtPhoneNumber',
        'alohub_calling_content',
        'txtPhoneCalling',
        'alohub_answer_content',
        'txtPhoneAnswer',
        'txtCallTime',
        'audio_remote',
        'ringtone',
        'ringbacktone',
        'dtmfTone',
      ];
      expect(
        await page.evaluate(
          (ids) => ids.filter((id) => document.querySelectorAll(`#alohub_sipml5 #${id}`).length !== 1),
          ids,
        ),
      ).toEqual([]);
      expect(await page.evaluate(() => document.querySelector('#alohub_call_dial')?.tagName)).toBe('DIV');
      expect(await page.evaluate(() => document.querySelector('#txtPhoneNumber')?.tagName)).toBe('INPUT');
      // every vendor global and flag
      const globals = await page.evaluate(() => {
        const w = window as unknown as Record<string, unknown>;
        return {
          missing: [
            'onRegister',
            'onCall',
            'onAnswer',
            'onHangUp',
            'onTogglePhone',
            'minimizeContent',
            'loadContentPhone',
            'loadContentPhoneDial',
            'loadContentPhoneRinging',
            'loadContentPhoneAnswer',
            'addHtml',
            'addHtmlLogin',
            'addPhoneNumber',
            'startRingTone',
            'stopRingTone',
            'startRingbackTone',
            'stopRingbackTone',
            'saveCredentials',
            'loadCredentials',
            'alohubMakeCall',
          ].filter((name) => typeof w[name] !== 'function'),
          jssip: typeof (w.JsSIP as { UA?: unknown } | undefined)?.UA,
          isAutoAnswer: w.isAutoAnswer,
          usingAutoLogin: w.usingAutoLogin,
        };
      });
      expect(globals).toEqual({ missing: [], jssip: 'function', isAutoAnswer: 1, usingAutoLogin: 1 });
      // the stylesheet styles the widget only: every rule is under the built root; the page's own button keeps its red
      const css = await page.evaluate(() => {
        const sheet = (document.getElementById('alohub_sipml5_style') as HTMLStyleElement)
          .sheet as CSSStyleSheet;
        return [...sheet.cssRules].map((rule) =>
          rule instanceof CSSStyleRule ? rule.selectorText : rule.cssText.slice(0, 30),
        );
      });
      expect(css.length).toBeGreaterThan(20);
      for (const selector of css) {
        if (selector.startsWith('@keyframes alohub-')) continue;
        for (const part of selector.split(','))
          expect(part.trim().startsWith('#alohub_sipml5.alohub-cg')).toBe(true);
      }
      expect(
        await page.evaluate(
          () => getComputedStyle(document.getElementById('crmButton') as Element).backgroundColor,
        ),
      ).toBe('rgb(255, 0, 0)');
      expect(await page.evaluate(() => getComputedStyle(document.body).fontFamily)).toBe('serif');
      expect(await shown(page)).toEqual(['alohub_login_content']);
      await shot(page, 'login');

      await signIn(page, '5003', 'lab-5003');
      await waitStatus(page, /^Connected: Agent 5003 \(5003\)$/);
      await waitShown(page, 'alohub_call_dial');
      expect(
        await page.evaluate(() =>
          document.getElementById('alohub_login_form')?.classList.contains('is_open'),
        ),
      ).toBe(false);
      await shot(page, 'dial');

      // a customer calls: the widget answers by itself
      const call = await callUntilReached(1, '5003');
      await waitShown(page, 'alohub_answer_content');
      expect(await text(page, 'txtPhoneAnswer')).toBe('0901000001');
      await bothHear(page, call, 1);
      await eventually(
        async () => ((await text(page, 'txtCallTime')) >= '00:01' ? true : undefined),
        5000,
        'the timer running',
      );
      await shot(page, 'answer');
      const ended = call.terminated;
      await page.click('#alohub_answer_content .alohub-hangup');
      expect(await ended).toMatchObject({ established: true, by: 'remote' });
      await waitShown(page, 'alohub_call_dial');
      expect(
        await page.evaluate(() => (window as unknown as { records: unknown[][] }).records.map((r) => r[0])),
      ).toEqual(['session.ready', 'call.ringing', 'call.accepted', 'call.ended']);
    },
    TEST_MS,
  );

  it(
    'onCall dials a lab customer (calling panel, then answer panel); a REST make call from the widget carries its transactionId, the customer hears the page',
    async () => {
      const page = await open({ style: 'audio-only' });
      await page.fill('#txtApiKey', API_KEY);
      await signIn(page, '5003', 'lab-5003');
      await waitShown(page, 'alohub_call_dial');
      // the in-page phone registers once the gateway sent it the account
      await eventually(async () => {
        const view = await rest(env.gateway, 'GET', '/v1/demo/agents/5003');
        return (view.body.voice as { held: boolean }).held ? true : undefined;
      });

      customer(2).setBehaviour({ incoming: { action: 'ignore' } });
      const ringing = customer(2).waitFor('incoming');
      for (const digit of ['0', '9', '0', '1', '0', '0', '0', '0', '0', '2'])
        await page.click(`#alohub_sipml5 .alohub-key[data-arg="${digit}"]`);
      expect(await page.inputValue('#txtPhoneNumber')).toBe('0901000002');
      const dialled = await eventually(
        async () => {
          const answer = await page.evaluate(() =>
            (window as unknown as { onCall(): Promise<{ ok: boolean }> }).onCall(),
          );
          return answer.ok ? answer : undefined; // DEVICE_NOT_AVAILABLE until the in-page phone registered
        },
        15_000,
        'onCall accepted',
      );
      expect(dialled).toMatchObject({ ok: true });
      await waitShown(page, 'alohub_calling_content');
      expect(await text(page, 'txtPhoneCalling')).toBe('0901000002');
      await shot(page, 'calling');
      const outgoing = (await ringing).call;
      const tone = new ToneSource({ frequency: 500 });
      await outgoing.answer({ mediaStream: tone.stream }).finally(() => undefined);
      await waitShown(page, 'alohub_answer_content');
      await page.evaluate(() => (window as unknown as { onHangUp(): Promise<unknown> }).onHangUp());
      await outgoing.terminated;
      tone.stop();
      await waitShown(page, 'alohub_call_dial');

      // the vendor's REST make call, from the widget (endpoint #txtDomain, key #txtApiKey)
      customer(1).setBehaviour({ incoming: { action: 'answer', afterMs: 0 } });
      const reached = customer(1).waitFor('incoming');
      const made = await page.evaluate(() =>
        (window as unknown as { alohubMakeCall(n: string): Promise<Record<string, unknown>> }).alohubMakeCall(
          '0901000001',
        ),
      );
      expect(made).toMatchObject({
        success: '1',
        callId: expect.any(String) as string,
        transactionId: expect.stringMatching(/^ALOHUB_\d+$/) as string,
      });
      const call = (await reached).call;
      await waitShown(page, 'alohub_answer_content');
      await bothHear(page, call, 1);
      const records = await page.evaluate(
        () => (window as unknown as { records: [string, string | null][] }).records,
      );
      expect(records).toContainEqual(['callout.started', made.transactionId]);
      const ended = call.terminated;
      await page.evaluate(() => (window as unknown as { onHangUp(): Promise<unknown> }).onHangUp());
      await ended;
      await waitShown(page, 'alohub_call_dial');

      // refusals show on the dial panel: the make call's error_message, a customer who is busy
      const refused = await page.evaluate(() =>
        (window as unknown as { alohubMakeCall(n: string): Promise<Record<string, unknown>> }).alohubMakeCall(
          '0901000001;transport=tcp',
        ),
      );
      expect(refused).toMatchObject({ success: '0', error_code: 'INVALID_NUMBER' });
      expect(await text(page, 'alohub_call_status')).toBe(refused.error_message);
      customer(2).setBehaviour({ incoming: { action: 'reject', statusCode: 486 } });
      await page.fill('#txtPhoneNumber', '0901000002');
      await page.click('#btnCall');
      await eventually(
        async () =>
          (await text(page, 'alohub_call_status')) === 'Call failed: IPCC_NOT_CONNECT_CUSTOMER (486)'
            ? true
            : undefined,
        10_000,
        'the busy customer on the dial panel',
      );
      await waitShown(page, 'alohub_call_dial');
    },
    TEST_MS,
  );

  it(
    'isAutoAnswer = 0: the call rings (answer button, ring tone) and waits for onAnswer()',
    async () => {
      const page = await open({ style: 'audio-only' });
      await page.evaluate(() => Object.assign(window, { isAutoAnswer: 0 }));
      await signIn(page, '5003', 'lab-5003');
      await waitShown(page, 'alohub_call_dial');
      const call = await callUntilReached(2, '5003');
      await waitShown(page, 'alohub_calling_content');
      expect(await text(page, 'txtCallingLabel')).toBe('Cuộc gọi đến');
      expect(await page.isVisible('#btnAlohubAnswer')).toBe(true);
      await shot(page, 'ringing');
      // still ringing once the ring tone plays: nobody answered
      await eventually(async () =>
        (await page.evaluate(() => (document.getElementById('ringtone') as HTMLAudioElement).paused))
          ? undefined
          : true,
      );
      expect((await rest(env.gateway, 'GET', '/v1/demo/agents/5003')).body.call).toMatchObject({
        state: 'ringing',
      });
      await page.click('#btnAlohubAnswer');
      await waitShown(page, 'alohub_answer_content');
      const ended = call.terminated;
      await page.evaluate(() => (window as unknown as { onHangUp(): Promise<unknown> }).onHangUp());
      await ended;
    },
    TEST_MS,
  );

  it(
    'a page with the full static markup: the widget uses it (nothing built, no stylesheet), icons minimize, the form signs in, a call is answered by itself and panels switch',
    async () => {
      const page = await open({ style: 'static' });
      expect(
        await page.evaluate(() => ({
          dials: document.querySelectorAll('#alohub_call_dial').length,
          forms: document.querySelectorAll('#alohub_login_form').length,
          style: document.getElementById('alohub_sipml5_style') !== null,
          built: document.getElementById('alohub_sipml5')?.classList.contains('alohub-cg'),
        })),
      ).toEqual({ dials: 1, forms: 1, style: false, built: false });
      await page.click('#alohub_call_dial .icon', { force: true }).catch(() => undefined);
      await page.evaluate(() =>
        (document.querySelector('#alohub_login_content .icon') as HTMLElement).click(),
      );
      expect(
        await page.evaluate(() =>
          document.getElementById('alohub_sipml5')?.classList.contains('alohub_minimized'),
        ),
      ).toBe(true);
      await page.evaluate(() =>
        (document.querySelector('#alohub_login_content .icon') as HTMLElement).click(),
      );
      expect(
        await page.evaluate(() =>
          document.getElementById('alohub_sipml5')?.classList.contains('alohub_minimized'),
        ),
      ).toBe(false);
      await page.click('#btnOpenLoginForm');
      expect(
        await page.evaluate(() =>
          document.getElementById('alohub_login_form')?.classList.contains('is_open'),
        ),
      ).toBe(false);
      await page.click('#btnOpenLoginForm');

      await signIn(page, '5003', 'lab-5003');
      await waitStatus(page, /^Connected/);
      await waitShown(page, 'alohub_call_dial');
      const call = await callUntilReached(1, '5003');
      await waitShown(page, 'alohub_answer_content');
      expect(await text(page, 'txtPhoneAnswer')).toBe('0901000001');
      const ended = call.terminated;
      await page.click('#pageHangUp');
      expect(await ended).toMatchObject({ by: 'remote' });
      await waitShown(page, 'alohub_call_dial');
    },
    TEST_MS,
  );

  it(
    'a page that calls addHtml(); addHtmlLogin(); onRegister() from window.onload (agent 5000, desk phone by default): one UI, registered, the widget becomes the phone',
    async () => {
      const page = await open({ style: 'onload', form: { ext: '5000', password: 'lab-5000' } });
      const result = await page.evaluate(
        () => (window as unknown as { registered: Promise<{ ok: boolean }> }).registered,
      );
      expect(result).toMatchObject({ ok: true, session: { ipphone: '5000' } });
      // onRegister again with the same form keeps the connection (one session.ready)
      expect(
        await page.evaluate(() =>
          (window as unknown as { onRegister(): Promise<{ ok: boolean }> }).onRegister(),
        ),
      ).toMatchObject({ ok: true, session: { ipphone: '5000' } });
      expect(
        await page.evaluate(
          () =>
            (window as unknown as { records: unknown[][] }).records.filter((r) => r[0] === 'session.ready')
              .length,
        ),
      ).toBe(1);
      expect(
        await page.evaluate(
          () => document.querySelectorAll('#alohub_call_dial, #alohub_login_content').length,
        ),
      ).toBe(2);
      await waitShown(page, 'alohub_call_dial');
      await eventually(async () =>
        (await rest(env.gateway, 'GET', '/v1/demo/agents/5000')).body.deviceType === 1 ? true : undefined,
      );
      const call = await callUntilReached(2, '5000');
      await waitShown(page, 'alohub_answer_content');
      await bothHear(page, call, 2);
      const ended = call.terminated;
      await page.evaluate(() => (window as unknown as { onHangUp(): Promise<unknown> }).onHangUp());
      await ended;
    },
    TEST_MS,
  );

  it(
    'a wrong password shows the vendor status line; saveCredentials / loadCredentials use alohub.identity.* and never the password',
    async () => {
      const page = await open({ style: 'audio-only' });
      await signIn(page, '5003', 'not-the-password');
      expect(await waitStatus(page, /Error/)).toBe('Authentication Error');
      expect(await shown(page)).toEqual(['alohub_login_content']);
      expect((await rest(env.gateway, 'GET', '/v1/demo/agents/5003')).body).toMatchObject({ tabs: 0 });

      await page.fill('#txtPublicIdentity', 'sip:5003@127.0.0.1');
      await page.fill('#txtDisplayName', 'Lan');
      await page.fill('#txtApiKey', API_KEY);
      await page.evaluate(() => localStorage.setItem('alohub.identity.password', 'left by the old widget'));
      const saved = await page.evaluate(() =>
        (window as unknown as { saveCredentials(): Record<string, string> }).saveCredentials(),
      );
      expect(saved).toMatchObject({
        'alohub.identity.impi': '5003',
        'alohub.identity.impu': 'sip:5003@127.0.0.1',
        'alohub.identity.display_name': 'Lan',
        'alohub.identity.endpoint': `${env.gateway.url}/alohub/demo/makeCall`,
        'alohub.identity.key': API_KEY,
      });
      const storage = await page.evaluate(() => JSON.stringify({ ...localStorage }));
      expect(storage).not.toContain('not-the-password');
      expect(storage).not.toContain('alohub.identity.password');
      await page.reload({ waitUntil: 'load' });
      expect(await page.inputValue('#txtPrivateIdentity')).toBe('5003');
      expect(await page.inputValue('#txtPublicIdentity')).toBe('sip:5003@127.0.0.1');
      expect(await page.inputValue('#txtPassword')).toBe('');
      // auto-login waits for a password: nothing was sent
      expect(await text(page, 'txtRegStatus')).toBe('');
    },
    TEST_MS,
  );
});
