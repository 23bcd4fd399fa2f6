import { execFileSync } from 'node:child_process';
import type { SipCall } from '@callgate/sip';
import { projectRoot } from '../apps/gateway/src/config.js';
import { labTone } from '../apps/lab/src/lab.js';
import { launchBrowser, type TestBrowser } from './support/browser.js';
import { login } from './support/gateway.js';
import { API_KEY, rest, startLabGateway, waitRegistered, type LabGateway } from './support/lab-gateway.js';
import { openCrmTab, startCrmPages, type CrmPageServer, type CrmTab } from './support/pages.js';
import { AgentTabs, eventually, Tab } from './support/tabs.js';

const DESK_5000 = labTone('ipPhone', 0);
const DESK_5001 = labTone('ipPhone', 1);
const QUEUE_1 = labTone('queue', 0);

/**
 * Transfers where a browser-mode agent (5003: its voice tab is the phone, in a real headless
 * Chromium) is the source — its tab REFERs the customer — or the target — its in-page phone is
 * called and answers by itself, the agent having accepted the request.
 */
describe('transfers with a browser-mode agent', () => {
  let env: LabGateway;
  let browser: TestBrowser;
  let pages: CrmPageServer;
  let page: CrmTab;
  let backend: Tab;
  const tabs = new AgentTabs(() => env.gateway.url);
  const open = (ipphone: string): Promise<Tab> => tabs.open(ipphone);
  const customer = (n: number) => env.lab.bot(`090100000${n}`);

  /** A customer call answered in 5003's page (404 from the PBX until the page's phone registered). */
  const answeredInPage = async (n: number): Promise<SipCall> => {
    const leg = await eventually(
      async () => {
        const call = customer(n).call('5003');
        const first = await Promise.race([
          call.terminated.then(() => 'ended' as const),
          new Promise<'ringing'>((resolve) => call.once('progress', () => resolve('ringing'))),
        ]);
        return first === 'ringing' ? call : undefined;
      },
      15_000,
      'the customer reaching the in-page phone',
    );
    const after = await page.mark();
    await page.call('onAcceptCall');
    await page.waitForCallback('csAcceptCall', { after });
    return leg;
  };

  /** The page's fake microphone reaches the customer on `leg` (Chromium's fake device beeps). */
  const hearsThePage = (n: number, leg: SipCall): Promise<true> =>
    eventually(
      () => {
        const audio = customer(n).audio(leg);
        return audio &&
          audio.level > 0.005 &&
          audio.frequency !== null &&
          Math.abs(audio.frequency - DESK_5000) > 50
          ? true
          : undefined;
      },
      10_000,
      'the page’s audio at the customer',
    );

  beforeAll(async () => {
    execFileSync(process.execPath, ['scripts/build-sdk.js'], { cwd: projectRoot(), stdio: 'ignore' });
    env = await startLabGateway(
      { customers: 3, ipPhones: ['5000', '5001'], queues: ['1'] },
      { gateway: { env: { RING_TIMEOUT_MS: '4000', TRANSFER_TIMEOUT_MS: '5000' } } },
    );
    browser = await launchBrowser();
    pages = await startCrmPages();
    page = await openCrmTab(browser, pages, {
      gatewayUrl: env.gateway.url,
      token: await login(env.gateway.url, '5003'),
    });
    await page.waitForCallback('csShowEnableVoice', { args: [true] });
    backend = await Tab.open(env.gateway.url, { domain: 'demo', apiKey: API_KEY }, { namespace: '/events' });
    await waitRegistered(env.gateway, '5000');
  });
  afterEach(async () => {
    for (const bot of env.lab.bots) await bot.hangup();
    await tabs.closeAll();
    for (const ipphone of ['5000', '5001', '5003']) {
      await eventually(async () =>
        (await rest(env.gateway, 'GET', `/v1/demo/agents/${ipphone}`)).body.call === null ? true : undefined,
      );
    }
  });
  afterAll(async () => {
    backend.close();
    await browser.close();
    await pages.close();
    await env.close();
  });

  it('browser source: 5003’s tab REFERs the customer to server-side 5001, who accepted; 3C callbacks in order', async () => {
    const target = await open('5001');
    await waitRegistered(env.gateway, '5001');
    const leg = await answeredInPage(1);
    const callId =
      ((await rest(env.gateway, 'GET', '/v1/demo/agents/5003/call')).body.callId as string) ?? '';
    const after = await page.mark();
    const referred = customer(1).waitFor('referred');

    const asked = await page.call('csTransferCallAgent', '5001');
    expect(asked).toMatchObject({ ok: true, callId });
    const request = await target.nth('transfer.request', 1);
    expect(request.data).toMatchObject({ phone: '0901000001', dropAgentId: '5003', customerCallId: callId });
    expect(await target.command('transfer.respond', { accept: true })).toMatchObject({ ok: true });

    const { newCall, target: referTo } = await referred;
    expect(referTo).toBe('sip:5001@127.0.0.1');
    if (!newCall) throw new Error('the customer did not follow the REFER');
    await customer(1).hears({ call: newCall, frequency: DESK_5001 });
    expect((await leg.terminated).established).toBe(true);
    await page.waitForCallback('csTransferCallSuccess', { after });
    const seen = (await page.calls()).slice(after).map(([name]) => name);
    // The answer first; then the page's own end of the call and the gateway's success, each once
    // (their order is not fixed: one comes from the page's phone, the other from the gateway).
    const transferCallbacks = seen.filter((name) => name.startsWith('csTransfer') || name === 'csEndCall');
    expect(transferCallbacks[0]).toBe('csTransferCallResponse');
    expect([...transferCallbacks.slice(1)].sort()).toEqual(['csEndCall', 'csTransferCallSuccess']);
    expect((await page.calls()).slice(after).find(([name]) => name === 'csTransferCallSuccess')).toEqual([
      'csTransferCallSuccess',
      // 3C's {superAgent, ipphone} with callgate's summary of the target
      { ipphone: '5001', name: 'Agent 5001', online: true, callStatus: 'on', tabs: 1, superAgent: '5003' },
    ]);
    const ended = await backend.waitFor((e) => e.type === 'call.ended' && e.callId === callId);
    expect(ended.data).toMatchObject({ cause: 'TRANSFERRED', by: 'agent' });
    // the target sees the customer's number and the customer call's id
    expect((await target.waitFor((e) => e.type === 'call.ringing')).data).toEqual({
      phone: '0901000001',
      customerCallId: callId,
      transferId: request.data.transferId,
      transferredFrom: '5003',
    });
    await target.waitFor((e) => e.type === 'call.accepted');
    expect(page.errors).toEqual([]);
  });

  it('server-side source: 5000 transfers to browser-mode 5003, who accepts in the page; the page answers by itself', async () => {
    const source = await open('5000');
    const leg = customer(2).call('5000');
    await customer(2).hears({ call: leg, frequency: DESK_5000 });
    const accepted = await source.waitFor((e) => e.type === 'call.accepted');
    const after = await page.mark();

    expect(await source.command('transfer.toAgent', { ipphone: '5003' })).toMatchObject({ ok: true });
    const [, request] = await page.waitForCallback('csNewCallTransferRequest', { after });
    expect(request).toMatchObject({ phone: '0901000002', dropAgentId: '5000', callId: accepted.callId });
    expect(await page.call('responseTransferAgent', 1)).toMatchObject({ ok: true, callId: accepted.callId });

    await page.waitForCallback('csCallRinging', { args: ['0901000002'], after });
    await page.waitForCallback('csAcceptCall', { after });
    await hearsThePage(2, leg);
    const ended = await source.waitFor((e) => e.type === 'call.ended');
    expect(ended.data).toMatchObject({ cause: 'TRANSFERRED' });
    expect((await source.waitFor((e) => e.type === 'transfer.succeeded')).data).toMatchObject({
      agent: { ipphone: '5003' },
    });
    // the target's page never runs the source's 3C callbacks
    const names = (await page.calls()).slice(after).map(([name]) => name);
    expect(names.filter((name) => name.startsWith('csTransferCall'))).toEqual([]);
    // it rang once: the direct-media placeholder a WebRTC customer's target gets first was refused
    // (488) before it rang, and the page was called again with the customer's own offer
    expect(names.filter((name) => name === 'csCallRinging' || name === 'csEndCall')).toEqual([
      'csCallRinging',
    ]);
    const ringing = await backend.waitFor(
      (e) => e.type === 'call.ringing' && e.ipphone === '5003' && e.data.phone === '0901000002',
    );
    expect(ringing.data).toMatchObject({ customerCallId: accepted.callId, transferredFrom: '5000' });

    await customer(2).hangup(leg);
    await page.waitForCallback('csEndCall', { after });
  });

  it('browser source, call on hold, to the ACD queue: the queue bot hears the customer', async () => {
    const leg = await answeredInPage(3);
    const held = await page.mark();
    await page.call('holdCall');
    await page.waitForCallback('csHoldCall', { after: held });
    const queued = env.lab.bot('queue1').waitFor('answered');
    expect(await page.call('csTransferCallAcd', 1)).toMatchObject({ ok: true });
    const queueLeg = (await queued).call;
    expect(queueLeg.remote.user).toBe('0901000003');
    await env.lab.bot('queue1').hears({ call: queueLeg, frequency: labTone('customer', 2) });
    const newCall = customer(3).calls.find((c) => c !== leg && !c.isTerminated);
    if (!newCall) throw new Error('the customer has no call to the queue');
    await customer(3).hears({ call: newCall, frequency: QUEUE_1 });
    await page.waitForCallback('csTransferCallSuccess', {
      args: [{ queueId: '1', superAgent: '5003', ipphone: 'queue:1' }],
      after: held,
    });
    await page.waitForCallback('csEndCall', { after: held });
    expect((await leg.terminated).established).toBe(true);
    await customer(3).hangup(newCall);
    expect((await queueLeg.terminated).by).toBe('remote');
  });

  it('browser source: the target agent’s desk is busy after it accepted: csTransferCallError, the customer stays with the page', async () => {
    const target = await open('5001');
    await waitRegistered(env.gateway, '5001');
    env.lab.bot('5001-desk').setBehaviour({ incoming: { action: 'reject', statusCode: 486 } });
    try {
      const leg = await answeredInPage(1);
      const after = await page.mark();
      expect(await page.call('csTransferCallAgent', '5001')).toMatchObject({ ok: true });
      await target.waitFor((e) => e.type === 'transfer.request');
      await target.command('transfer.respond', { accept: true });
      const [, error, info] = await page.waitForCallback('csTransferCallError', { after });
      expect(error).toBe('TRANSFER_CALL_FAILED');
      expect(info).toMatchObject({ ipphone: '5001' });
      expect(leg.isTerminated).toBe(false);
      await hearsThePage(1, leg);
      expect((await page.calls()).slice(after).map(([name]) => name)).not.toContain('csEndCall');
    } finally {
      env.lab.bot('5001-desk').setBehaviour({ incoming: { action: 'answer', afterMs: 0 } });
    }
  });

  it('browser source, callout: the page calls a customer, then transfers it to 5001 who accepts over REST', async () => {
    const target = await open('5001');
    await waitRegistered(env.gateway, '5001');
    const answered = customer(2).waitFor('answered');
    const after = await page.mark();
    expect(await page.call('csCallout', '0901000002')).toMatchObject({ ok: true });
    const leg = (await answered).call;
    await page.waitForCallback('csCustomerAccept', { after });
    const callId = (await rest(env.gateway, 'GET', '/v1/demo/agents/5003/call')).body.callId as string;
    const asked = await rest(env.gateway, 'POST', `/v1/demo/agents/5003/calls/${callId}/transfer/agent`, {
      ipphone: '5001',
    });
    expect(asked).toMatchObject({ status: 200, body: { ok: true, callId } });
    await target.nth('transfer.request', 1);
    const referred = customer(2).waitFor('referred');
    expect(
      await rest(env.gateway, 'POST', '/v1/demo/agents/5001/transfer/respond', { accept: true }),
    ).toMatchObject({
      status: 200,
    });
    const { newCall } = await referred;
    if (!newCall) throw new Error('the customer did not follow the REFER');
    await customer(2).hears({ call: newCall, frequency: DESK_5001 });
    expect((await leg.terminated).established).toBe(true);
    await page.waitForCallback('csTransferCallSuccess', { after });
    expect((await target.waitFor((e) => e.type === 'call.ringing')).data).toMatchObject({
      phone: '0901000002',
      customerCallId: callId,
      transferredFrom: '5003',
    });
  });

  it('browser source: the customer hangs up while the target thinks: the request is withdrawn', async () => {
    const target = await open('5001');
    await waitRegistered(env.gateway, '5001');
    const leg = await answeredInPage(1);
    const after = await page.mark();
    expect(await page.call('csTransferCallAgent', '5001')).toMatchObject({ ok: true });
    await target.nth('transfer.request', 1);
    await customer(1).hangup(leg);
    expect((await target.waitFor((e) => e.type === 'transfer.failed')).data).toMatchObject({
      error: 'NOT_IN_A_CALL',
      reason: 'CALL_ENDED',
    });
    await page.waitForCallback('csTransferCallError', {
      args: [
        'NOT_IN_A_CALL',
        { ipphone: '5001', name: 'Agent 5001', online: true, callStatus: 'on', tabs: 1, superAgent: '5003' },
      ],
      after,
    });
    expect(await target.command('transfer.respond', { accept: true })).toMatchObject({
      ok: false,
      code: 'COULD_NOT_GET_CALL_INFO',
    });
  });
});
