import { registeredSippUas, runSipp } from '../apps/lab/src/sipp.js';
import { login } from './support/gateway.js';
import { startLabGateway, waitRegistered, type LabGateway } from './support/lab-gateway.js';
import { Tab } from './support/tabs.js';

/** sipp (Debian sip-tester) as an independent, classic SIP peer over UDP: no JsSIP on its side. */
describe('sipp against the gateway through the lab PBX', () => {
  let env: LabGateway;
  let tab: Tab;

  beforeAll(async () => {
    // a short ring timeout: the gateway gives up on an unanswered desk phone after 3 s
    env = await startLabGateway(
      { customers: 1, ipPhones: ['5000'] },
      { gateway: { env: { RING_TIMEOUT_MS: '3000' } } },
    );
    await waitRegistered(env.gateway, '5000');
    tab = await Tab.open(env.gateway.url, { domain: 'demo', token: await login(env.gateway.url, '5000') });
  });
  afterAll(async () => {
    tab.close();
    await env.close();
  });

  it('a sipp UAC calls the agent’s extension: the tab sees call.ringing with sipp’s caller, and sipp gets the device’s 486', async () => {
    env.lab.bot('5000-desk').setBehaviour({ incoming: { action: 'reject', statusCode: 486 } });
    const result = await runSipp({
      host: env.lab.pbx.host,
      port: env.lab.pbx.udpPort,
      scenario: 'uac-rejected-486',
      service: '5000',
    });
    expect({ exitCode: result.exitCode, errors: result.errors }).toEqual({ exitCode: 0, errors: '' });
    const ringing = await tab.waitFor((e) => e.type === 'call.ringing');
    // sipp's caller is not a number: the CRM gets 'unknown', and sipp's text escaped beside it
    expect(ringing.data).toEqual({ phone: 'unknown', callerDisplay: 'sipp' });
    const ended = await tab.waitFor((e) => e.type === 'call.ended' && e.callId === ringing.callId);
    expect(ended.data).toMatchObject({ cause: 'BUSY', by: 'agent' });
    env.lab.bot('5000-desk').setBehaviour({ incoming: { action: 'answer', afterMs: 0 } });
  });

  it('a callout to a sipp UAS that answers 486 yields callout.failed with sipCode 486', async () => {
    const host = env.lab.pbx.host;
    const port = env.lab.pbx.udpPort;
    const { done: uas } = await registeredSippUas({
      host,
      port,
      scenario: 'uas-busy-486',
      user: '0909000486',
      timeoutMs: 15_000,
    });

    expect(await tab.command('call.dial', { number: '0909000486' })).toMatchObject({ ok: true });
    const failed = await tab.waitFor((e) => e.type === 'callout.failed', 10_000);
    expect(failed.data).toEqual({ errorCode: 'IPCC_NOT_CONNECT_CUSTOMER', sipCode: 486 });
    expect((await uas).exitCode).toBe(0);
    await tab.waitFor((e) => e.type === 'call.ended' && e.callId === failed.callId);
  });

  it('a desk phone picked up as the gateway gives up on it (its 200 crosses the CANCEL) is sent ACK and BYE, and the call ends NO_ANSWER', async () => {
    const host = env.lab.pbx.host;
    const port = env.lab.pbx.udpPort;
    // 5002's desk phone is sipp: it rings, and answers 200 when the CANCEL comes
    const { done: desk } = await registeredSippUas({
      host,
      port,
      scenario: 'uas-answer-after-cancel',
      user: '5002-desk',
      timeoutMs: 15_000,
    });
    const agent = await Tab.open(env.gateway.url, {
      domain: 'demo',
      token: await login(env.gateway.url, '5002'),
    });
    try {
      const customer = env.lab.bot('0901000001');
      const call = customer.call('5002');
      const ringing = await agent.waitFor((e) => e.type === 'call.ringing');
      expect(ringing.data).toMatchObject({ phone: '0901000001' });
      // no one answers within RING_TIMEOUT_MS: the gateway cancels the desk phone's ring
      const ended = await agent.waitFor(
        (e) => e.type === 'call.ended' && e.callId === ringing.callId,
        10_000,
      );
      expect(ended.data).toMatchObject({ cause: 'NO_ANSWER' });
      expect(await call.terminated).toMatchObject({ established: false });
      // RFC 3261 9.1: the crossing 200 is acknowledged and the phone hung up (without it, sipp times out)
      expect(await desk).toMatchObject({ exitCode: 0, errors: '' });
    } finally {
      agent.close();
    }
  });
});
