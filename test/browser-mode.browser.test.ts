import { execFileSync } from 'node:child_process';
import { SipCallState } from '@callgate/sip';
import { projectRoot } from '../apps/gateway/src/config.js';
import { launchBrowser, type TestBrowser } from './support/browser.js';
import { crmToken, login } from './support/gateway.js';
import { LAB_HOTLINES, rest, startLabGateway, type LabGateway } from './support/lab-gateway.js';
import { openCrmTab, startCrmPages, type CrmPageServer, type CrmTab } from './support/pages.js';
import { eventually } from './support/tabs.js';

/**
 * Device mode 1: the voice tab is the phone (JsSIP + WebRTC in a real headless Chromium with a fake
 * microphone), registered on the lab PBX with the account the gateway handed to it.
 */
describe('browser mode: the voice tab is the phone', () => {
  let env: LabGateway;
  let browser: TestBrowser;
  let pages: CrmPageServer;
  let voice: CrmTab;
  let other: CrmTab;

  const remoteTracks = (tab: CrmTab): Promise<number> =>
    tab.page.evaluate(() => {
      const el = document.getElementById('callgate-remote-audio') as HTMLMediaElement | null;
      return el?.srcObject instanceof MediaStream ? el.srcObject.getAudioTracks().length : 0;
    });

  /** A customer call that reaches the agent's in-page phone (404 from the PBX until it registered). */
  const callUntilRinging = async (
    from: string,
  ): Promise<ReturnType<LabGateway['lab']['bot']>['calls'][number]> => {
    const customer = env.lab.bot(from);
    return eventually(
      async () => {
        const call = customer.call('5003');
        const first = await Promise.race([
          call.terminated.then(() => 'ended' as const),
          new Promise<'ringing'>((resolve) => call.once('progress', () => resolve('ringing'))),
        ]);
        return first === 'ringing' ? call : undefined;
      },
      15_000,
      `${from} reaching the in-page phone`,
    );
  };

  /** Waits until the other tab's `csVoice` has these values (`caller`: `csVoice.callInfo.caller`). */
  const otherSees = async (expected: Record<string, boolean | string>): Promise<void> => {
    await other.page.waitForFunction(
      (expected) => {
        const v = (
          window as unknown as { csVoice: Record<string, unknown> & { callInfo: { caller: string } } }
        ).csVoice;
        return Object.entries(expected).every(([key, value]) =>
          key === 'caller' ? v.callInfo.caller === value : v[key] === value,
        );
      },
      expected,
      { timeout: 10_000, polling: 25 },
    );
  };

  beforeAll(async () => {
    execFileSync(process.execPath, ['scripts/build-sdk.js'], { cwd: projectRoot(), stdio: 'ignore' });
    env = await startLabGateway({ customers: 3 });
    browser = await launchBrowser();
    pages = await startCrmPages();
    const token = await login(env.gateway.url, '5003');
    voice = await openCrmTab(browser, pages, { gatewayUrl: env.gateway.url, token });
    await voice.waitForCallback('csShowEnableVoice', { args: [true] });
    other = await openCrmTab(browser, pages, { gatewayUrl: env.gateway.url, token });
    await other.waitForCallback('csShowEnableVoice', { args: [false] });
  });
  afterAll(async () => {
    await browser.close();
    await pages.close();
    await env.close();
  });

  it('an inbound call rings in the voice tab, is answered with onAcceptCall, audio flows both ways, hold, mute, end', async () => {
    const after = await voice.mark();
    const afterOther = await other.mark();
    const call = await callUntilRinging('0901000001');
    await voice.waitForCallback('csCallRinging', { args: ['0901000001'], after });
    // the other tab gets no call callbacks (as the vendor), but its csVoice follows the call
    await otherSees({ hasCall: true, isRinging: true, caller: '0901000001' });

    await voice.page.evaluate(() =>
      (window as unknown as { onAcceptCall(): Promise<unknown> }).onAcceptCall(),
    );
    await voice.waitForCallback('csAcceptCall', { after });
    await otherSees({ isAnswering: true, isRinging: false });
    const customer = env.lab.bot('0901000001');
    // The fake microphone's audio reaches the customer; the customer's tone reaches the page.
    await eventually(
      () => ((customer.audio(call)?.level ?? 0) > 0.005 ? true : undefined),
      10_000,
      'audio at the customer',
    );
    await eventually(
      async () => ((await remoteTracks(voice)) === 1 ? true : undefined),
      10_000,
      'remote track in the page',
    );
    expect(await remoteTracks(other)).toBe(0);

    await voice.page.evaluate(() => (window as unknown as { holdCall(): Promise<unknown> }).holdCall());
    await voice.waitForCallback('csHoldCall', { after });
    await otherSees({ isHold: true });
    await other.page.evaluate(() => (window as unknown as { holdCall(): Promise<unknown> }).holdCall());
    await voice.waitForCallback('csUnHoldCall', { after });
    await voice.page.evaluate(() => (window as unknown as { muteCall(): Promise<unknown> }).muteCall());
    await voice.waitForCallback('csMuteCall', { after });
    await otherSees({ isMute: true });
    await voice.page.evaluate(() => (window as unknown as { endCall(): Promise<unknown> }).endCall());
    await voice.waitForCallback('csEndCall', { after });
    await otherSees({ hasCall: false });
    const callCallbacks = [
      'csCallRinging',
      'csAcceptCall',
      'csHoldCall',
      'csUnHoldCall',
      'csMuteCall',
      'csEndCall',
    ];
    expect((await other.calls()).slice(afterOther).filter(([name]) => callCallbacks.includes(name))).toEqual(
      [],
    );
    expect((await call.terminated).by).toBe('remote');
    expect(voice.errors).toEqual([]);
  });

  it('a hold the customer’s side refuses (488) is not reported: holdCall answers an error, the call stays up and can be held later', async () => {
    const after = await voice.mark();
    const call = await callUntilRinging('0901000002');
    await voice.waitForCallback('csCallRinging', { args: ['0901000002'], after });
    await voice.page.evaluate(() =>
      (window as unknown as { onAcceptCall(): Promise<unknown> }).onAcceptCall(),
    );
    await voice.waitForCallback('csAcceptCall', { after });
    await otherSees({ isAnswering: true, caller: '0901000002' });

    call.refuseReinvites(488);
    const refused = await voice.page.evaluate(() =>
      (window as unknown as { holdCall(): Promise<unknown> }).holdCall(),
    );
    expect(refused).toMatchObject({ ok: false, code: 'INTERNAL_ERROR' });
    expect((refused as { message: string }).message).toContain('(SIP 488)');
    // Mute goes through the same report path after the refused hold: once the other tab sees it,
    // a hold report would have arrived before it.
    await voice.page.evaluate(() => (window as unknown as { muteCall(): Promise<unknown> }).muteCall());
    await voice.waitForCallback('csMuteCall', { after });
    await otherSees({ isMute: true, isHold: false });
    const names = (await voice.calls()).slice(after).map(([name]) => name);
    expect(names).not.toContain('csHoldCall');
    expect(call.state).toBe(SipCallState.Established);

    call.refuseReinvites(undefined);
    const held = await voice.page.evaluate(() =>
      (window as unknown as { holdCall(): Promise<unknown> }).holdCall(),
    );
    expect(held).toMatchObject({ ok: true, held: true });
    await voice.waitForCallback('csHoldCall', { after });
    await otherSees({ isHold: true });
    expect(call.onHold.remote).toBe(true);
    await voice.page.evaluate(() => (window as unknown as { endCall(): Promise<unknown> }).endCall());
    await voice.waitForCallback('csEndCall', { after });
    expect((await call.terminated).by).toBe('remote');
    expect(voice.errors).toEqual([]);
  });

  it('csCallout from the browser: a customer who answers, and one who is busy (486)', async () => {
    const after = await voice.mark();
    await voice.page.evaluate(() =>
      (window as unknown as { csCallout(n: string): Promise<unknown> }).csCallout('0901000002'),
    );
    await voice.waitForCallback('showCalloutInfo', { args: ['0901000002'], after });
    // the call panel: csCurrentCallId then csCallRinging(customer) when the customer rings
    const [, callId] = await voice.waitForCallback('csCurrentCallId', { after });
    await voice.waitForCallback('csCallRinging', { args: ['0901000002'], after });
    await voice.waitForCallback('csCustomerAccept', { after });
    const names = (await voice.calls()).slice(after).map(([name]) => name);
    expect(names.indexOf('csCurrentCallId')).toBeLessThan(names.indexOf('csCallRinging'));
    expect(names.indexOf('csCallRinging')).toBeLessThan(names.indexOf('csCustomerAccept'));
    expect(
      await voice.page.evaluate(() => {
        const v = (window as unknown as { csVoice: { isCallout: boolean; callInfo: { callId: string } } })
          .csVoice;
        return { isCallout: v.isCallout, callId: v.callInfo.callId };
      }),
    ).toEqual({ isCallout: true, callId });
    await voice.page.evaluate(() => (window as unknown as { endCall(): Promise<unknown> }).endCall());
    await voice.waitForCallback('csEndCall', { after });

    env.lab.bot('0901000003').setBehaviour({ incoming: { action: 'reject', statusCode: 486 } });
    const later = await voice.mark();
    await voice.page.evaluate(() =>
      (window as unknown as { csCallout(n: string): Promise<unknown> }).csCallout('0901000003'),
    );
    await voice.waitForCallback('showCalloutError', {
      args: ['IPCC_NOT_CONNECT_CUSTOMER', 486],
      after: later,
    });
    await voice.waitForCallback('csEndCall', { after: later });
  });

  it('a REST dial for the browser-mode agent is carried out by the voice tab', async () => {
    const after = await voice.mark();
    const customer = env.lab.bot('0901000001');
    const answered = customer.waitFor('answered');
    const dialled = await rest(env.gateway, 'POST', '/v1/demo/agents/5003/calls', {
      number: '0901000001',
      transactionId: 't-7',
    });
    expect(dialled.status).toBe(201);
    const { call } = await answered;
    await voice.waitForCallback('csCustomerAccept', { after });
    await otherSees({ isAnswering: true, isCallout: true, caller: '0901000001' });
    expect((await rest(env.gateway, 'GET', '/v1/demo/agents/5003/call')).body).toMatchObject({
      callId: dialled.body.callId,
      transactionId: 't-7',
      state: 'active',
    });
    await customer.hangup(call);
    await voice.waitForCallback('csEndCall', { after });
  });

  it('voice moves from tab A to tab B while idle: A unregisters, B registers, the next call rings only B', async () => {
    const afterVoice = await voice.mark();
    await other.page.evaluate(() =>
      (window as unknown as { csEnableCall(): Promise<unknown> }).csEnableCall(),
    );
    await other.waitForCallback('csShowEnableVoice', { args: [true] });
    await voice.waitForCallback('csShowEnableVoice', { args: [false], after: afterVoice });

    const call = await callUntilRinging('0901000002');
    // Only B's phone got the INVITE: answering from A is relayed to B, and B plays the audio.
    await voice.page.evaluate(() =>
      (window as unknown as { onAcceptCall(): Promise<unknown> }).onAcceptCall(),
    );
    await other.waitForCallback('csAcceptCall');
    await eventually(
      async () => ((await remoteTracks(other)) === 1 ? true : undefined),
      10_000,
      'audio in tab B',
    );
    expect(env.lab.bot('0901000002').calls.filter((c) => !c.isTerminated)).toHaveLength(1);
    await env.lab.bot('0901000002').hangup(call);
    await other.waitForCallback('csEndCall');
  });

  it('a page fills its hotline picker from csVoice.getCalloutServices() and reads csVoice.isCallout / callInfo in csCallRinging', async () => {
    const gw = env.gateway.url;
    const tags = [
      'jquery.min.js',
      'jssip-3.0.7.js',
      'init-3.0.7.js',
      'web.push.js',
      'cs_const.js',
      'cs_voice.js',
    ]
      .map((file) => `<script src="${gw}/js/embed/${file}"></script>`)
      .join('\n');
    const token = JSON.stringify(await crmToken('5003'));
    const html = `<!doctype html><html><head><meta charset="utf-8">${tags}</head><body>
<select id="hotline"></select>
<div id="panel" hidden><span id="who"></span> <span id="dir"></span></div>
<video id="my-video" hidden></video><video id="peer-video" hidden></video>
<script>
window.calls = [];
var record = function (name) { return function () { calls.push([name].concat([].slice.call(arguments))); }; };
window.csShowEnableVoice = record('csShowEnableVoice');
window.showCalloutInfo = record('showCalloutInfo');
window.showCalloutError = record('showCalloutError');
window.csCustomerAccept = record('csCustomerAccept');
window.csEndCall = record('csEndCall');
window.csInitComplete = function () {
  calls.push(['csInitComplete']);
  if (!csVoice.enableVoice) csEnableCall();
  $('#hotline').empty();
  $.each(csVoice.getCalloutServices(), function (i, s) {
    $('#hotline').append($('<option>').val(s.callout_id).text(s.descriptions).prop('selected', s.is_default));
  });
};
window.csCallRinging = function (phone) {
  calls.push(['csCallRinging', phone]);
  $('#panel').prop('hidden', false);
  $('#who').text(csVoice.callInfo.caller);
  $('#dir').text(csVoice.isCallout ? 'out' : 'in');
};
csInit(${token.replace(/</g, '\\u003c')}, 'demo');
</script></body></html>`;
    const tab = await openCrmTab(browser, pages, { gatewayUrl: gw, token: '', html });
    try {
      await tab.waitForCallback('csInitComplete');
      await tab.waitForVoice(true);
      const options = await tab.page.$$eval('#hotline option', (els) =>
        els.map((el) => [(el as HTMLOptionElement).value, (el as HTMLOptionElement).selected]),
      );
      expect(options).toEqual([
        ['1', true],
        ['cskh', false],
      ]);
      await tab.page.selectOption('#hotline', 'cskh');
      const customer = env.lab.bot('0901000003');
      customer.setBehaviour({ incoming: { action: 'answer', afterMs: 500 } });
      const answered = customer.waitFor('answered');
      const after = await tab.mark();
      await tab.page.evaluate(() => {
        const w = window as unknown as {
          $(selector: string): { val(): string };
          csCallout(n: string, s: string): Promise<unknown>;
        };
        void w.csCallout('0901000003', w.$('#hotline').val());
      });
      await tab.waitForCallback('csCallRinging', { args: ['0901000003'], after });
      expect(await tab.page.textContent('#who')).toBe('0901000003');
      expect(await tab.page.textContent('#dir')).toBe('out');
      await tab.waitForCallback('csCustomerAccept', { after });
      const { call } = await answered;
      expect(call.requestHeader('P-Asserted-Identity')).toContain(`sip:${LAB_HOTLINES.care}@`);
      await tab.page.evaluate(() => (window as unknown as { endCall(): Promise<unknown> }).endCall());
      await tab.waitForCallback('csEndCall', { after });
      expect(tab.errors).toEqual([]);
    } finally {
      await tab.close();
    }
  });
});
