import { labTone } from '../apps/lab/src/lab.js';
import { login } from './support/gateway.js';
import { API_KEY, rest, startLabGateway, type LabGateway } from './support/lab-gateway.js';
import { eventually, Tab } from './support/tabs.js';

/** 3C `reConfigDeviceType`, done by the server: it also happens when the voice tab crashes. */
describe('fallback to the default device when the voice tab goes away', () => {
  let env: LabGateway;
  let backend: Tab;
  const sip = async (ipphone: string): Promise<unknown> =>
    (await rest(env.gateway, 'GET', `/v1/demo/agents/${ipphone}`)).body.sip;

  beforeAll(async () => {
    env = await startLabGateway(
      { customers: 1, ipPhones: ['5000'] },
      { gateway: { env: { VOICE_FALLBACK_MS: '300' } } },
    );
    backend = await Tab.open(env.gateway.url, { domain: 'demo', apiKey: API_KEY }, { namespace: '/events' });
  });
  afterAll(async () => {
    backend.close();
    await env.close();
  });

  it('closing the only voice tab of a browser-mode agent whose default is 4: the next customer call rings the IP phone', async () => {
    const tab = await Tab.open(env.gateway.url, {
      domain: 'demo',
      token: await login(env.gateway.url, '5000'),
    });
    expect(tab.of('session.ready')[0]?.data).toMatchObject({ isEnable: true, deviceType: 4 });
    expect(await tab.command('agent.setDevice', { type: 1 })).toEqual({ ok: true, type: 1 });
    await eventually(
      async () => ((await sip('5000')) === null ? true : undefined),
      10_000,
      'line closed in mode 1',
    );

    tab.socket.disconnect(); // as a crash would: no csUnregister, no reConfigDeviceType
    const device = await backend.waitFor((e) => e.type === 'agent.device' && e.data.type === 4, 5000);
    expect(device.ipphone).toBe('5000');
    await eventually(async () => ((await sip('5000')) as { registered: boolean } | null)?.registered, 10_000);

    const customer = env.lab.bot('0901000001');
    const call = customer.call('5000');
    await customer.hears({ call, frequency: labTone('ipPhone', 0) });
    await customer.hangup(call);
    await backend.waitFor((e) => e.type === 'call.ended' && e.ipphone === '5000');
  });
});
