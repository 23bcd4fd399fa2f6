import { join } from 'node:path';
import { io } from 'socket.io-client';
import { type AnyEventEnvelope, compareEventIds } from '@callgate/contracts';
import type { RunningGateway } from '../apps/gateway/src/app.js';
import { projectRoot } from '../apps/gateway/src/config.js';
import { crmToken, login, startGateway } from './support/gateway.js';
import { Tab } from './support/tabs.js';

const DEMO_API_KEY = 'demo-api-key-change-me-0123456789';

describe('/agent namespace (single instance, in-memory coordination)', () => {
  let gw: RunningGateway;
  const tabs: Tab[] = [];
  const open = async (ipphone: string, token?: string): Promise<Tab> => {
    const tab = await Tab.open(gw.url, { domain: 'demo', token: token ?? (await login(gw.url, ipphone)) });
    tabs.push(tab);
    return tab;
  };

  beforeAll(async () => {
    gw = await startGateway();
  });
  afterEach(async () => {
    for (const tab of tabs.splice(0)) tab.close();
    // Reset state that tests change, through the public API.
    const tab = await Tab.open(gw.url, { domain: 'demo', token: await login(gw.url, '5000') });
    await tab.command('agent.resetDevice', {});
    const status = tab.of('session.ready')[0]?.data.callStatus;
    if (status === 'off') await tab.command('agent.toggleCallStatus', {});
    tab.close();
    await tab.waitForDisconnect();
  });
  afterAll(async () => {
    await gw.close();
  });

  it('a tab with a session token gets session.ready with the snapshot and voice as the first tab', async () => {
    const tab = await open('5000');
    const ready = tab.of('session.ready')[0];
    expect(ready?.data).toMatchObject({
      domain: 'demo',
      ipphone: '5000',
      name: 'Agent 5000',
      deviceType: 1,
      callStatus: 'on',
      isEnable: true,
      otherTabs: 0,
    });
    expect(typeof ready?.data.voiceFence).toBe('number');
    expect(ready?.id).toMatch(/^\d+-\d+$/);
  });

  it('a tab with a CRM token is accepted, logged in or not (3C csInit), and gets a session token', async () => {
    const token = await crmToken('5001', { jti: 'never-logged-in' });
    const tab = await open('5001', token);
    expect(tab.of('session.ready')[0]?.data.ipphone).toBe('5001');
    expect(tab.of('session.ready')[0]?.data.sessionToken).not.toBe(token);
    const expired = await crmToken('5001', { exp: Math.floor(Date.now() / 1000) - 600 });
    const refused = await Tab.open(gw.url, { domain: 'demo', token: expired });
    tabs.push(refused);
    expect(refused.of('session.error')[0]?.data.code).toBe('TOKEN_EXPIRED');
    await refused.waitForDisconnect();
  });

  it.each([
    ['a malformed token', { domain: 'demo', token: 'garbage' }, 'INVALID_TOKEN'],
    ['an unknown domain', { domain: 'nope', token: 'x.y.z' }, 'DOMAIN_NOT_FOUND'],
    ['no token', { domain: 'demo' }, 'INVALID_REQUEST'],
  ])('a handshake with %s gets session.error with its code and is closed', async (_n, auth, code) => {
    const tab = await Tab.open(gw.url, auth);
    tabs.push(tab);
    expect(tab.of('session.error')[0]?.data.code).toBe(code);
    expect(tab.of('session.ready')).toHaveLength(0);
    await tab.waitForDisconnect();
  });

  it('a tab from an origin the domain does not allow gets ORIGIN_NOT_ALLOWED; an allowed origin connects', async () => {
    const config = join(projectRoot(), 'test', 'fixtures', 'two-domains.yaml');
    const acmeGateway = await startGateway({ configPath: config });
    try {
      const token = await login(acmeGateway.url, '100', 'acme', config);
      const evil = await Tab.open(acmeGateway.url, { domain: 'acme', token }, { origin: 'http://evil.test' });
      tabs.push(evil);
      expect(evil.of('session.error')[0]?.data.code).toBe('ORIGIN_NOT_ALLOWED');
      const good = await Tab.open(
        acmeGateway.url,
        { domain: 'acme', token },
        { origin: 'http://crm.acme.test' },
      );
      tabs.push(good);
      expect(good.of('session.ready')[0]?.data.ipphone).toBe('100');
      good.close();
      await good.waitForDisconnect();
    } finally {
      await acmeGateway.close();
    }
  });

  it('a second tab starts without voice, and its voice.enable takes voice from the first', async () => {
    const a = await open('5000');
    const b = await open('5000');
    expect(b.of('session.ready')[0]?.data).toMatchObject({ isEnable: false, otherTabs: 1 });

    const ack = await b.command('voice.enable', {});
    expect(ack).toMatchObject({ ok: true, isEnable: true });
    const lost = await a.waitFor((e) => e.type === 'voice.changed');
    const won = await b.waitFor((e) => e.type === 'voice.changed');
    expect(lost.data).toEqual({ isEnable: false, fence: ack.ok ? ack.fence : -1 });
    expect(won.data).toEqual({ isEnable: true, fence: ack.ok ? ack.fence : -1 });
  });

  it('a command carrying a stale voice fence is refused with VOICE_FENCE_STALE', async () => {
    const a = await open('5000');
    const b = await open('5000');
    const fenceA = a.of('session.ready')[0]?.data.voiceFence ?? -1;
    expect(await a.command('agent.toggleCallStatus', { voiceFence: fenceA })).toMatchObject({ ok: true });
    await b.command('voice.enable', {});
    expect(await a.command('agent.toggleCallStatus', { voiceFence: fenceA })).toMatchObject({
      ok: false,
      code: 'VOICE_FENCE_STALE',
    });
  });

  it('a disconnect frees voice at once: the next tab to connect gets it', async () => {
    const a = await open('5000');
    expect(a.of('session.ready')[0]?.data.isEnable).toBe(true);
    a.close();
    await a.waitForDisconnect();
    // The server frees the lock as it handles the disconnect; the next tab must see it free.
    const b = await open('5000');
    expect(b.of('session.ready')[0]?.data).toMatchObject({ isEnable: true, otherTabs: 0 });
  });

  it('agent.toggleCallStatus is broadcast to all the agent’s tabs, and only theirs', async () => {
    const a = await open('5000');
    const b = await open('5000');
    const other = await open('5001');
    expect(await a.command('agent.toggleCallStatus', {})).toEqual({ ok: true, status: 'off' });
    expect((await a.waitFor((e) => e.type === 'agent.callStatus')).data).toEqual({ status: 'off' });
    expect((await b.waitFor((e) => e.type === 'agent.callStatus')).data).toEqual({ status: 'off' });
    const c = await open('5000');
    expect(c.of('session.ready')[0]?.data.callStatus).toBe('off');
    expect(other.of('agent.callStatus')).toHaveLength(0);
  });

  it('agent.setDevice is broadcast; resetDevice returns to the default device', async () => {
    const a = await open('5000');
    const b = await open('5000');
    expect(await a.command('agent.setDevice', { type: 4 })).toEqual({ ok: true, type: 4 });
    expect((await b.waitFor((e) => e.type === 'agent.device')).data).toEqual({ type: 4 });
    expect(await a.command('agent.setDevice', { type: 3, mobile: '0912345678' })).toEqual({
      ok: true,
      type: 3,
      mobile: '0912345678',
    });
    expect((await b.nth('agent.device', 2)).data).toEqual({ type: 3, mobile: '0912345678' });
    expect(await b.command('agent.resetDevice', {})).toEqual({ ok: true, type: 1 });
    expect((await a.nth('agent.device', 3)).data).toEqual({ type: 1 });
  });

  it('device type 3 without any mobile, and an IP phone for an agent without one, are refused', async () => {
    const tab = await open('5001');
    expect(await tab.command('agent.setDevice', { type: 3 })).toMatchObject({
      ok: false,
      code: 'INVALID_MOBILE',
    });
    expect(await tab.command('agent.setDevice', { type: 4 })).toMatchObject({
      ok: false,
      code: 'DEVICE_NOT_AVAILABLE',
    });
  });

  it('transfer.listAgents lists the domain’s agents with presence and call status', async () => {
    const a = await open('5000');
    await open('5000');
    const ack = await a.command('transfer.listAgents', {});
    if (!ack.ok) throw new Error(ack.code);
    const byId = new Map(ack.agents.map((agent) => [agent.ipphone, agent]));
    expect([...byId.keys()]).toEqual(['5000', '5001', '5002', '5003', '5004']);
    expect(byId.get('5000')).toMatchObject({ online: true, tabs: 2, callStatus: 'on', name: 'Agent 5000' });
    expect(byId.get('5002')).toMatchObject({ online: false, tabs: 0 });
  });

  describe('bad input on the socket is answered with a code and the socket stays usable', () => {
    it.each<[string, string, unknown[], string]>([
      ['an unknown command', 'voice.steal', [{}], 'UNKNOWN_COMMAND'],
      ['a string payload', 'agent.setDevice', ['4'], 'INVALID_PAYLOAD'],
      ['an array payload', 'voice.enable', [[1, 2]], 'INVALID_PAYLOAD'],
      ['a device type 7', 'agent.setDevice', [{ type: 7 }], 'INVALID_DEVICE_TYPE'],
      ['a mobile like 09x; DROP', 'agent.setDevice', [{ type: 3, mobile: '09x; DROP' }], 'INVALID_MOBILE'],
      ['a dialled number with a domain', 'call.dial', [{ number: '123@evil.example' }], 'INVALID_NUMBER'],
      ['a voiceFence of the wrong type', 'voice.enable', [{ voiceFence: 'x' }], 'INVALID_PAYLOAD'],
      ['a call command with no call in progress', 'call.hangup', [{}], 'NOT_IN_A_CALL'],
      [
        'a call report from a fake event type',
        'call.report',
        [{ type: 'call.transferred', callId: 'x' }],
        'INVALID_PAYLOAD',
      ],
      [
        'a call report with a cause nobody knows',
        'call.report',
        [{ type: 'call.ended', callId: 'x', data: { cause: 'EXPLODED' } }],
        'INVALID_PAYLOAD',
      ],
    ])('%s', async (_name, command, args, code) => {
      const tab = await open('5000');
      expect(await tab.raw(command, ...args)).toMatchObject({ ok: false, code });
      expect(await tab.command('agent.toggleCallStatus', {})).toMatchObject({ ok: true });
    });

    it('a message larger than the limit closes only that connection', async () => {
      const big = await open('5000');
      const small = await open('5000');
      big.socket.emit('agent.setDevice', { type: 3, mobile: 'x'.repeat(200_000) } as never, () => undefined);
      await big.waitForDisconnect();
      expect(await small.command('agent.toggleCallStatus', {})).toMatchObject({ ok: true });
    });
  });

  it('session.unregister answers, frees voice and closes the tab', async () => {
    const a = await open('5000');
    expect(await a.command('session.unregister', {})).toEqual({ ok: true });
    await a.waitForDisconnect();
    const b = await open('5000');
    expect(b.of('session.ready')[0]?.data).toMatchObject({ isEnable: true, otherTabs: 0 });
  });

  it('the 3C unload sequence (csUnregister then reConfigDeviceType) gets both answers before the tab closes', async () => {
    const a = await open('5000');
    await a.command('agent.setDevice', { type: 4 });
    const [unregistered, reset] = await Promise.all([
      a.command('session.unregister', {}),
      a.command('agent.resetDevice', {}),
    ]);
    expect(unregistered).toEqual({ ok: true });
    expect(reset).toEqual({ ok: true, type: 1 });
    await a.waitForDisconnect();
  });

  it('/events delivers every event of the domain to a backend with an API key, and refuses a bad key', async () => {
    const backend = io(`${gw.url}/events`, {
      auth: { domain: 'demo', apiKey: DEMO_API_KEY },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
    });
    const seen: AnyEventEnvelope[] = [];
    backend.on('agent.callStatus' as never, (e: AnyEventEnvelope) => {
      seen.push(e);
    });
    await new Promise<void>((resolve) => backend.on('connect', () => resolve()));
    const tab = await open('5000');
    await tab.command('agent.toggleCallStatus', {});
    await tab.command('agent.toggleCallStatus', {});
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`events seen: ${seen.length}`)), 5000);
      const check = setInterval(() => {
        if (seen.length >= 2) {
          clearTimeout(t);
          clearInterval(check);
          resolve();
        }
      }, 10);
    });
    expect(seen.map((e) => [e.type, e.ipphone, e.data])).toEqual([
      ['agent.callStatus', '5000', { status: 'off' }],
      ['agent.callStatus', '5000', { status: 'on' }],
    ]);
    expect(compareEventIds(seen[1]?.id ?? '', seen[0]?.id ?? '')).toBeGreaterThan(0);
    backend.disconnect();

    const refused = await Tab.open(
      gw.url,
      { domain: 'demo', apiKey: 'wrong-key-0123456789' },
      { namespace: '/events' },
    );
    tabs.push(refused);
    expect((await refused.nth('session.error', 1)).data.code).toBe('UNAUTHORIZED');
    await refused.waitForDisconnect();
  });
});
