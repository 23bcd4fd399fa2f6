/**
 * Browser mode (1) on the field PBX, the flows after the answer: hold, mute, DTMF, transfer to a
 * server-side agent and to the ACD queue, started from the in-page phone (wss://, digest auth,
 * rtpengine). The customers are JsSIP+wrtc bots with digest passwords (`customerBots`): baresip 1.0
 * stops recording after a re-INVITE and does not follow a REFER, a bot does both. Audio is checked
 * both ways: at the customer by its wrtc sink, in the page with WebAudio (support/page-ears).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SipCall } from '@callgate/sip';
import { projectRoot } from '../apps/gateway/src/config.js';
import type { BaresipPhone } from '../apps/lab/src/baresip.js';
import { labTone, labUsers } from '../apps/lab/src/lab.js';
import { writeSineWav } from '../apps/lab/src/wav.js';
import { launchBrowser, type TestBrowser } from './support/browser.js';
import { startFieldGateway, type FieldGateway } from './support/field-gateway.js';
import { login } from './support/gateway.js';
import { API_KEY, rest, waitRegistered } from './support/lab-gateway.js';
import { pageHears } from './support/page-ears.js';
import { openCrmTab, startCrmPages, type CrmPageServer, type CrmTab } from './support/pages.js';
import { AgentTabs, eventually, Tab } from './support/tabs.js';

const T = 180_000;
/** The page's microphone. */
const PAGE_TONE = 700;
const DESK_5000 = labTone('ipPhone', 0);
const QUEUE_1 = labTone('queue', 0);
const customerTone = (n: number): number => labTone('customer', n - 1);

