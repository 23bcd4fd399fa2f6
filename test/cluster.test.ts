// Several gateway instances as real processes on one real redis-server and the lab Kamailio:
// fan-out, commands routed to the owner of a server-side agent, resume and resync, a Redis
// restart, a graceful drain, a frozen owner (SIGSTOP/SIGCONT) and a killed one (SIGKILL).
// The tests run in order on one cluster; each leaves it as the next expects.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { preferredInstance } from '@callgate/coordination';
import { compareEventIds } from '@callgate/contracts';
import { labTone, startLab, type Lab } from '../apps/lab/src/lab.js';
import { spawnGateway, type GatewayProcess } from './support/gateway-process.js';
import { API_KEY, labDomainsYaml, MOBILE_PREFIX, rest } from './support/lab-gateway.js';
import { startRedis, type RedisServer } from './support/redis-server.js';
import { AgentTabs, eventually, Tab } from './support/tabs.js';

const LEASE_MS = 3_000;
const IDS = ['gw-a', 'gw-b', 'gw-c'] as const;
const EVENT_LOG_MAX_LEN = 1_500;

/** 20 agents that hash to gw-a among the three, and 5 each to gw-b and gw-c (all mode 4). */
function pickAgents(): Record<(typeof IDS)[number], string[]> {
  const picked: Record<(typeof IDS)[number], string[]> = { 'gw-a': [], 'gw-b': [], 'gw-c': [] };
  const want = { 'gw-a': 20, 'gw-b': 5, 'gw-c': 5 };
  const short = (): boolean => IDS.some((id) => picked[id].length < want[id]);
  for (let ext = 6000; short(); ext++) {
    const id = preferredInstance({ domain: 'demo', ipphone: String(ext) }, IDS) as (typeof IDS)[number];
    if (picked[id].length < want[id]) picked[id].push(String(ext));
  }
  return picked;
}

interface SipView {
  registered: boolean;
  owner: string;
}

