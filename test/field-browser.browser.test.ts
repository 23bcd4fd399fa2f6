/**
 * Browser mode (1) on the field PBX: the in-page phone registers over wss:// (digest auth) and runs
 * with `iceTransportPolicy: 'relay'`, so its media can only flow through coturn; rtpengine turns it
 * into plain RTP for the baresip customers on the trunk. Chromium's microphone is a sine WAV; what
 * the page hears is measured with WebAudio on its remote stream. The browser trusts the lab CA's
 * certificate only through --ignore-certificate-errors (this test only).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../apps/gateway/src/config.js';
import { labPasswords, labTone, labUsers, startLab, type Lab } from '../apps/lab/src/lab.js';
import { writeSineWav } from '../apps/lab/src/wav.js';
import { launchBrowser, type TestBrowser } from './support/browser.js';
import { startGatewayOn } from './support/field-gateway.js';
import { login } from './support/gateway.js';
import { API_KEY, MOBILE_PREFIX } from './support/lab-gateway.js';
import { pageHears } from './support/page-ears.js';
import { openCrmTab, startCrmPages, type CrmPageServer, type CrmTab } from './support/pages.js';
import { eventually, Tab } from './support/tabs.js';

const T = 120_000;
/** The page's microphone. */
const PAGE_TONE = 700;

