import { execFileSync } from 'node:child_process';
import { projectRoot } from '../apps/gateway/src/config.js';
import { labTone } from '../apps/lab/src/lab.js';
import { launchBrowser, type TestBrowser } from './support/browser.js';
import { login } from './support/gateway.js';
import { startLabGateway, type LabGateway } from './support/lab-gateway.js';
import { openCrmTab, startCrmPages, type CrmPageServer, type CrmTab } from './support/pages.js';
import { eventually } from './support/tabs.js';

/**
 * 3C `transferSurvey({id, sipurl})` from a real page in browser mode (5003): the voice tab's phone
 * moves the customer to the domain's survey IVR (a lab bot registered as survey-csat).
 */
describe('3C transferSurvey from a browser-mode page', () => {
  let env: LabGateway | undefined;
  let browser: TestBrowser | undefined;
  let pages: CrmPageServer | undefined;
  let tab: CrmTab;

  beforeAll(async () => {
    execFileSync(process.execPath, ['scripts/build-sdk.js'], { cwd: projectRoot(), stdio: 'ignore' });
    env = await startLabGateway({ customers: 1, surveys: ['csat'] });
    browser = await launchBrowser();
    pages = await startCrmPages();
    tab = await openCrmTab(browser, pages, {
      gatewayUrl: env.gateway.url,
      token: await login(env.gateway.url, '5003'),
    });
    await tab.waitForCallback('csShowEnableVoice', { args: [true], timeoutMs: 30_000 });
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await pages?.close();
    await env?.close();
  });

  it("refuses an unknown id and a page-given sipurl with csTransferSurveyResponse(code), then moves the customer: 'OK', the survey hears the customer", async () => {
    if (!env) throw new Error('the lab did not start');
    const lab = env.lab;
    const customer = lab.bot('0901000001');
    const before = await tab.mark();
    // The in-page phone registers a moment after voice is granted: call until it rings.
    const call = await eventually(
      async () => {
        const attempt = customer.call('5003');
        const outcome = await Promise.race([
          attempt.terminated.then(() => 'ended' as const),
          new Promise<'ringing'>((resolve) => attempt.once('progress', () => resolve('ringing'))),
        ]);
        return outcome === 'ringing' ? attempt : undefined;
      },
      15_000,
      'the in-page phone ringing',
    );
    await tab.waitForCallback('csCallRinging', { args: ['0901000001'], after: before });
    await tab.page.evaluate(() => (window as unknown as { onAcceptCall(): Promise<unknown> }).onAcceptCall());
    await tab.waitForCallback('csAcceptCall', { after: before });

    const refusals = await tab.mark();
    expect(await tab.call('transferSurvey', { id: 'nps' })).toMatchObject({
      ok: false,
      code: 'UNKNOWN_SURVEY',
    });
    expect(
      await tab.call('transferSurvey', { id: 'csat', sipurl: 'sip:survey-csat@127.0.0.1' }),
    ).toMatchObject({
      ok: false,
      code: 'INVALID_PAYLOAD',
    });
    expect((await tab.calls()).slice(refusals).filter(([name]) => name.startsWith('csTransfer'))).toEqual([
      ['csTransferSurveyResponse', 'UNKNOWN_SURVEY'],
      ['csTransferSurveyResponse', 'INVALID_PAYLOAD'],
    ]);
    // nothing changed: the call goes on in the page
    expect(
      await tab.page.evaluate(() => (window as unknown as { isCsHasCall(): boolean }).isCsHasCall()),
    ).toBe(true);

    const survey = lab.bot('survey-csat');
    const answered = survey.waitFor('answered');
    const moving = await tab.mark();
    expect(await tab.call('transferSurvey', { id: 'csat', sipurl: '' })).toMatchObject({ ok: true });
    await tab.waitForCallback('csTransferSurveyResponse', { args: ['OK'], after: moving });
    const ivrLeg = (await answered).call;
    expect(ivrLeg.remote.user).toBe('0901000001');
    await survey.hears({ call: ivrLeg, frequency: labTone('customer', 0) });
    // In browser mode the page REFERs the customer, who calls the survey on a new leg.
    const newCall = customer.calls.find((c) => c !== call && !c.isTerminated);
    if (!newCall) throw new Error('the customer has no call to the survey');
    await customer.hears({ call: newCall, frequency: labTone('survey', 0) });
    await tab.waitForCallback('csEndCall', { after: moving });
    // a survey hand-over is not an agent transfer: no csTransferCallSuccess
    expect((await tab.calls()).slice(moving).filter(([name]) => name === 'csTransferCallSuccess')).toEqual(
      [],
    );
    await survey.hangup(ivrLeg);
    await newCall.terminated;
    await call.terminated;
    expect(tab.errors).toEqual([]);
  }, 90_000);
});
