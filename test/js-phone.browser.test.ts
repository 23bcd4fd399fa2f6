/**
 * The JS-PHONE facade in real headless Chromium: a CRM page of its own origin with the JS-PHONE
 * markup (`#alohub_shipjs_container`, the four `<audio>` elements, `#alohub_call_dial`) loads
 * `/embed/callgate.js` from a real gateway whose domain points at the lab PBX. Agent 5000 is in
 * device mode 4: its desk phone (a lab bot) rings and answers; agent 5003 is in mode 1: the page's
 * in-page phone carries the call. Customers are lab bots.
 */
import { execFile } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { ToneSource, type SipCall } from '@callgate/sip';
import type { JsPhoneFunctions, JsPhoneSettings } from '@callgate/embed-sdk';
import { launchBrowser, type TestBrowser } from './support/browser.js';
import { login } from './support/gateway.js';
import { LAB_AGENTS, rest, startLabGateway, type LabGateway } from './support/lab-gateway.js';
import { eventually } from './support/tabs.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const STORAGE_KEY = 'callgate.jsphone.credentials';

/** Newest modification time under `dir`, in ms. */
function newest(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((latest, entry) => {
    const path = join(dir, entry.name);
    return Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }, 0);
}

/** Builds dist/embed (what the gateway serves) when it is missing or older than the SDK's sources. */
async function ensureSdkBuilt(): Promise<void> {
  let built = 0;
  try {
    built = statSync(join(ROOT, 'dist', 'embed', 'callgate.js')).mtimeMs;
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

/** A JSON value safe to inline in a <script>. */
const inline = (value: unknown): string => JSON.stringify(value).replace(/</g, '\\u003c');

/**
 * The JS-PHONE page: the seed's markup (the ring tone points at `sounds/ringtone.wav`, which this
 * server does not have, as a page that dropped Alohub's files would; the ringback has no source),
 * `callgate.configure` with the session token, and a recorder of the SDK's events and of the tone
 * elements' `play` / `playing` / `pause` DOM events in `window.records`.
 */
function phonePageHtml(gatewayUrl: string, token: string): string {
  return `<!doctype html>
<html>
<head>
<meta charset="utf-8">
<title>JS-PHONE CRM</title>
<script>
window.records = [];
function record() { window.records.push([].slice.call(arguments)); }
</script>
<script src="${gatewayUrl}/embed/callgate.js"></script>
<script>
callgate.configure({ domain: 'demo', token: ${inline(token)} });
['session.ready', 'call.ringing', 'callout.started', 'call.agentRinging', 'call.customerAccepted',
 'call.accepted', 'callout.failed', 'call.ended'].forEach(function (type) {
  callgate.on(type, function (event) { record(type, event.data.phone || event.data.number || null); });
});
</script>
</head>
<body>
<h1>JS-PHONE CRM</h1>
<div id="alohub_shipjs_container">
<audio id="audio_remote" autoplay="autoplay"></audio>
<audio id="ringtone" loop="" src="sounds/ringtone.wav"></audio>
<audio id="ringbacktone" loop=""></audio>
<audio id="dtmfTone"></audio>
</div>
<input id="alohub_call_dial">
<button onclick="onCall()">Call</button>
<script>
['ringtone', 'ringbacktone'].forEach(function (id) {
  var element = document.getElementById(id);
  ['play', 'playing', 'pause'].forEach(function (type) {
    element.addEventListener(type, function () { record(id, type); });
  });
});
</script>
</body>
</html>
`;
}

interface PageServer {
  origin: string;
  /** A page for this session token. */
  url(token: string): string;
  close(): Promise<void>;
}

/** Serves the JS-PHONE pages on their own origin (everything else is 404, `sounds/` included). */
async function startPageServer(gatewayUrl: () => string): Promise<PageServer> {
  const tokens = new Map<string, string>();
  const server: Server = createServer((req, res) => {
    const match = /^\/phone\/(\d+)$/.exec(new URL(req.url ?? '/', 'http://page').pathname);
    const token = match?.[1] ? tokens.get(match[1]) : undefined;
    if (!token) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(phonePageHtml(gatewayUrl(), token));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    url(token) {
      const id = String(tokens.size + 1);
      tokens.set(id, token);
      return `${origin}/phone/${id}`;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

type Rec = [string, ...unknown[]];

/** A JS-PHONE tab and what it saw. */
interface PhoneTab {
  page: Page;
  errors: Error[];
  console: string[];
  records(): Promise<Rec[]>;
  /**
   * Waits for the record `[name, ...args]` at index `after` or later; returns the number of
   * records up to and including it (an `after` for what must come later).
   */
  waitFor(record: Rec, after?: number, timeoutMs?: number): Promise<number>;
  /** Calls a JS-PHONE global as the page's own code would. */
  call<K extends keyof JsPhoneFunctions>(
    name: K,
    ...args: Parameters<JsPhoneFunctions[K]>
  ): Promise<Awaited<ReturnType<JsPhoneFunctions[K]>>>;
  /** Whether the `<audio id>` element is paused now. */
  paused(id: 'ringtone' | 'ringbacktone'): Promise<boolean>;
}

const POLL_MS = 25;

/** Waits for a console line of the page (Playwright reports them asynchronously). */
const consoleLine = (tab: PhoneTab, match: (line: string) => boolean): Promise<string> =>
  eventually(
    () => tab.console.find(match),
    5000,
    `a console line of the page; got:\n  ${tab.console.join('\n  ')}`,
  );

describe('JS-PHONE facade in Chromium against the lab PBX (5000: IP phone, mode 4; 5003: browser, mode 1)', () => {
  let env: LabGateway;
  let browser: TestBrowser;
  let pages: PageServer;
  let tabs: PhoneTab[] = [];
  const customer = (n: number) => env.lab.bot(`090100000${n}`);
  const phone = () => env.lab.bot('5000-desk');
  /** Tones the test played as a bot answering by hand; stopped after each test. */
  const handTones: ToneSource[] = [];

  /** Answers a call that rings on a bot told to ignore it, as its user picking up would. */
  const pickUp = async (call: SipCall, frequency: number): Promise<void> => {
    const tone = new ToneSource({ frequency });
    handTones.push(tone);
    await call.answer({ mediaStream: tone.stream });
  };

  const open = async (ipphone: string): Promise<PhoneTab> => {
    const token = await login(env.gateway.url, ipphone);
    const page = await browser.newPage();
    const errors: Error[] = [];
    const consoleLines: string[] = [];
    page.on('pageerror', (error) => errors.push(error));
    page.on('console', (message) => consoleLines.push(`${message.type()}: ${message.text()}`));
    const records = (): Promise<Rec[]> =>
      page.evaluate(() => (window as unknown as { records: Rec[] }).records);
    const tab: PhoneTab = {
      page,
      errors,
      console: consoleLines,
      records,
      async waitFor(record, after = 0, timeoutMs = 10_000) {
        const expected = JSON.stringify(record);
        try {
          const handle = await page.waitForFunction(
            ({ expected, after }) => {
              const all = (window as unknown as { records: unknown[] }).records;
              for (let i = after; i < all.length; i++) {
                if (JSON.stringify(all[i]) === expected) return i + 1;
              }
              return undefined;
            },
            { expected, after },
            { timeout: timeoutMs, polling: POLL_MS },
          );
          return (await handle.jsonValue()) as number;
        } catch (error) {
          throw new Error(
            `${expected} was not recorded within ${timeoutMs} ms after #${after}\n` +
              `records: ${JSON.stringify(await records())}\nconsole:\n  ${consoleLines.join('\n  ')}\n` +
              `page errors: ${errors.map(String).join('; ')}`,
            { cause: error },
          );
        }
      },
      call(name, ...args) {
        return page.evaluate(
          ({ name, args }) => {
            const fn = (window as unknown as { [key: string]: unknown })[name];
            if (typeof fn !== 'function') throw new Error(`the page has no global ${name}()`);
            return (fn as (...a: unknown[]) => unknown)(...args);
          },
          { name, args },
        ) as never;
      },
      paused(id) {
        return page.evaluate((id) => (document.getElementById(id) as HTMLAudioElement).paused, id);
      },
    };
    tabs.push(tab);
    await page.goto(pages.url(token), { waitUntil: 'load' });
    return tab;
  };

  /** Opens the page and registers; the gateway accepted it as `ipphone` (5000: mode 4, 5003: mode 1). */
  const register = async (ipphone = '5000'): Promise<PhoneTab> => {
    const tab = await open(ipphone);
    const result = await tab.call('onRegister');
    expect(result).toMatchObject({
      ok: true,
      session: { ipphone, deviceType: ipphone === '5003' ? 1 : 4, isEnable: true },
    });
    expect(
      await tab.page.evaluate(
        () => (window as unknown as { callgate: { registered: boolean } }).callgate.registered,
      ),
    ).toBe(true);
    await tab.waitFor(['session.ready', null]);
    return tab;
  };

  beforeAll(async () => {
    await ensureSdkBuilt();
    // 5000's desk phone without auto-answer: onAnswer is refused (answer on the device).
    env = await startLabGateway(
      { customers: 2, ipPhones: ['5000'] },
      { agents: LAB_AGENTS.map((a) => ({ ...a, autoAnswer: false })) },
    );
    browser = await launchBrowser();
    pages = await startPageServer(() => env.gateway.url);
    await eventually(
      async () => {
        const view = await rest(env.gateway, 'GET', '/v1/demo/agents/5000');
        return (view.body.sip as { registered: boolean } | null)?.registered ? true : undefined;
      },
      10_000,
      '5000 registered by the gateway',
    );
  }, 60_000);

  afterEach(async () => {
    const opened = tabs;
    tabs = [];
    await Promise.all(opened.map((tab) => tab.page.close()));
    for (const bot of [customer(1), customer(2), phone()]) {
      bot.setBehaviour({ incoming: { action: 'answer', afterMs: 0 } });
    }
    // no call may leak into the next test
    for (const ipphone of ['5000', '5003']) {
      await eventually(async () =>
        (await rest(env.gateway, 'GET', `/v1/demo/agents/${ipphone}`)).body.call === null ? true : undefined,
      );
    }
    for (const tone of handTones.splice(0)) tone.stop();
    for (const tab of opened) {
      expect(tab.errors).toEqual([]);
      // the one expected error: the page's sounds/ringtone.wav is missing (404)
      const errors = tab.console.filter(
        (line) => line.startsWith('error:') && !line.includes('status of 404'),
      );
      expect(errors).toEqual([]);
    }
  });

  afterAll(async () => {
    await browser?.close();
    await pages?.close();
    await env?.close();
  });

  it('onRegister, then onCall dials #alohub_call_dial: ringback while the customer rings, silence once they answer; onHangUp ends it', async () => {
    const tab = await register();
    customer(1).setBehaviour({ incoming: { action: 'ignore' } });
    const customerRinging = customer(1).waitFor('incoming');

    await tab.page.fill('#alohub_call_dial', '  0901000001 ');
    const mark = (await tab.records()).length;
    const dialled = (await tab.call('onCall')) as { ok: boolean; callId?: string };
    expect(dialled).toMatchObject({ ok: true, callId: expect.any(String) as string });
    await tab.waitFor(['callout.started', '0901000001'], mark);
    // the customer's phone rings (the desk phone answered first); the page plays the built-in ringback
    const customerCall = (await customerRinging).call;
    expect(customerCall.remote.user).toBe('5000');
    const playing = await tab.waitFor(['ringbacktone', 'playing'], mark);
    expect(await tab.paused('ringbacktone')).toBe(false);
    expect(
      await tab.page.evaluate(() => (document.getElementById('ringbacktone') as HTMLAudioElement).src),
    ).toMatch(/^blob:/);

    await pickUp(customerCall, 400);
    const accepted = await tab.waitFor(['call.customerAccepted', null], playing);
    await tab.waitFor(['ringbacktone', 'pause'], playing);
    expect(await tab.paused('ringbacktone')).toBe(true);
    expect(await tab.paused('ringtone')).toBe(true);

    const ended = customerCall.terminated;
    expect(await tab.call('onHangUp')).toMatchObject({ ok: true, callId: dialled.callId });
    expect(await ended).toMatchObject({ established: true, by: 'remote' });
    await tab.waitFor(['call.ended', null], accepted);
    // the ring tone never played during the callout
    expect((await tab.records()).slice(mark).filter(([name]) => name === 'ringtone')).toEqual([]);
  });

  it('an incoming call rings the page; onAnswer is refused (answer on the device) and the tone stops when the device answers', async () => {
    const tab = await register();
    phone().setBehaviour({ incoming: { action: 'ignore' } });
    const deviceRinging = phone().waitFor('incoming');
    const mark = (await tab.records()).length;

    const call = customer(2).call('5000');
    await tab.waitFor(['call.ringing', '0901000002'], mark);
    // the page's ringtone points at a file the page does not serve: the built-in ring plays instead
    const playing = await tab.waitFor(['ringtone', 'playing'], mark);
    expect(await tab.paused('ringtone')).toBe(false);
    expect(
      await tab.page.evaluate(() => (document.getElementById('ringtone') as HTMLAudioElement).src),
    ).toMatch(/^blob:/);
    await consoleLine(tab, (line) => line.startsWith('warning:') && line.includes('using the built-in tone'));

    const refused = await tab.call('onAnswer');
    expect(refused).toMatchObject({ ok: false, code: 'DEVICE_NOT_AVAILABLE' });
    await consoleLine(tab, (line) => line.startsWith('warning:') && line.includes('DEVICE_NOT_AVAILABLE'));
    // still ringing: the refusal does not silence the page
    expect(await tab.paused('ringtone')).toBe(false);

    await pickUp((await deviceRinging).call, 1000);
    const accepted = await tab.waitFor(['call.accepted', null], playing);
    await tab.waitFor(['ringtone', 'pause'], playing);
    expect(await tab.paused('ringtone')).toBe(true);

    await customer(2).hangup(call);
    await tab.waitFor(['call.ended', null], accepted);
  });

  it('saveCredentials / loadCredentials round-trip in localStorage without the token; onTogglePhone hides and shows the phone', async () => {
    const tab = await register();
    const token = await tab.page.evaluate(() => {
      const html = document.documentElement.innerHTML;
      return /token: "([^"]+)"/.exec(html)?.[1] ?? '';
    });
    expect(token.length).toBeGreaterThan(20);

    const saved = (await tab.call('saveCredentials')) as JsPhoneSettings;
    expect(saved).toEqual({
      gatewayUrl: env.gateway.url,
      domain: 'demo',
      ipphone: '5000',
      name: 'Agent 5000',
    });
    const storage = await tab.page.evaluate(() => {
      const all: { [key: string]: string | null } = {};
      for (let i = 0; i < localStorage.length; i++) {
        const key = localStorage.key(i);
        if (key !== null) all[key] = localStorage.getItem(key);
      }
      return all;
    });
    expect(JSON.parse(storage[STORAGE_KEY] ?? 'null')).toEqual(saved);
    expect(JSON.stringify(storage)).not.toContain(token);
    expect(JSON.stringify(storage)).not.toContain(token.split('.')[2] ?? token);

    // a new page of the same origin reads them back
    await tab.page.reload({ waitUntil: 'load' });
    expect(await tab.call('loadCredentials')).toEqual(saved);

    const display = () =>
      tab.page.evaluate(
        () => getComputedStyle(document.getElementById('alohub_shipjs_container') as HTMLElement).display,
      );
    expect(await tab.call('onTogglePhone')).toBe(false);
    expect(await display()).toBe('none');
    expect(await tab.call('onTogglePhone')).toBe(true);
    expect(await display()).toBe('block');
  });
  it('browser mode (5003): the page is the phone; onAnswer answers an incoming call in the page, onCall plays the ringback, onHangUp ends', async () => {
    const tab = await register('5003');
    // the in-page phone registers with the account the gateway handed to this voice tab: until
    // it has, the PBX answers 404 (no fixed wait: call again until the call rings)
    const incoming = await eventually(
      async () => {
        const call = customer(1).call('5003');
        const first = await Promise.race([
          call.terminated.then(() => 'ended' as const),
          new Promise<'ringing'>((resolve) => call.once('progress', () => resolve('ringing'))),
        ]);
        return first === 'ringing' ? call : undefined;
      },
      15_000,
      'a customer call reaching the in-page phone',
    );
    const ringing = await tab.waitFor(['call.ringing', '0901000001']);
    await tab.waitFor(['ringtone', 'playing'], ringing);

    expect(await tab.call('onAnswer')).toMatchObject({ ok: true });
    const accepted = await tab.waitFor(['call.accepted', null], ringing);
    await tab.waitFor(['ringtone', 'pause'], ringing);
    expect(await tab.paused('ringtone')).toBe(true);
    // the call's audio plays in the page's <audio id="audio_remote">
    await eventually(
      () =>
        tab.page.evaluate(() => {
          const element = document.getElementById('audio_remote') as HTMLAudioElement;
          return element.srcObject instanceof MediaStream && element.srcObject.getAudioTracks().length > 0
            ? true
            : undefined;
        }),
      10_000,
      'the remote audio in #audio_remote',
    );
    expect(await tab.call('onHangUp')).toMatchObject({ ok: true });
    expect(await incoming.terminated).toMatchObject({ established: true, by: 'remote' });
    const ended = await tab.waitFor(['call.ended', null], accepted);

    customer(2).setBehaviour({ incoming: { action: 'ignore' } });
    const customerRinging = customer(2).waitFor('incoming');
    await tab.page.fill('#alohub_call_dial', '0901000002');
    expect(await tab.call('onCall')).toMatchObject({ ok: true });
    await tab.waitFor(['callout.started', '0901000002'], ended);
    const playing = await tab.waitFor(['ringbacktone', 'playing'], ended);
    const outgoing = (await customerRinging).call;
    await pickUp(outgoing, 500);
    await tab.waitFor(['call.customerAccepted', null], playing);
    await tab.waitFor(['ringbacktone', 'pause'], playing);
    expect(await tab.call('onHangUp')).toMatchObject({ ok: true });
    expect(await outgoing.terminated).toMatchObject({ established: true, by: 'remote' });
    await tab.waitFor(['call.ended', null], playing);
  });
});