describe('browser mode on the field PBX: wss://, digest auth, media only through TURN', () => {
  let lab: Lab;
  let gateway: Awaited<ReturnType<typeof startGatewayOn>>;
  let browser: TestBrowser;
  let pages: CrmPageServer;
  let voice: CrmTab;
  let dir: string;

  beforeAll(async () => {
    execFileSync(process.execPath, ['scripts/build-sdk.js'], { cwd: projectRoot(), stdio: 'ignore' });
    dir = mkdtempSync(join(tmpdir(), 'callgate-field-browser-'));
    const microphone = join(dir, 'microphone.wav');
    writeSineWav(microphone, PAGE_TONE);
    lab = await startLab({
      profile: 'field',
      customers: 2,
      mobilePrefix: MOBILE_PREFIX,
      agents: { '5003': labPasswords.agent('5003') },
    });
    const turn = lab.turn;
    if (!turn) throw new Error('not a field lab');
    gateway = await startGatewayOn(lab, [{ ext: '5003', device: 1 }], {
      transport: 'wss',
      pbxExtra: `iceServers: [{ urls: ["${turn.turnUrl}"], username: "${turn.username}", credential: "${turn.password}" }], iceTransportPolicy: relay`,
    });
    browser = await launchBrowser([
      '--ignore-certificate-errors',
      `--use-file-for-fake-audio-capture=${microphone}`,
    ]);
    pages = await startCrmPages();
    const registered = lab.pbx.countLog(/auth: REGISTER of 5003 by 5003 accepted/);
    voice = await openCrmTab(browser, pages, {
      gatewayUrl: gateway.gateway.url,
      token: await login(gateway.gateway.url, '5003'),
    });
    await voice.waitForCallback('csShowEnableVoice', { args: [true], timeoutMs: 20_000 });
    // The in-page phone answered the PBX's 401 (over wss://, the lab CA's certificate).
    await eventually(
      () => lab.pbx.countLog(/auth: REGISTER of 5003 by 5003 accepted/) > registered,
      30_000,
      'the in-page phone registered with digest auth',
    );
  }, T);
  afterAll(async () => {
    await browser?.close();
    await pages?.close();
    await gateway?.close();
    await lab?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, T);

  const allocations = (): number => lab.turn?.countLog(/ALLOCATE processed, success/) ?? 0;

  it(
    'an inbound call from a plain-RTP customer rings the page, is answered, and both hear each other through TURN',
    async () => {
      const customer = lab.phone(labUsers.customer(1)).phone;
      const since = customer.events.length;
      const before = allocations();
      const after = await voice.mark();
      await customer.dial(`sip:5003@${lab.pbx.sipDomain}`);
      await voice.waitForCallback('csCallRinging', {
        args: [labUsers.customer(1)],
        after,
        timeoutMs: 20_000,
      });
      await voice.page.evaluate(() =>
        (window as unknown as { onAcceptCall(): Promise<unknown> }).onAcceptCall(),
      );
      await voice.waitForCallback('csAcceptCall', { after, timeoutMs: 20_000 });
      await customer.waitFor('CALL_ESTABLISHED', 20_000, since);
      await customer.hears(PAGE_TONE, 20_000);
      const heard = await eventually(
        async () => {
          const ears = await pageHears(voice);
          const want = labTone('customer', 0);
          return ears.frequency !== null && Math.abs(ears.frequency - want) < want * 0.1 ? ears : undefined;
        },
        20_000,
        'the page hears the customer',
      );
      const relayed = allocations() - before;
      console.log(
        `browser relay only: page hears ${heard.frequency?.toFixed(0)} Hz @${heard.level.toFixed(3)}; ${relayed} TURN allocation(s) for the call`,
      );
      expect(relayed).toBeGreaterThanOrEqual(1);
      await voice.page.evaluate(() => (window as unknown as { endCall(): Promise<unknown> }).endCall());
      await voice.waitForCallback('csEndCall', { after, timeoutMs: 20_000 });
      await customer.waitFor('CALL_CLOSED', 20_000, since);
      expect(voice.errors).toEqual([]);
    },
    T,
  );

  it(
    'csCallout from the page to a plain-RTP customer: answered, audio both ways through TURN, the customer hangs up',
    async () => {
      const customer = lab.phone(labUsers.customer(2)).phone;
      const since = customer.events.length;
      const before = allocations();
      const after = await voice.mark();
      await voice.page.evaluate(
        (n) => (window as unknown as { csCallout(n: string): Promise<unknown> }).csCallout(n),
        labUsers.customer(2),
      );
      await voice.waitForCallback('csCustomerAccept', { after, timeoutMs: 20_000 });
      await customer.waitFor('CALL_ESTABLISHED', 20_000, since);
      await customer.hears(PAGE_TONE, 20_000);
      await eventually(
        async () => {
          const ears = await pageHears(voice);
          const want = labTone('customer', 1);
          return ears.frequency !== null && Math.abs(ears.frequency - want) < want * 0.1 ? ears : undefined;
        },
        20_000,
        'the page hears the customer',
      );
      expect(allocations() - before).toBeGreaterThanOrEqual(1);
      await customer.hangup();
      await voice.waitForCallback('csEndCall', { after, timeoutMs: 20_000 });
      expect(voice.errors).toEqual([]);
    },
    T,
  );
  it(
    'a TURN server refusing the page’s credentials under relay only: the page hangs up, the call ends MEDIA_FAILED on /events',
    async () => {
      const turn = lab.turn;
      const field = lab.pbx.field;
      if (!turn || !field) throw new Error('not a field lab');
      // Agent 5006 exists only for this gateway, whose TURN password is wrong.
      await field.setPassword('5006', labPasswords.agent('5006'));
      const second = await startGatewayOn(lab, [{ ext: '5006', device: 1 }], {
        transport: 'wss',
        pbxExtra: `iceServers: [{ urls: ["${turn.turnUrl}"], username: "${turn.username}", credential: "not-the-turn-password" }], iceTransportPolicy: relay`,
      });
      const events = await Tab.open(
        second.gateway.url,
        { domain: 'demo', apiKey: API_KEY },
        { namespace: '/events' },
      );
      const registered = lab.pbx.countLog(/auth: REGISTER of 5006 by 5006 accepted/);
      const page = await openCrmTab(browser, pages, {
        gatewayUrl: second.gateway.url,
        token: await login(second.gateway.url, '5006'),
      });
      try {
        await page.waitForCallback('csShowEnableVoice', { args: [true], timeoutMs: 20_000 });
        await eventually(
          () => lab.pbx.countLog(/auth: REGISTER of 5006 by 5006 accepted/) > registered,
          30_000,
          '5006’s in-page phone registered',
        );
        const customer = lab.phone(labUsers.customer(1)).phone;
        const since = customer.events.length;
        await customer.dial(`sip:5006@${lab.pbx.sipDomain}`);
        await page.waitForCallback('csCallRinging', { args: [labUsers.customer(1)], timeoutMs: 20_000 });
        const answeredAt = performance.now();
        await page.page.evaluate(() =>
          (window as unknown as { onAcceptCall(): Promise<unknown> }).onAcceptCall(),
        );
        const ended = await events.waitFor((e) => e.type === 'call.ended', 60_000, 'call.ended');
        console.log(
          `browser, TURN refusing credentials: call.ended ${JSON.stringify(ended.data)} ${(performance.now() - answeredAt).toFixed(0)} ms after the answer`,
        );
        expect(ended.data).toMatchObject({ cause: 'MEDIA_FAILED', by: 'system' });
        await page.waitForCallback('csEndCall', { timeoutMs: 20_000 });
        await customer.waitFor('CALL_CLOSED', 20_000, since);
      } finally {
        await page.close();
        events.close();
        await second.close();
      }
    },
    T,
  );
});