describe('several gateway instances (real processes, one Redis, the lab PBX)', () => {
  const byOwner = pickAgents();
  const agents = [...byOwner['gw-a'], ...byOwner['gw-b'], ...byOwner['gw-c']];
  let redis: RedisServer;
  let lab: Lab;
  let dir: string;
  const gw: Record<string, GatewayProcess> = {};
  const tabs = new AgentTabs(() => gw['gw-a']?.url ?? '');

  const spawn = (instanceId: string, env: Record<string, string> = {}): Promise<GatewayProcess> =>
    spawnGateway({
      instanceId,
      configPath: join(dir, 'domains.yaml'),
      redisUrl: redis.url,
      keyPrefix: 'cluster:',
      leaseMs: LEASE_MS,
      env: { EVENT_LOG_MAX_LEN: String(EVENT_LOG_MAX_LEN), RING_TIMEOUT_MS: '5000', ...env },
    });
  /** Who registers the agent, as `via` reports it (the registration's state and reason left out). */
  const sipOf = async (via: GatewayProcess, ipphone: string): Promise<SipView | null> => {
    const sip = (await rest(via, 'GET', `/v1/demo/agents/${ipphone}`)).body.sip as SipView | null;
    return sip ? { registered: sip.registered, owner: sip.owner } : null;
  };
  /** Waits until every agent given is registered by `owner`, as `via` reports it. */
  const ownedBy = (via: GatewayProcess, owner: string, ipphones: readonly string[], timeoutMs: number) =>
    eventually(
      async () => {
        for (const ipphone of ipphones) {
          const sip = await sipOf(via, ipphone);
          if (!sip?.registered || sip.owner !== owner) return undefined;
        }
        return true;
      },
      timeoutMs,
      `${ipphones.length} agents registered by ${owner}`,
    );
  const openTab = (via: GatewayProcess, ipphone: string, lastEventId?: string): Promise<Tab> =>
    tabs.open(ipphone, { url: via.url, ...(lastEventId ? { lastEventId } : {}) });
  const toggle = async (via: GatewayProcess, ipphone: string): Promise<void> => {
    const res = await rest(via, 'POST', `/v1/demo/agents/${ipphone}/status`);
    if (res.status !== 200)
      throw new Error(`toggle on ${via.instanceId}: ${res.status} ${JSON.stringify(res.body)}`);
  };

  beforeAll(async () => {
    redis = await startRedis();
    lab = await startLab({ mobilePrefix: MOBILE_PREFIX, customers: 2, ipPhones: agents });
    dir = mkdtempSync(join(tmpdir(), 'callgate-cluster-'));
    writeFileSync(
      join(dir, 'domains.yaml'),
      labDomainsYaml(
        lab.pbx.wsUri,
        {},
        agents.map((ext) => ({ ext, device: 4 })),
      ),
    );
    for (const id of IDS) gw[id] = await spawn(id);
  }, 120_000);

  afterEach(async () => {
    await tabs.closeAll();
  });

  afterAll(async () => {
    await Promise.all(Object.values(gw).map((g) => g.stop()));
    await lab?.close();
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('spreads server-side agents: each is registered by the instance it hashes to, seen alike from every instance', async () => {
    const [a, b, c] = [gw['gw-a']!, gw['gw-b']!, gw['gw-c']!];
    // gw-a started alone and took every agent; the others received their share when they joined.
    await ownedBy(c, 'gw-a', byOwner['gw-a'], 30_000);
    await ownedBy(a, 'gw-b', byOwner['gw-b'], 30_000);
    await ownedBy(b, 'gw-c', byOwner['gw-c'], 30_000);
    for (const g of [a, b, c]) {
      const health = (await (await fetch(`${g.url}/health`)).json()) as { lines: number };
      expect(health.lines).toBe(byOwner[g.instanceId as (typeof IDS)[number]].length);
    }
  }, 60_000);

  it('1,000 events produced on A reach a tab on B and a tab on C exactly once each, in order', async () => {
    const [a, b, c] = [gw['gw-a']!, gw['gw-b']!, gw['gw-c']!];
    const agent = byOwner['gw-b'][0]!;
    const onB = await openTab(b, agent);
    const onC = await openTab(c, agent);
    for (let i = 0; i < 1_000; i++) await toggle(a, agent);
    for (const tab of [onB, onC]) {
      await tab.nth('agent.callStatus', 1_000, 30_000);
      const got = tab.of('agent.callStatus');
      expect(got).toHaveLength(1_000);
      expect(new Set(got.map((e) => e.id)).size).toBe(1_000);
      for (let i = 1; i < got.length; i++) expect(compareEventIds(got[i]!.id, got[i - 1]!.id)).toBe(1);
      // Statuses alternate: nothing lost or doubled in between.
      got.forEach((e, i) =>
        expect(e.data.status).toBe(i % 2 === 0 ? got[0]!.data.status : flip(got[0]!.data.status)),
      );
    }
    // Any duplicate would have come before another event; one more proves the stream moved on clean.
    await toggle(a, agent);
    await onB.nth('agent.callStatus', 1_001, 5_000);
    expect(onB.of('agent.callStatus')).toHaveLength(1_001);
  }, 120_000);

  it('a REST command sent to B for an agent owned by A is carried out by A and answered through B', async () => {
    const [b, c] = [gw['gw-b']!, gw['gw-c']!];
    const agent = byOwner['gw-a'][0]!;
    expect(await sipOf(b, agent)).toEqual({ registered: true, owner: 'gw-a' });
    const backend = await Tab.open(c.url, { domain: 'demo', apiKey: API_KEY }, { namespace: '/events' });
    tabs.add(backend);
    const customer = lab.bot('0901000001');
    const phone = lab.bot(`${agent}-desk`);
    const dialled = await rest(b, 'POST', `/v1/demo/agents/${agent}/calls`, { number: '0901000001' });
    expect(dialled.status).toBe(201);
    const callId = dialled.body.callId as string;
    await phone.waitFor('answered', { timeoutMs: 10_000 });
    await customer.waitFor('answered', { timeoutMs: 10_000 });
    await customer.hears({ frequency: labTone('ipPhone', agents.indexOf(agent)) });
    const active = await backend.waitFor(
      (e) => e.type === 'call.customerAccepted' && e.callId === callId,
      10_000,
    );
    expect(active.ipphone).toBe(agent);
    // The call as B sees it comes from A.
    const view = await rest(b, 'GET', `/v1/demo/agents/${agent}`);
    expect(view.body.call).toMatchObject({ callId, state: 'active' });
    const hung = await rest(c, 'POST', `/v1/demo/agents/${agent}/calls/${callId}/hangup`);
    expect(hung).toMatchObject({ status: 200, body: { callId } });
    const ended = await backend.waitFor((e) => e.type === 'call.ended' && e.callId === callId, 10_000);
    expect(ended.data).toMatchObject({ cause: 'NORMAL_CLEARING', by: 'agent' });
    // A command in the wrong state is refused by the owner with its code, through B.
    const again = await rest(b, 'POST', `/v1/demo/agents/${agent}/calls/${callId}/hold`);
    expect(again).toMatchObject({ status: 409, body: { code: 'NOT_IN_A_CALL' } });
  }, 60_000);

  it('a transfer between agents owned by two other instances, commanded and accepted through a third', async () => {
    const a = gw['gw-a']!;
    const source = byOwner['gw-b'][2]!;
    const target = byOwner['gw-c'][2]!;
    expect(await sipOf(a, source)).toEqual({ registered: true, owner: 'gw-b' });
    expect(await sipOf(a, target)).toEqual({ registered: true, owner: 'gw-c' });
    const backend = await Tab.open(a.url, { domain: 'demo', apiKey: API_KEY }, { namespace: '/events' });
    tabs.add(backend);
    const targetTab = await openTab(a, target);
    const customer = lab.bot('0901000001');
    const call = customer.call(source);
    const accepted = await backend.waitFor((e) => e.type === 'call.accepted' && e.ipphone === source, 10_000);
    const callId = accepted.callId ?? '';

    const asked = await rest(a, 'POST', `/v1/demo/agents/${source}/calls/${callId}/transfer/agent`, {
      ipphone: target,
    });
    expect(asked).toMatchObject({ status: 200, body: { callId } });
    const request = await targetTab.waitFor((e) => e.type === 'transfer.request', 5_000);
    expect(request.data).toMatchObject({ callId, dropAgentId: source, phone: '0901000001' });
    // The request is held by B (the source's owner); the target answers through A.
    expect(await targetTab.command('transfer.respond', { accept: true })).toMatchObject({ ok: true, callId });

    await customer.hears({ call, frequency: labTone('ipPhone', agents.indexOf(target)) });
    const ringing = await backend.waitFor((e) => e.type === 'call.ringing' && e.ipphone === target, 10_000);
    // C trusted the transfer header because B handed it the ledger entry: one customer call id.
    expect(ringing.data).toMatchObject({ customerCallId: callId, transferredFrom: source });
    const ended = await backend.waitFor((e) => e.type === 'call.ended' && e.callId === callId, 10_000);
    expect(ended.data).toMatchObject({ cause: 'TRANSFERRED' });
    await backend.waitFor((e) => e.type === 'transfer.succeeded' && e.callId === callId, 10_000);
    await customer.hangup(call);
    await backend.waitFor((e) => e.type === 'call.ended' && e.callId === ringing.callId, 10_000);
  }, 60_000);

  it('a backend away for 10 s during 500 events gets all 500 in order on another instance; one away too long is told to resync', async () => {
    const [a, b, c] = [gw['gw-a']!, gw['gw-b']!, gw['gw-c']!];
    const agent = byOwner['gw-c'][0]!;
    const first = await Tab.open(b.url, { domain: 'demo', apiKey: API_KEY }, { namespace: '/events' });
    await toggle(a, agent);
    const seen = await first.waitFor((e) => e.type === 'agent.callStatus', 5_000);
    first.close();
    // 500 events over about 10 s while the subscriber is away.
    for (let i = 0; i < 500; i++) {
      await toggle(a, agent);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const back = await Tab.open(
      c.url,
      { domain: 'demo', apiKey: API_KEY, lastEventId: seen.id },
      { namespace: '/events' },
    );
    tabs.add(back);
    await back.nth('agent.callStatus', 500, 15_000);
    const got = back.of('agent.callStatus');
    expect(got).toHaveLength(500);
    expect(compareEventIds(got[0]!.id, seen.id)).toBe(1);
    for (let i = 1; i < got.length; i++) expect(compareEventIds(got[i]!.id, got[i - 1]!.id)).toBe(1);
    back.close();

    // Away while more than the log keeps goes by: told to resync, nothing replayed.
    const last = got[got.length - 1]!;
    for (let i = 0; i < EVENT_LOG_MAX_LEN + 300; i++) await toggle(a, agent);
    const late = await Tab.open(
      b.url,
      { domain: 'demo', apiKey: API_KEY, lastEventId: last.id },
      { namespace: '/events' },
    );
    tabs.add(late);
    expect((await late.nth('events.resync', 1, 10_000)).data).toEqual({ afterId: last.id });
    expect(late.of('agent.callStatus')).toHaveLength(0);
  }, 180_000);

  it('Redis restarted: commands fail fast meanwhile, a call keeps its media; afterwards locks, leases and fan-out work again with no gateway restarted', async () => {
    const [a, b, c] = [gw['gw-a']!, gw['gw-b']!, gw['gw-c']!];
    const agent = byOwner['gw-a'][1]!;
    const voiceTab = await openTab(b, agent);
    expect(voiceTab.of('session.ready')[0]?.data.isEnable).toBe(true);
    const watcher = await openTab(c, agent);
    const backend = await Tab.open(c.url, { domain: 'demo', apiKey: API_KEY }, { namespace: '/events' });
    tabs.add(backend);
    // A bridged call on B that goes on through the outage.
    const inCall = byOwner['gw-b'][1]!;
    const customer = lab.bot('0901000002');
    const call = customer.call(inCall);
    const accepted = await backend.waitFor((e) => e.type === 'call.accepted' && e.ipphone === inCall, 10_000);

    await redis.stop();
    const started = Date.now();
    const refused = await rest(a, 'POST', `/v1/demo/agents/${agent}/status`);
    expect(refused).toMatchObject({ status: 503, body: { code: 'COORDINATION_UNAVAILABLE' } });
    expect(Date.now() - started).toBeLessThan(2_000);
    const ready = await fetch(`${a.url}/ready`);
    expect(ready.status).toBe(503);
    // Past the lease, B fences its lines (no new calls) but the call's audio still flows.
    await b.waitForLog(new RegExp(`demo/${inCall}: lease not renewed in time; fenced`), 10_000);
    await customer.hears({ call, frequency: labTone('ipPhone', agents.indexOf(inCall)) });

    await redis.restart();
    // The empty Redis gets its state back from the instances: leases and the voice lock.
    await eventually(async () => (await fetch(`${a.url}/ready`)).status === 200, 15_000, 'A ready again');
    await ownedBy(c, 'gw-a', byOwner['gw-a'], 20_000);
    await ownedBy(a, 'gw-b', byOwner['gw-b'], 20_000);
    await ownedBy(a, 'gw-c', byOwner['gw-c'], 20_000);
    const view = await eventually(
      async () => {
        const body = (await rest(a, 'GET', `/v1/demo/agents/${agent}`)).body as {
          voice: { held: boolean };
          tabs: number;
        };
        return body.voice.held && body.tabs === 2 ? body : undefined;
      },
      15_000,
      'voice lock and presence written back',
    );
    expect(view.voice.held).toBe(true);
    // The call went on; A's command reaches B, its owner, and ends it.
    await b.waitForLog(new RegExp(`demo/${inCall}: lease renewed; serving again`), 10_000);
    await customer.hears({ call, frequency: labTone('ipPhone', agents.indexOf(inCall)) });
    const hung = await rest(a, 'POST', `/v1/demo/agents/${inCall}/calls/${accepted.callId ?? ''}/hangup`);
    expect(hung.status).toBe(200);
    const ended = await backend.waitFor(
      (e) => e.type === 'call.ended' && e.callId === accepted.callId,
      10_000,
    );
    expect(ended.data).toMatchObject({ cause: 'NORMAL_CLEARING', by: 'agent' });
    // Fan-out again: an event made on A reaches the tab on C.
    const before = watcher.of('agent.callStatus').length;
    await eventually(
      async () => {
        await toggle(a, agent);
        return watcher.of('agent.callStatus').length > before ? true : undefined;
      },
      15_000,
      'an event from A on C',
    );
    // A steal after the restart gets a larger fence than the one before it.
    const fence = voiceTab.of('session.ready')[0]?.data.voiceFence ?? 0;
    const stolen = await watcher.command('voice.enable', {});
    expect(stolen).toMatchObject({ ok: true, isEnable: true });
    expect(stolen.ok && stolen.fence).toBeGreaterThan(fence);
  }, 120_000);

  it('graceful shutdown of C with a bridged call: not ready, idle agents handed over at once, the call finishes, then C exits', async () => {
    const [a, b, c] = [gw['gw-a']!, gw['gw-b']!, gw['gw-c']!];
    const [busy, ...idle] = byOwner['gw-c'];
    const backend = await Tab.open(a.url, { domain: 'demo', apiKey: API_KEY }, { namespace: '/events' });
    tabs.add(backend);
    const customer = lab.bot('0901000002');
    const call = customer.call(busy!);
    await customer.waitFor('answered', { timeoutMs: 10_000 });
    const accepted = await backend.waitFor((e) => e.type === 'call.accepted' && e.ipphone === busy, 10_000);

    c.signal('SIGTERM');
    await c.waitForLog(/draining/, 5_000);
    expect((await fetch(`${c.url}/ready`)).status).toBe(503);
    // The idle agents move to the others while the call goes on.
    for (const ipphone of idle) {
      await eventually(
        async () => {
          const sip = await sipOf(a, ipphone);
          return sip?.registered && sip.owner !== 'gw-c' ? true : undefined;
        },
        15_000,
        `${ipphone} adopted`,
      );
    }
    await customer.hears({ call, frequency: labTone('ipPhone', agents.indexOf(busy!)) });
    await customer.hangup(call);
    const ended = await backend.waitFor(
      (e) => e.type === 'call.ended' && e.callId === accepted.callId,
      10_000,
    );
    expect(ended.data).toMatchObject({ cause: 'NORMAL_CLEARING', by: 'customer' });
    expect(await c.exited).toBe(0);
    delete gw['gw-c'];
    await eventually(
      async () => {
        const sip = await sipOf(b, busy!);
        return sip?.registered && sip.owner !== 'gw-c' ? true : undefined;
      },
      15_000,
      `${busy} adopted`,
    );
  }, 90_000);

  it('an owner frozen past its lease is replaced; resumed, it finds it lost and drops its agents; no call rings twice', async () => {
    const [a, b] = [gw['gw-a']!, gw['gw-b']!];
    const owned = byOwner['gw-b'];
    const target = owned[0]!;
    const phone = lab.bot(`${target}-desk`);
    const rings: string[] = [];
    phone.on('incoming', ({ call }) => rings.push(call.remote.user));

    b.signal('SIGSTOP');
    const frozenAt = Date.now();
    await ownedBy(a, 'gw-a', owned, 20_000);
    const adoptedAfterMs = Date.now() - frozenAt;
    expect(adoptedAfterMs).toBeGreaterThanOrEqual(LEASE_MS - 500);

    // While B is frozen, a call to the agent rings its phone once, through A.
    // The customer hangs up once it is answered: a hang-up while it still rings would be a CANCEL
    // that may cross the 200 OK, which a direct-media gateway sends as soon as the desk answers.
    const customer = lab.bot('0901000001');
    const firstAnswered = customer.waitFor('answered', { timeoutMs: 15_000 });
    const first = customer.call(target);
    await phone.waitFor('answered', { timeoutMs: 15_000 });
    await firstAnswered;
    await customer.hangup(first);
    expect(rings).toHaveLength(1);

    b.signal('SIGCONT');
    await b.waitForLog(/lease taken by another instance; dropping the line/, 10_000);
    await eventually(
      async () => {
        const health = (await (await fetch(`${b.url}/health`)).json()) as { lines: number };
        return health.lines === 0 ? true : undefined;
      },
      10_000,
      'B holds no line',
    );
    // Another call once B is back: still one ring, from A's line.
    const secondAnswered = customer.waitFor('answered', { timeoutMs: 15_000 });
    const second = customer.call(target);
    await phone.waitFor('answered', { timeoutMs: 15_000 });
    await secondAnswered;
    await customer.hangup(second);
    expect(rings).toHaveLength(2);
    expect(await sipOf(b, target)).toEqual({ registered: true, owner: 'gw-a' });
  }, 90_000);

  it('kill -9 of the owner of every agent: a survivor registers them all, each rings its IP phone, and a tab resumes there without loss', async () => {
    const [a, b] = [gw['gw-a']!, gw['gw-b']!];
    await ownedBy(b, 'gw-a', agents, 20_000);
    const agent = byOwner['gw-a'][2]!;
    const tab = await openTab(a, agent);
    // Two toggles before and two during the outage: the agent ends with its calls on.
    await toggle(a, agent);
    await toggle(a, agent);
    const seen = await tab.nth('agent.callStatus', 2, 5_000);
    // A call in progress whose media is on A.
    const backend = await Tab.open(b.url, { domain: 'demo', apiKey: API_KEY }, { namespace: '/events' });
    tabs.add(backend);
    const inCall = byOwner['gw-a'][3]!;
    const customerOfLost = lab.bot('0901000001');
    const lostCall = customerOfLost.call(inCall);
    const accepted = await backend.waitFor((e) => e.type === 'call.accepted' && e.ipphone === inCall, 10_000);

    a.signal('SIGKILL');
    const killedAt = Date.now();
    await tab.waitForDisconnect(15_000);
    await toggle(b, agent);
    await toggle(b, agent);
    await ownedBy(b, 'gw-b', agents, 30_000);
    const failoverMs = Date.now() - killedAt;
    console.log(`failover of ${agents.length} agents after kill -9: ${failoverMs} ms (lease ${LEASE_MS} ms)`);
    delete gw['gw-a'];
    // The adopter ends the call that died with A, with a clear cause.
    const lost = await backend.waitFor((e) => e.type === 'call.ended' && e.callId === accepted.callId, 5_000);
    expect(lost.data).toMatchObject({ cause: 'INSTANCE_LOST', by: 'system' });
    await customerOfLost.hangup(lostCall);

    const resumed = await openTab(b, agent, seen.id);
    const missed = await resumed.nth('agent.callStatus', 2, 5_000);
    expect(resumed.of('agent.callStatus').map((e) => e.id)).toHaveLength(2);
    expect(compareEventIds(missed.id, seen.id)).toBe(1);
    // Replayed: the two toggles, and the agent's registration on the adopter (agent.sip).
    expect(resumed.of('agent.sip').map((e) => e.data.state)).toContain('registered');
    expect(resumed.of('session.ready')[0]?.data.resumed).toMatchObject({
      replayed: 2 + resumed.of('agent.sip').length,
    });

    // A new customer call to each agent rings its IP-phone bot (refused at once, to stay quick).
    for (const ipphone of agents)
      lab.bot(`${ipphone}-desk`).setBehaviour({ incoming: { action: 'reject', statusCode: 486 } });
    const customer = lab.bot('0901000002');
    for (const ipphone of agents) {
      // Earlier tests toggled some agents' call status; calls reach an agent whose status is on.
      if ((await rest(b, 'GET', `/v1/demo/agents/${ipphone}`)).body.callStatus === 'off')
        await toggle(b, ipphone);
      const ringing = lab.bot(`${ipphone}-desk`).waitFor('incoming', { timeoutMs: 10_000 });
      const call = customer.call(ipphone);
      await ringing.catch(async (err: Error) => {
        const end = await call.terminated;
        const log = b
          .output()
          .split('\n')
          .filter((line) => line.includes(`demo/${ipphone}`));
        throw new Error(
          `${ipphone}: ${err.message}; call ended ${JSON.stringify(end)}\n${log.slice(-10).join('\n')}`,
        );
      });
      expect(await call.terminated).toMatchObject({ established: false, statusCode: 486 });
    }
  }, 180_000);
});

function flip(status: string): 'on' | 'off' {
  return status === 'on' ? 'off' : 'on';
}
