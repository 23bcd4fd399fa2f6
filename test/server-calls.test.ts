import type { AnyEventEnvelope } from '@callgate/contracts';
import { labTone } from '../apps/lab/src/lab.js';
import { login } from './support/gateway.js';
import { API_KEY, rest, startLabGateway, type LabGateway } from './support/lab-gateway.js';
import { eventually, Tab } from './support/tabs.js';

/** The call events of one call, as [type, data] pairs (ids and times vary). */
const sequence = (events: readonly AnyEventEnvelope[], callId: string): [string, unknown][] =>
  events.filter((e) => e.callId === callId).map((e) => [e.type, e.data]);

describe('server-side calls through the lab PBX (device modes 2, 3, 4)', () => {
  let env: LabGateway;
  let backend: Tab;
  const tabs: Tab[] = [];
  const open = async (ipphone: string): Promise<Tab> => {
    const tab = await Tab.open(env.gateway.url, {
      domain: 'demo',
      token: await login(env.gateway.url, ipphone),
    });
    tabs.push(tab);
    return tab;
  };
  const registered = (ipphone: string, want = true): Promise<true> =>
    eventually(
      async () => {
        const view = await rest(env.gateway, 'GET', `/v1/demo/agents/${ipphone}`);
        const sip = view.body.sip as { registered: boolean } | null;
        return (sip?.registered ?? false) === want ? true : undefined;
      },
      10_000,
      `${ipphone} registered=${String(want)}`,
    );

  beforeAll(async () => {
    env = await startLabGateway({
      customers: 2,
      ipPhones: ['5000', '5001', '5002'],
      mobiles: ['0930000004'],
    });
    backend = await Tab.open(env.gateway.url, { domain: 'demo', apiKey: API_KEY }, { namespace: '/events' });
  });
  afterEach(async () => {
    for (const tab of tabs.splice(0)) {
      tab.close();
      await tab.waitForDisconnect();
    }
  });
  afterAll(async () => {
    backend.close();
    await env.close();
  });

  it('mode 4, no tab open: a customer call rings the IP phone, audio is bridged both ways, the customer hangs up', async () => {
    await registered('5000');
    const customer = env.lab.bot('0901000001');
    const phone = env.lab.bot('5000-desk');
    const call = customer.call('5000');
    await customer.waitFor('answered');
    await customer.hears({ call, frequency: labTone('ipPhone', 0) });
    await phone.hears({ frequency: labTone('customer', 0) });

    const accepted = await backend.waitFor((e) => e.type === 'call.accepted' && e.ipphone === '5000', 5000);
    const callId = accepted.callId ?? '';
    await customer.hangup(call);
    await phone.waitFor('ended');
    await backend.waitFor((e) => e.type === 'call.ended' && e.callId === callId);
    expect(sequence(backend.events, callId)).toEqual([
      ['call.ringing', { phone: '0901000001' }],
      ['call.accepted', {}],
      ['call.ended', { cause: 'NORMAL_CLEARING', by: 'customer', duration: expect.any(Number) as number }],
    ]);
  });

  it('mode 4 with a tab open: the tab and /events see the same sequence; the phone hangs up', async () => {
    const tab = await open('5000');
    const customer = env.lab.bot('0901000002');
    const phone = env.lab.bot('5000-desk');
    const call = customer.call('5000');
    const ringing = await tab.waitFor((e) => e.type === 'call.ringing');
    expect(ringing.data).toEqual({ phone: '0901000002' });
    await customer.hears({ call, frequency: labTone('ipPhone', 0) });
    await phone.hangup();
    const ended = await tab.waitFor((e) => e.type === 'call.ended');
    expect(ended.data).toMatchObject({ cause: 'NORMAL_CLEARING', by: 'agent' });
    const callId = ringing.callId ?? '';
    await backend.waitFor((e) => e.type === 'call.ended' && e.callId === callId);
    expect(sequence(tab.events, callId)).toEqual(sequence(backend.events, callId));
    expect(sequence(tab.events, callId).map(([type]) => type)).toEqual([
      'call.ringing',
      'call.accepted',
      'call.ended',
    ]);
    expect((await call.terminated).by).toBe('remote');
  });
});
