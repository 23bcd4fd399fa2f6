import { compareEventIds } from '@callgate/contracts';
import type { RunningGateway } from '../apps/gateway/src/app.js';
import { login, startGateway } from './support/gateway.js';
import { startRedis, type RedisServer } from './support/redis-server.js';
import { Tab } from './support/tabs.js';

const API_KEY = 'demo-api-key-change-me-0123456789';

/** Every event has its id in the domain's log; clients that reconnect get exactly what they missed. */
describe.each(['memory', 'redis'] as const)('resuming after a disconnect (%s coordination)', (kind) => {
  let redis: RedisServer | undefined;
  let gw: RunningGateway;
  let small: RunningGateway;
  const toggle = (target: RunningGateway, ipphone = '5000') =>
    fetch(`${target.url}/v1/demo/agents/${ipphone}/status`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}` },
    });

  beforeAll(async () => {
    if (kind === 'redis') redis = await startRedis();
    const prefix = `resume-${Date.now()}:`;
    gw = await startGateway({ ...(redis ? { redisUrl: redis.url } : {}), keyPrefix: prefix });
    small = await startGateway({
      ...(redis ? { redisUrl: redis.url } : {}),
      keyPrefix: `${prefix}small:`,
      env: { EVENT_LOG_MAX_LEN: '10', AGENT_LOG_MAX_LEN: '10' },
    });
  });
  afterAll(async () => {
    await gw.close();
    await small.close();
    await redis?.stop();
  });

  it('a tab that reconnects with lastEventId gets the agent’s missed events in order, then a fresh session.ready', async () => {
    const token = await login(gw.url, '5000');
    const first = await Tab.open(gw.url, { domain: 'demo', token });
    await first.command('agent.toggleCallStatus', {});
    const last = await first.nth('agent.callStatus', 1);
    first.close();
    await first.waitForDisconnect();

    for (let i = 0; i < 3; i++) expect((await toggle(gw)).status).toBe(200);
    await toggle(gw, '5001'); // another agent's event: not for this tab

    const again = await Tab.open(gw.url, { domain: 'demo', token, lastEventId: last.id });
    const missed = again.events.filter((e) => e.type === 'agent.callStatus');
    expect(missed.map((e) => [e.type, e.ipphone, e.data])).toEqual([
      ['agent.callStatus', '5000', { status: 'on' }],
      ['agent.callStatus', '5000', { status: 'off' }],
      ['agent.callStatus', '5000', { status: 'on' }],
    ]);
    expect(missed.map((e) => e.id)).toEqual([...missed.map((e) => e.id)].sort(compareEventIds));
    const ready = again.of('session.ready')[0];
    expect(ready?.data.resumed).toEqual({ replayed: 3 });
    expect(again.events.at(-1)?.type === 'session.ready' || again.events.indexOf(ready!) > 2).toBe(true);
    expect(ready?.data.callStatus).toBe('on');
    again.close();
  });

  it('a tab that comes back after the log moved on is told to resync (no replay, a fresh snapshot)', async () => {
    const token = await login(small.url, '5002');
    const tab = await Tab.open(small.url, { domain: 'demo', token });
    await tab.command('agent.toggleCallStatus', {});
    const last = await tab.nth('agent.callStatus', 1);
    tab.close();
    await tab.waitForDisconnect();
    for (let i = 0; i < 40; i++) await toggle(small, '5002');
    const again = await Tab.open(small.url, { domain: 'demo', token, lastEventId: last.id });
    expect(again.of('session.ready')[0]?.data.resumed).toEqual({ resync: true });
    expect(again.of('agent.callStatus')).toHaveLength(0);
    again.close();
  });

  it('a backend that drops during 500 events gets all 500 after reconnecting, in order, exactly once', async () => {
    const backend = await Tab.open(gw.url, { domain: 'demo', apiKey: API_KEY }, { namespace: '/events' });
    for (let i = 0; i < 100; i++) await toggle(gw, '5003');
    const hundredth = await backend.nth('agent.callStatus', 100);
    backend.close();
    await backend.waitForDisconnect();
    for (let i = 0; i < 400; i++) await toggle(gw, '5003');

    const resumed = await Tab.open(
      gw.url,
      { domain: 'demo', apiKey: API_KEY, lastEventId: hundredth.id },
      { namespace: '/events' },
    );
    await resumed.nth('agent.callStatus', 400, 10_000);
    const all = [...backend.of('agent.callStatus'), ...resumed.of('agent.callStatus')];
    expect(all).toHaveLength(500);
    expect(new Set(all.map((e) => e.id)).size).toBe(500);
    expect(all.map((e) => e.id)).toEqual([...all.map((e) => e.id)].sort(compareEventIds));
    expect(all.map((e) => e.data.status)).toEqual(all.map((_, i) => (i % 2 === 0 ? 'off' : 'on')));
    // The resume also redelivered some of the first 100 (its window before the resume point):
    // dropped as seen, never anything after it.
    expect(resumed.redelivered.every((e) => compareEventIds(e.id, hundredth.id) <= 0)).toBe(true);
    resumed.close();
  });

  it('a backend away during a voice move gets the winner’s voice.changed on resume, as it heard it live', async () => {
    const token = await login(gw.url, '5001');
    const a = await Tab.open(gw.url, { domain: 'demo', token });
    const b = await Tab.open(gw.url, { domain: 'demo', token });
    const live = await Tab.open(gw.url, { domain: 'demo', apiKey: API_KEY }, { namespace: '/events' });
    const away = await Tab.open(gw.url, { domain: 'demo', apiKey: API_KEY }, { namespace: '/events' });
    await toggle(gw, '5001');
    const seen = await away.nth('agent.callStatus', 1);
    away.close();
    await away.waitForDisconnect();

    expect(await b.command('voice.enable', {})).toMatchObject({ ok: true, isEnable: true });
    await a.command('voice.enable', {});
    await live.nth('voice.changed', 2, 10_000);
    const heard = live
      .of('voice.changed')
      .filter((e) => e.ipphone === '5001')
      .map((e) => e.id);
    expect(heard).toHaveLength(2);

    const resumed = await Tab.open(
      gw.url,
      { domain: 'demo', apiKey: API_KEY, lastEventId: seen.id },
      { namespace: '/events' },
    );
    await resumed.nth('voice.changed', 2, 10_000);
    // a tab's own voice.changed, but backends heard it live: a resume gives it too, with its data
    expect(resumed.of('voice.changed').map((e) => [e.id, e.ipphone, e.data.isEnable])).toEqual(
      heard.map((id) => [id, '5001', true]),
    );
    // the losing tab's revocation is for that tab alone: never on /events
    expect(resumed.of('voice.changed').some((e) => !e.data.isEnable)).toBe(false);
    for (const tab of [a, b, live, resumed]) tab.close();
  });

  it('a backend that resumes too late is told to resync; REST reads the same log', async () => {
    const backend = await Tab.open(small.url, { domain: 'demo', apiKey: API_KEY }, { namespace: '/events' });
    await toggle(small, '5004');
    const seen = await backend.nth('agent.callStatus', 1);
    backend.close();
    await backend.waitForDisconnect();
    for (let i = 0; i < 30; i++) await toggle(small, '5004');
    const late = await Tab.open(
      small.url,
      { domain: 'demo', apiKey: API_KEY, lastEventId: seen.id },
      { namespace: '/events' },
    );
    expect((await late.nth('events.resync', 1)).data).toEqual({ afterId: seen.id });
    late.close();

    const res = await fetch(`${gw.url}/v1/demo/events?after=0-0`, {
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    const body = (await res.json()) as { events: { id: string; type: string }[]; gap: boolean };
    expect(res.status).toBe(200);
    expect(body.events.length).toBeGreaterThan(0);
    const tail = body.events.at(-3)!.id;
    const after = await fetch(`${gw.url}/v1/demo/events?after=${tail}`, {
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    expect((await after.json()) as { events: unknown[]; gap: boolean }).toMatchObject({
      gap: false,
      events: [{}, {}],
    });
    const bad = await fetch(`${gw.url}/v1/demo/events?after=nonsense`, {
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    // Not an event id: refused with a code before the store sees it (test/security.test.ts has more).
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'INVALID_REQUEST' });
  });
});
