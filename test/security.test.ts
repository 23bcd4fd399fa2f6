import type { RunningGateway } from '../apps/gateway/src/app.js';
import { login, startGateway } from './support/gateway.js';
import { startRedis, type RedisServer } from './support/redis-server.js';
import { Tab } from './support/tabs.js';
import { acmeServed, DEMO_API_KEY, type TenantsFile, writeTenants } from './support/tenants.js';

const TOO_BIG = '99999999999999999999-0';
const MAX_ID = '18446744073709551615-18446744073709551615';

/** Hostile input from one tenant's clients: each is answered with a code, and the other tenant is still served. */
describe('bad input never stops the gateway (redis coordination)', () => {
  let redis: RedisServer;
  let gw: RunningGateway;
  let tenants: TenantsFile;
  const opened: Tab[] = [];
  const rest = async (path: string): Promise<{ status: number; body: Record<string, unknown> }> => {
    const res = await fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer ${DEMO_API_KEY}` } });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    redis = await startRedis();
    tenants = writeTenants();
    gw = await startGateway({
      redisUrl: redis.url,
      configPath: tenants.path,
      keyPrefix: `sec-${Date.now()}:`,
    });
  });
  afterEach(async () => {
    for (const tab of opened.splice(0)) {
      tab.close();
      await tab.waitForDisconnect();
    }
  });
  afterAll(async () => {
    await gw.close();
    await redis.stop();
    tenants.remove();
  });

  it.each([TOO_BIG, MAX_ID, '1-99999999999999999999'])(
    'a tab resuming after lastEventId %s starts from a snapshot (resync), and acme is still served',
    async (lastEventId) => {
      const token = await login(gw.url, '5000', 'demo', tenants.path);
      const tab = await Tab.open(gw.url, { domain: 'demo', token, lastEventId });
      opened.push(tab);
      expect(tab.of('session.error')).toEqual([]);
      expect(tab.of('session.ready')[0]?.data.resumed).toEqual({ resync: true });
      expect(await tab.command('agent.toggleCallStatus', {})).toMatchObject({ ok: true });
      expect(await acmeServed(gw.url, tenants)).toBe(true);
    },
  );

  it.each([TOO_BIG, MAX_ID])(
    'a backend on /events resuming after %s gets events.resync and stays subscribed',
    async (lastEventId) => {
      const backend = await Tab.open(
        gw.url,
        { domain: 'demo', apiKey: DEMO_API_KEY, lastEventId },
        { namespace: '/events' },
      );
      opened.push(backend);
      const resync = await backend.waitFor((e) => e.type === 'events.resync');
      expect(resync.data).toEqual({ afterId: '0-0' });
      const toggled = await fetch(`${gw.url}/v1/demo/agents/5001/status`, {
        method: 'POST',
        headers: { authorization: `Bearer ${DEMO_API_KEY}` },
      });
      expect(toggled.status).toBe(200);
      await backend.waitFor((e) => e.type === 'agent.callStatus' && e.ipphone === '5001');
      expect(backend.socket.connected).toBe(true);
      expect(await acmeServed(gw.url, tenants)).toBe(true);
    },
  );

  it.each([
    ['20 nines', `after=${TOO_BIG}`],
    ['the max id', `after=${MAX_ID}`],
    ['an array', 'after[]=1-0'],
    ['two values', 'after=1-0&after=2-0'],
    ['an object', 'after[x]=1-0'],
    ['not an id', 'after=abc'],
  ])(
    'GET /v1/demo/events with %s answers 400 INVALID_REQUEST, and acme is still served',
    async (_, query) => {
      expect(await rest(`/v1/demo/events?${query}`)).toMatchObject({
        status: 400,
        body: { code: 'INVALID_REQUEST' },
      });
      expect(await acmeServed(gw.url, tenants)).toBe(true);
    },
  );

  it('GET /v1/demo/events with a valid id still answers', async () => {
    expect(await rest('/v1/demo/events?after=0-0')).toMatchObject({ status: 200, body: { gap: false } });
  });

  it('CORS is decided per domain: demo\'s "*" does not open acme\'s routes', async () => {
    const preflight = (path: string) =>
      fetch(`${gw.url}${path}`, {
        method: 'OPTIONS',
        headers: { origin: 'http://evil.test', 'access-control-request-method': 'POST' },
      });
    expect((await preflight('/v1/acme/agents')).headers.get('access-control-allow-origin')).toBeNull();
    expect((await preflight('/acme/thirdParty/login')).headers.get('access-control-allow-origin')).toBeNull();
    expect((await preflight('/v1/demo/agents')).headers.get('access-control-allow-origin')).toBe(
      'http://evil.test',
    );
    const acme = await fetch(`${gw.url}/acme/thirdParty/login`, {
      method: 'OPTIONS',
      headers: { origin: 'http://acme.test', 'access-control-request-method': 'POST' },
    });
    expect(acme.headers.get('access-control-allow-origin')).toBe('http://acme.test');
  });

  it('a multipart login body past 16 KB of fields is answered 413, and acme is still served', async () => {
    const form = new FormData();
    form.set('token', 'a'.repeat(8000));
    form.set('other', 'b'.repeat(8000));
    form.set('third', 'c');
    const res = await fetch(`${gw.url}/demo/thirdParty/login`, { method: 'POST', body: form });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ code: 'errors', error: 'PAYLOAD_TOO_LARGE' });
    expect(await acmeServed(gw.url, tenants)).toBe(true);
  });

  it.each([
    ['anonymous', 'anonymous', undefined],
    ['+84 912 345-678', '+84912345678', '+84 912 345-678'],
    ['<img src=x onerror=alert(1)>', 'unknown', '<img src=x onerror=alert(1)>'],
    ['100\r\nX-Evil: 1', 'unknown', '100\\x0d\\x0aX-Evil: 1'],
  ])('a browser-mode call from %j is reported (phone %s), never refused', async (raw, phone, display) => {
    const backend = await Tab.open(
      gw.url,
      { domain: 'demo', apiKey: DEMO_API_KEY },
      { namespace: '/events' },
    );
    opened.push(backend);
    const token = await login(gw.url, '5001', 'demo', tenants.path);
    const voice = await Tab.open(gw.url, { domain: 'demo', token });
    opened.push(voice);
    expect(voice.of('session.ready')[0]?.data.isEnable).toBe(true);
    const callId = `c-${Date.now()}`;
    expect(
      await voice.raw('call.report', { type: 'call.ringing', callId, data: { phone: raw } }),
    ).toMatchObject({
      ok: true,
    });
    const ringing = await backend.waitFor((e) => e.type === 'call.ringing' && e.callId === callId);
    expect(ringing.data).toMatchObject({
      phone,
      ...(display === undefined ? {} : { callerDisplay: display }),
    });
    expect(
      await voice.raw('call.report', { type: 'call.ended', callId, data: { cause: 'CUSTOMER_CANCELLED' } }),
    ).toMatchObject({ ok: true });
    expect(await acmeServed(gw.url, tenants)).toBe(true);
  });

  it('a browser-mode report of a call the phone does not have is refused, and a duration is capped by what the gateway saw', async () => {
    const backend = await Tab.open(
      gw.url,
      { domain: 'demo', apiKey: DEMO_API_KEY },
      { namespace: '/events' },
    );
    opened.push(backend);
    const voice = await Tab.open(gw.url, {
      domain: 'demo',
      token: await login(gw.url, '5001', 'demo', tenants.path),
    });
    opened.push(voice);
    const callId = `d-${Date.now()}`;
    expect(
      await voice.raw('call.report', { type: 'call.ringing', callId, data: { phone: '0912345678' } }),
    ).toMatchObject({ ok: true });
    expect(
      await voice.raw('call.report', { type: 'call.accepted', callId: 'not-this-one', data: {} }),
    ).toMatchObject({
      ok: false,
      code: 'COULD_NOT_GET_CALL_INFO',
    });
    expect(
      await voice.raw('call.report', {
        type: 'call.ended',
        callId,
        data: { cause: 'CUSTOMER_CANCELLED', duration: 86_000 },
      }),
    ).toMatchObject({ ok: true });
    const ended = await backend.waitFor((e) => e.type === 'call.ended' && e.callId === callId);
    expect((ended.data as { duration?: number }).duration).toBeLessThanOrEqual(5);
    expect(await acmeServed(gw.url, tenants)).toBe(true);
  });
});
