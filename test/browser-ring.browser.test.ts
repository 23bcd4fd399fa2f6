import { execFileSync } from 'node:child_process';
import { EVENTS_NAMESPACE } from '@callgate/contracts';
import { projectRoot } from '../apps/gateway/src/config.js';
import { launchBrowser, type TestBrowser } from './support/browser.js';
import { login } from './support/gateway.js';
import { API_KEY, rest, startLabGateway, type LabGateway } from './support/lab-gateway.js';
import { openCrmTab, startCrmPages, type CrmPageServer, type CrmTab } from './support/pages.js';
import { eventually, Tab } from './support/tabs.js';

const RING_TIMEOUT_MS = 3000;

/** Browser mode (the in-page phone carries the calls) honours the call status and the ring time. */
describe('browser mode: Off and RING_TIMEOUT_MS', () => {
  let env: LabGateway;
  let browser: TestBrowser;
  let pages: CrmPageServer;
  let tab: CrmTab;
  let backend: Tab;

  beforeAll(async () => {
    execFileSync(process.execPath, ['scripts/build-sdk.js'], { cwd: projectRoot(), stdio: 'ignore' });
    env = await startLabGateway(
      { customers: 1 },
      { gateway: { env: { RING_TIMEOUT_MS: String(RING_TIMEOUT_MS) } } },
    );
    browser = await launchBrowser();
    pages = await startCrmPages();
    tab = await openCrmTab(browser, pages, {
      gatewayUrl: env.gateway.url,
      token: await login(env.gateway.url, '5003'),
    });
    await tab.waitForCallback('csShowEnableVoice', { args: [true] });
    backend = await Tab.open(
      env.gateway.url,
      { domain: 'demo', apiKey: API_KEY },
      { namespace: EVENTS_NAMESPACE },
    );
  });
  afterAll(async () => {
    backend.close();
    await browser.close();
    await pages.close();
    await env.close();
  });

  /** A customer's call to 5003 once the in-page phone is registered: rung, or refused (480). */
  const callAgent = async () => {
    const customer = env.lab.bot('0901000001');
    return eventually(
      async () => {
        const attempt = customer.call('5003');
        const outcome = await Promise.race([
          attempt.terminated.then((end) => end),
          new Promise<'ringing'>((resolve) => attempt.once('progress', () => resolve('ringing'))),
        ]);
        // 404/408: not registered yet; try again
        if (outcome !== 'ringing' && outcome.statusCode !== 480) return undefined;
        return { customer, attempt, outcome };
      },
      15_000,
      'the in-page phone answering the INVITE',
    );
  };

  it('with the status Off, the customer gets 480 and the page never rings; /events hears call.ended', async () => {
    const before = await tab.mark();
    const seen = backend.events.length;
    expect((await rest(env.gateway, 'POST', '/v1/demo/agents/5003/status')).body).toMatchObject({
      status: 'off',
    });
    await tab.waitForCallback('csShowCallStatus', { args: ['Offline'], after: before });

    const { attempt } = await callAgent();
    const end = await attempt.terminated;
    expect(end).toMatchObject({ statusCode: 480, established: false });
    const ended = await backend.waitFor(
      (e) => e.type === 'call.ended' && e.ipphone === '5003' && backend.events.indexOf(e) >= seen,
    );
    expect(ended.data).toMatchObject({ cause: 'AGENT_REJECTED', by: 'system' });
    const calls = (await tab.calls()).slice(before);
    expect(calls.filter(([name]) => name === 'csCallRinging')).toEqual([]);
    expect(
      backend.events.slice(seen).filter((e) => e.type === 'call.ringing' && e.ipphone === '5003'),
    ).toEqual([]);

    expect((await rest(env.gateway, 'POST', '/v1/demo/agents/5003/status')).body).toMatchObject({
      status: 'on',
    });
  }, 60_000);

  it("an unanswered call stops after RING_TIMEOUT_MS with NO_ANSWER and marks the agent 'No Answer'; changeCallStatus() brings it back Online for the next one", async () => {
    const before = await tab.mark();
    const seen = backend.events.length;
    const { customer, attempt } = await callAgent();
    const rangAt = Date.now();
    await tab.waitForCallback('csCallRinging', { args: ['0901000001'], after: before });
    const end = await attempt.terminated;
    const rangMs = Date.now() - rangAt;
    expect(end).toMatchObject({ statusCode: 480, established: false });
    expect(rangMs).toBeGreaterThanOrEqual(RING_TIMEOUT_MS - 500);
    expect(rangMs).toBeLessThan(RING_TIMEOUT_MS + 5000);
    await tab.waitForCallback('csEndCall', { after: before });
    const ended = await backend.waitFor(
      (e) => e.type === 'call.ended' && e.ipphone === '5003' && backend.events.indexOf(e) >= seen,
    );
    expect(ended.data).toMatchObject({ cause: 'NO_ANSWER', by: 'system' });

    // 3C: a call that rang out marks the agent not-answering, as on server-side devices.
    await tab.waitForCallback('csShowCallStatus', { args: ['No Answer'], after: before });
    const marked = await backend.waitFor(
      (e) => e.type === 'agent.callStatus' && e.ipphone === '5003' && backend.events.indexOf(e) >= seen,
    );
    expect(marked.data).toEqual({ status: 'noAnswer' });

    // Not answering: the next distributed call is refused (480) and never rings the page.
    const refusedFrom = await tab.mark();
    const refusedSeen = backend.events.length;
    const refused = await callAgent();
    expect(await refused.attempt.terminated).toMatchObject({ statusCode: 480, established: false });
    const refusedEnd = await backend.waitFor(
      (e) => e.type === 'call.ended' && e.ipphone === '5003' && backend.events.indexOf(e) >= refusedSeen,
    );
    expect(refusedEnd.data).toMatchObject({ cause: 'AGENT_REJECTED', by: 'system' });
    expect((await tab.calls()).slice(refusedFrom).filter(([name]) => name === 'csCallRinging')).toEqual([]);

    // changeCallStatus() goes back to Online, and the next call rings and is answered.
    const online = await tab.mark();
    expect(await tab.call('changeCallStatus')).toMatchObject({ ok: true, status: 'on' });
    await tab.waitForCallback('csShowCallStatus', { args: ['Online'], after: online });
    const next = await tab.mark();
    const second = await callAgent();
    await tab.waitForCallback('csCallRinging', { after: next });
    await tab.page.evaluate(() => (window as unknown as { onAcceptCall(): Promise<unknown> }).onAcceptCall());
    await tab.waitForCallback('csAcceptCall', { after: next });
    await customer.hangup(second.attempt);
    await tab.waitForCallback('csEndCall', { after: next });
  }, 60_000);
});
