import type { RunningGateway } from '../apps/gateway/src/app.js';
import { login, startGateway } from './support/gateway.js';
import { Tab } from './support/tabs.js';
import { acmeServed, DEMO_API_KEY, type TenantsFile, writeTenants } from './support/tenants.js';

/** Toll fraud: nothing dials outside the domain's dial policy, and every refusal is audited on /events. */
describe('the dial policy', () => {
  let gw: RunningGateway;
  let tenants: TenantsFile;
  let backend: Tab;
  const opened: Tab[] = [];
  const open = async (ipphone: string): Promise<Tab> => {
    const tab = await Tab.open(gw.url, {
      domain: 'demo',
      token: await login(gw.url, ipphone, 'demo', tenants.path),
    });
    opened.push(tab);
    return tab;
  };
  const audited = (number: string, purpose: string) =>
    backend.waitFor(
      (e) =>
        e.type === 'security.refused' &&
        e.data.code === 'DIAL_NOT_ALLOWED' &&
        e.data.number === number &&
        e.data.purpose === purpose,
    );

  beforeAll(async () => {
    tenants = writeTenants({
      demoExtra: "    dialPolicy: { domesticPrefixes: ['+84'], allow: { mobile: ['09', '+849'] } }",
      demoAgent: { '5003': '        allowedDevices: [2, 4]' },
    });
    gw = await startGateway({ configPath: tenants.path });
    backend = await Tab.open(gw.url, { domain: 'demo', apiKey: DEMO_API_KEY }, { namespace: '/events' });
  });
  afterEach(async () => {
    for (const tab of opened.splice(0)) {
      await tab.command('agent.resetDevice', {}).catch(() => undefined);
      tab.close();
      await tab.waitForDisconnect();
    }
    expect(await acmeServed(gw.url, tenants)).toBe(true);
  });
  afterAll(async () => {
    backend.close();
    await backend.waitForDisconnect();
    await gw.close();
    tenants.remove();
  });

  it('an international mobile forward is refused with DIAL_NOT_ALLOWED and audited', async () => {
    const tab = await open('5001');
    expect(await tab.command('agent.setDevice', { type: 3, mobile: '+882161234567' })).toMatchObject({
      ok: false,
      code: 'DIAL_NOT_ALLOWED',
    });
    const event = await audited('+882161234567', 'mobile');
    expect(event).toMatchObject({ ipphone: '5001', data: { command: 'agent.setDevice' } });
    expect(tab.of('agent.device')).toEqual([]);
  });

  it('a mobile outside the allowed prefixes is refused; one inside, or domestic +84, is accepted', async () => {
    const tab = await open('5001');
    expect(await tab.command('agent.setDevice', { type: 3, mobile: '0812345678' })).toMatchObject({
      code: 'DIAL_NOT_ALLOWED',
    });
    await audited('0812345678', 'mobile');
    expect(await tab.command('agent.setDevice', { type: 3, mobile: '0912345678' })).toEqual({
      ok: true,
      type: 3,
      mobile: '0912345678',
    });
    expect(await tab.command('agent.setDevice', { type: 3, mobile: '+84912345678' })).toMatchObject({
      ok: true,
    });
  });

  it('an agent without canCallOut may not forward to a number of its choosing', async () => {
    const tab = await open('5002');
    expect(await tab.command('agent.setDevice', { type: 3, mobile: '0912345678' })).toMatchObject({
      ok: false,
      code: 'CALLOUT_PERMISSION_DENY',
    });
  });

  it('a desk-phone agent may not switch itself to the browser (or a mobile)', async () => {
    const tab = await open('5003');
    for (const type of [1, 3] as const)
      expect(
        await tab.command('agent.setDevice', { type, ...(type === 3 ? { mobile: '0912345678' } : {}) }),
      ).toMatchObject({
        ok: false,
        code: 'DEVICE_NOT_AVAILABLE',
      });
    expect(await tab.command('agent.setDevice', { type: 2 })).toMatchObject({ ok: true, type: 2 });
  });

  it.each([
    ['premium', '19001234'],
    ['premium, international form', '+8419001234'],
    ['international', '+4412345678'],
    ['international 00', '00882161234567'],
  ])('call.dial to a %s number is refused and audited', async (_, number) => {
    const tab = await open('5000');
    expect(await tab.command('call.dial', { number })).toMatchObject({ ok: false, code: 'DIAL_NOT_ALLOWED' });
    await audited(number, 'callout');
  });

  it('REST click-to-call and /calls answer 403 DIAL_NOT_ALLOWED', async () => {
    const post = (path: string, body: unknown) =>
      fetch(`${gw.url}/v1/demo${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${DEMO_API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const click = await post('/calls', {
      phoneNumber: '+882161234567',
      ipPhone: '5000',
      transactionId: 't1',
    });
    expect(click.status).toBe(403);
    expect(await click.json()).toMatchObject({ code: 'DIAL_NOT_ALLOWED' });
    const dial = await post('/agents/5000/calls', { number: '19001234' });
    expect(dial.status).toBe(403);
    const device = await post('/agents/5001/device', { type: 3, mobile: '+882161234567' });
    expect(device.status).toBe(403);
    expect(await device.json()).toMatchObject({ code: 'DIAL_NOT_ALLOWED' });
  });
});