describe('browser mode on the field PBX: hold, mute, DTMF and transfers from the in-page phone', () => {
  let env: FieldGateway;
  let browser: TestBrowser;
  let pages: CrmPageServer;
  let voice: CrmTab;
  let dir: string;
  let backend: Tab;
  const tabs = new AgentTabs(() => env.gateway.url);
  const customer = (n: number) => env.lab.bot(labUsers.customer(n));
  const desk = (ext: string): BaresipPhone => env.lab.phone(labUsers.ipPhone(ext)).phone;

  /** The page hears `frequency` (±10 %) within the bound. */
  const pageHearsTone = (frequency: number, what: string) =>
    eventually(
      async () => {
        const ears = await pageHears(voice);
        return ears.frequency !== null && Math.abs(ears.frequency - frequency) < frequency * 0.1
          ? ears
          : undefined;
      },
      30_000,
      what,
    );
  /** The page hears nothing within the bound. */
  const pageHearsSilence = (what: string) =>
    eventually(async () => ((await pageHears(voice)).frequency === null ? true : undefined), 30_000, what);

  /** Customer `n` calls 5003; the page answers; both hear each other. */
  const answeredInPage = async (n: number): Promise<SipCall> => {
    const after = await voice.mark();
    const leg = customer(n).call('5003');
    await voice.waitForCallback('csCallRinging', { args: [labUsers.customer(n)], after, timeoutMs: 30_000 });
    await voice.call('onAcceptCall');
    await voice.waitForCallback('csAcceptCall', { after, timeoutMs: 30_000 });
    await customer(n).hears({ call: leg, frequency: PAGE_TONE, timeoutMs: 30_000 });
    await pageHearsTone(customerTone(n), 'the page hears the customer');
    return leg;
  };

  beforeAll(async () => {
    execFileSync(process.execPath, ['scripts/build-sdk.js'], { cwd: projectRoot(), stdio: 'ignore' });
    dir = mkdtempSync(join(tmpdir(), 'callgate-field-browser-flows-'));
    const microphone = join(dir, 'microphone.wav');
    writeSineWav(microphone, PAGE_TONE);
    env = await startFieldGateway(
      { customers: 3, customerBots: true, ipPhones: ['5000'], queues: ['1'] },
      {
        agents: [
          { ext: '5003', device: 1 },
          { ext: '5000', device: 4 },
        ],
        // bridged: these flows check baresip's ears after mute and transfers, and baresip 1.0 stops
        // recording after a re-INVITE that changes the direction (what direct media sends); the
        // field PBX in direct mode is test/direct-media-field.test.ts
        domain: { transport: 'wss', media: 'bridge' },
        gateway: { env: { RING_TIMEOUT_MS: '10000', TRANSFER_TIMEOUT_MS: '10000' } },
      },
    );
    browser = await launchBrowser([
      '--ignore-certificate-errors',
      `--use-file-for-fake-audio-capture=${microphone}`,
    ]);
    pages = await startCrmPages();
    const registered = env.lab.pbx.countLog(/auth: REGISTER of 5003 by 5003 accepted/);
    voice = await openCrmTab(browser, pages, {
      gatewayUrl: env.gateway.url,
      token: await login(env.gateway.url, '5003'),
    });
    await voice.waitForCallback('csShowEnableVoice', { args: [true], timeoutMs: 30_000 });
    await eventually(
      () => env.lab.pbx.countLog(/auth: REGISTER of 5003 by 5003 accepted/) > registered,
      30_000,
      'the in-page phone registered with digest auth',
    );
    backend = await Tab.open(env.gateway.url, { domain: 'demo', apiKey: API_KEY }, { namespace: '/events' });
  }, T);
  afterEach(async () => {
    for (const bot of env.lab.bots) await bot.hangup();
    await tabs.closeAll();
    for (const ipphone of ['5000', '5003']) {
      await eventually(
        async () =>
          (await rest(env.gateway, 'GET', `/v1/demo/agents/${ipphone}`)).body.call === null
            ? true
            : undefined,
        30_000,
        `${ipphone} idle`,
      );
    }
  }, T);
  afterAll(async () => {
    backend?.close();
    await browser?.close();
    await pages?.close();
    await env?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, T);

  it(
    'hold, mute and DTMF from the page: silence each way where due, audio back both ways after, digits by INFO at the customer',
    async () => {
      const leg = await answeredInPage(1);
      const callId = (await rest(env.gateway, 'GET', '/v1/demo/agents/5003/call')).body.callId as string;
      const after = await voice.mark();

      expect(await voice.call('holdCall')).toMatchObject({ ok: true });
      await voice.waitForCallback('csHoldCall', { after, timeoutMs: 30_000 });
      await customer(1).hearsSilence({ call: leg, timeoutMs: 30_000 });
      await pageHearsSilence('the page hears nothing while on hold');
      expect(await voice.call('holdCall')).toMatchObject({ ok: true });
      await voice.waitForCallback('csUnHoldCall', { after, timeoutMs: 30_000 });
      await customer(1).hears({ call: leg, frequency: PAGE_TONE, timeoutMs: 30_000 });
      await pageHearsTone(customerTone(1), 'the page hears the customer after the unhold');

      expect(await voice.call('muteCall')).toMatchObject({ ok: true });
      await voice.waitForCallback('csMuteCall', { after, timeoutMs: 30_000 });
      await customer(1).hearsSilence({ call: leg, timeoutMs: 30_000 });
      await pageHearsTone(customerTone(1), 'the muted page still hears the customer');
      expect(await voice.call('muteCall')).toMatchObject({ ok: true });
      await voice.waitForCallback('csUnMuteCall', { after, timeoutMs: 30_000 });
      await customer(1).hears({ call: leg, frequency: PAGE_TONE, timeoutMs: 30_000 });

      const digits: string[] = [];
      const onDigit = ({ call, digit }: { call: SipCall; digit: string }): void => {
        if (call === leg) digits.push(digit);
      };
      customer(1).on('dtmf', onDigit);
      try {
        expect(
          await rest(env.gateway, 'POST', `/v1/demo/agents/5003/calls/${callId}/dtmf`, { digits: '7*' }),
        ).toMatchObject({ status: 200 });
        await eventually(() => (digits.length >= 2 ? true : undefined), 30_000, 'the customer got DTMF');
        expect(digits.join('')).toBe('7*');
      } finally {
        customer(1).off('dtmf', onDigit);
      }

      await voice.call('endCall');
      await voice.waitForCallback('csEndCall', { after, timeoutMs: 30_000 });
      expect((await leg.terminated).by).toBe('remote');
      // What the CRM saw on /events, in order.
      await backend.waitFor((e) => e.type === 'call.ended' && e.callId === callId, 30_000);
      expect(backend.events.filter((e) => e.callId === callId).map((e) => e.type)).toEqual([
        'call.ringing',
        'call.accepted',
        'call.held',
        'call.unheld',
        'call.muted',
        'call.unmuted',
        'call.ended',
      ]);
      expect(voice.errors).toEqual([]);
    },
    T,
  );

  it(
    'transfer to server-side 5000 (baresip desk): the customer follows the REFER with digest auth; it and the desk hear each other',
    async () => {
      const target = await tabs.open('5000');
      await waitRegistered(env.gateway, '5000', true, 30_000);
      const leg = await answeredInPage(2);
      const since = desk('5000').events.length;
      const after = await voice.mark();
      const referred = customer(2).waitFor('referred', { timeoutMs: 60_000 });

      expect(await voice.call('csTransferCallAgent', '5000')).toMatchObject({ ok: true });
      const request = await target.waitFor((e) => e.type === 'transfer.request', 30_000);
      expect(request.data).toMatchObject({ phone: labUsers.customer(2), dropAgentId: '5003' });
      expect(await target.command('transfer.respond', { accept: true })).toMatchObject({ ok: true });

      const { newCall } = await referred;
      if (!newCall) throw new Error('the customer did not follow the REFER');
      await desk('5000').waitFor('CALL_ESTABLISHED', 30_000, since);
      await customer(2).hears({ call: newCall, frequency: DESK_5000, timeoutMs: 30_000 });
      await desk('5000').hears(customerTone(2), 30_000);
      expect((await leg.terminated).established).toBe(true);
      await voice.waitForCallback('csTransferCallSuccess', { after, timeoutMs: 30_000 });

      await customer(2).hangup(newCall);
      await target.waitFor((e) => e.type === 'call.ended', 30_000);
      await desk('5000').waitFor('CALL_CLOSED', 30_000, since);
    },
    T,
  );

  it(
    'the call on hold, transfer to the ACD queue: the queue (a WebRTC bot with a password) and the customer hear each other',
    async () => {
      const leg = await answeredInPage(3);
      const held = await voice.mark();
      await voice.call('holdCall');
      await voice.waitForCallback('csHoldCall', { after: held, timeoutMs: 30_000 });
      const queue = env.lab.bot(labUsers.queue('1'));
      const queued = queue.waitFor('answered', { timeoutMs: 60_000 });
      expect(await voice.call('csTransferCallAcd', 1)).toMatchObject({ ok: true });
      const queueLeg = (await queued).call;
      expect(queueLeg.remote.user).toBe(labUsers.customer(3));
      await queue.hears({ call: queueLeg, frequency: customerTone(3), timeoutMs: 30_000 });
      const newCall = customer(3).calls.find((c) => c !== leg && !c.isTerminated);
      if (!newCall) throw new Error('the customer has no call to the queue');
      await customer(3).hears({ call: newCall, frequency: QUEUE_1, timeoutMs: 30_000 });
      await voice.waitForCallback('csTransferCallSuccess', {
        args: [{ queueId: '1', superAgent: '5003', ipphone: 'queue:1' }],
        after: held,
        timeoutMs: 30_000,
      });
      await voice.waitForCallback('csEndCall', { after: held, timeoutMs: 30_000 });
      expect((await leg.terminated).established).toBe(true);
      await customer(3).hangup(newCall);
      expect((await queueLeg.terminated).by).toBe('remote');
    },
    T,
  );
});
