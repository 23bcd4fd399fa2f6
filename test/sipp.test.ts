import { registeredSippUas, runSipp } from '../apps/lab/src/sipp.js';
import { login } from './support/gateway.js';
import { startLabGateway, waitRegistered, type LabGateway } from './support/lab-gateway.js';
import { Tab } from './support/tabs.js';

/** sipp (Debian sip-tester) as an independent, classic SIP peer over UDP: no JsSIP on its side. */
describe('sipp against the gateway through the lab PBX', () => {
  let env: LabGateway;
  let tab: Tab;

  beforeAll(async () => {
    env = await startLabGateway({ ipPhones: ['5000'] });
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
});
