// One suite, two stores: every behaviour of the coordination library is checked against the
// in-memory store and against a real redis-server. Each test gets its own key prefix (and, in
// memory, its own backend); "instances" are separate Coordination handles on the same state, as
// gateway instances sharing one Redis are.
import { Redis } from 'ioredis';
import { CallgateError } from '@callgate/contracts';
import {
  compareEventIds,
  EVENT_ID_PATTERN,
  MemoryBackend,
  StaleLeaseError,
  createCoordination,
  type AgentRef,
  type AgentState,
  type Coordination,
  type CoordinationOptions,
  type VoiceHolder,
} from '@callgate/coordination';
import { freePort } from './support/ports.js';
import { startRedis, type RedisServer } from './support/redis-server.js';

const agent: AgentRef = { domain: 'acme.example', ipphone: '1001' };
const defaults: AgentState = { deviceType: 1, mobile: '13800000000', callStatus: 'on' };
const SHORT_LEASE_MS = 500;

interface Warning {
  msg: string;
  ctx?: object;
}

/** Poll `probe` until `done` holds for its value; fails after `timeoutMs`. */
async function waitFor<T>(
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 5_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`condition not met within ${timeoutMs} ms; last value ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Probe repeatedly for `windowMs`; every observed value must satisfy `holds`. */
async function holdsFor<T>(
  probe: () => Promise<T>,
  holds: (value: T) => boolean,
  windowMs: number,
): Promise<void> {
  const end = Date.now() + windowMs;
  while (Date.now() < end) {
    const value = await probe();
    if (!holds(value))
      throw new Error(`condition broke after ${windowMs - (end - Date.now())} ms: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe.each(['memory', 'redis'] as const)('%s coordination store', (kind) => {
  let server: RedisServer | undefined;
  let backend: MemoryBackend;
  let keyPrefix: string;
  let opened: Coordination[] = [];
  let warnings: Warning[] = [];
  let testNo = 0;

  beforeAll(async () => {
    if (kind === 'redis') server = await startRedis();
  });
  afterAll(async () => {
    await server?.stop();
  });
  beforeEach(() => {
    testNo += 1;
    keyPrefix = `test${testNo}:`;
    backend = new MemoryBackend();
  });
  afterEach(async () => {
    await Promise.all(opened.map((coordination) => coordination.close()));
    opened = [];
    expect(warnings).toEqual([]);
    warnings = [];
  });

  /** A gateway instance on this test's shared state. */
  async function instance(
    instanceId: string,
    options: Partial<CoordinationOptions> = {},
  ): Promise<Coordination> {
    const coordination = await createCoordination({
      instanceId,
      keyPrefix,
      redisUrl: server?.url,
      memoryBackend: backend,
      logger: { warn: (msg, ctx) => warnings.push({ msg, ctx }) },
      ...options,
    });
    opened.push(coordination);
    return coordination;
  }

  it(`is a ${kind} store that answers ping`, async () => {
    const a = await instance('gw-a');
    expect(a.kind).toBe(kind);
    expect(a.instanceId).toBe('gw-a');
    await expect(a.ping()).resolves.toBeUndefined();
  });

  describe('voice lock', () => {
    it('the first tab wins: acquireIfFree grants A, refuses B, and A is the holder', async () => {
      const a = await instance('gw-a');
      const first = await a.voice.acquireIfFree(agent, 'tab-A');
      expect(first).toEqual({ granted: true, holder: { tabId: 'tab-A', instanceId: 'gw-a', fence: 1 } });
      const second = await a.voice.acquireIfFree(agent, 'tab-B');
      expect(second).toEqual({ granted: false, holder: first.holder });
      await expect(a.voice.holder(agent)).resolves.toEqual(first.holder);
      await expect(a.voice.holder({ ...agent, ipphone: '1002' })).resolves.toBeNull();
    });

    it('steal moves the lock to the new tab, returns the holder it replaced, and grows the fence', async () => {
      const a = await instance('gw-a');
      const b = await instance('gw-b');
      const onFree = await a.voice.steal(agent, 'tab-A');
      expect(onFree.previous).toBeNull();
      const taken = await b.voice.steal(agent, 'tab-B');
      expect(taken.previous).toEqual(onFree.holder);
      expect(taken.holder).toEqual({ tabId: 'tab-B', instanceId: 'gw-b', fence: onFree.holder.fence + 1 });
      await expect(a.voice.holder(agent)).resolves.toEqual(taken.holder);
    });

    it('release frees the lock only when the caller holds it', async () => {
      const a = await instance('gw-a');
      const { holder } = await a.voice.acquireIfFree(agent, 'tab-A');
      await expect(a.voice.release(agent, 'tab-B')).resolves.toBe(false);
      await expect(a.voice.holder(agent)).resolves.toEqual(holder);
      await expect(a.voice.release(agent, 'tab-A')).resolves.toBe(true);
      await expect(a.voice.holder(agent)).resolves.toBeNull();
      await expect(a.voice.release(agent, 'tab-A')).resolves.toBe(false);
      const next = await a.voice.acquireIfFree(agent, 'tab-B');
      expect(next.granted).toBe(true);
    });

    it('50 tabs racing steal on two instances get distinct fences and one chain of handovers', async () => {
      const instances = [await instance('gw-a'), await instance('gw-b')];
      const grants = await Promise.all(
        Array.from({ length: 50 }, (_, i) => instances[i % 2]!.voice.steal(agent, `tab-${i}`)),
      );
      const fences = grants.map((grant) => grant.holder.fence);
      expect(new Set(fences).size).toBe(50);

      const byFence = [...grants].sort((x, y) => x.holder.fence - y.holder.fence);
      const last = byFence[byFence.length - 1]!;
      await expect(instances[0]!.voice.holder(agent)).resolves.toEqual(last.holder);
      // Replayed in fence order, each grant replaced exactly the grant before it: the lock went
      // from one holder to the next and never had two.
      let current: VoiceHolder | null = null;
      for (const grant of byFence) {
        expect(grant.previous).toEqual(current);
        current = grant.holder;
      }
    });

    it('checkFence refuses a stale fence and accepts the current one', async () => {
      const a = await instance('gw-a');
      const old = await a.voice.acquireIfFree(agent, 'tab-A');
      const now = await a.voice.steal(agent, 'tab-B');
      await expect(a.voice.checkFence(agent, 'tab-A', old.holder.fence)).resolves.toBe(false);
      await expect(a.voice.checkFence(agent, 'tab-B', old.holder.fence)).resolves.toBe(false);
      await expect(a.voice.checkFence(agent, 'tab-A', now.holder.fence)).resolves.toBe(false);
      await expect(a.voice.checkFence(agent, 'tab-B', now.holder.fence)).resolves.toBe(true);
      await a.voice.release(agent, 'tab-B');
      await expect(a.voice.checkFence(agent, 'tab-B', now.holder.fence)).resolves.toBe(false);
    });

    it('a lock outlives its lease while its instance renews it, and expires once the instance stops', async () => {
      const x = await instance('gw-x', { leaseMs: SHORT_LEASE_MS });
      const y = await instance('gw-y');
      const { holder } = await x.voice.acquireIfFree(agent, 'tab-X');
      await holdsFor(
        () => y.voice.holder(agent),
        (seen) => seen?.fence === holder.fence,
        3 * SHORT_LEASE_MS,
      );
      await x.close();
      await waitFor(
        () => y.voice.holder(agent),
        (seen) => seen === null,
        10 * SHORT_LEASE_MS,
      );
    });

    it('an instance whose lock was stolen stops renewing it', async () => {
      const x = await instance('gw-x', { leaseMs: SHORT_LEASE_MS });
      const y = await instance('gw-y', { leaseMs: SHORT_LEASE_MS });
      await x.voice.acquireIfFree(agent, 'tab-X');
      const stolen = await y.voice.steal(agent, 'tab-Y');
      await y.close();
      // x's renewals compare the exact grant, so they cannot keep y's grant alive.
      await waitFor(
        () => x.voice.holder(agent),
        (seen) => seen === null,
        10 * SHORT_LEASE_MS,
      );
      const next = await x.voice.acquireIfFree(agent, 'tab-X');
      expect(next.holder.fence).toBeGreaterThan(stolen.holder.fence);
    });

    it('fences keep growing after a lock expired: no token is reused', async () => {
      const x = await instance('gw-x', { leaseMs: SHORT_LEASE_MS });
      const y = await instance('gw-y');
      const first = await x.voice.acquireIfFree(agent, 'tab-X');
      await x.close();
      await waitFor(
        () => y.voice.holder(agent),
        (seen) => seen === null,
        10 * SHORT_LEASE_MS,
      );
      const second = await y.voice.acquireIfFree(agent, 'tab-Y');
      expect(second.granted).toBe(true);
      expect(second.holder.fence).toBeGreaterThan(first.holder.fence);
      await expect(y.voice.checkFence(agent, 'tab-X', first.holder.fence)).resolves.toBe(false);
    });

    it('agents do not share locks or fences', async () => {
      const a = await instance('gw-a');
      const other: AgentRef = { domain: 'other.example', ipphone: '1001' };
      await a.voice.steal(agent, 'tab-A');
      await a.voice.steal(agent, 'tab-B');
      const granted = await a.voice.acquireIfFree(other, 'tab-C');
      expect(granted).toEqual({ granted: true, holder: { tabId: 'tab-C', instanceId: 'gw-a', fence: 1 } });
    });
  });

  describe('presence', () => {
    it('join and leave return the live tab count', async () => {
      const a = await instance('gw-a');
      await expect(a.presence.count(agent)).resolves.toBe(0);
      await expect(a.presence.join(agent, 'tab-1')).resolves.toBe(1);
      await expect(a.presence.join(agent, 'tab-2')).resolves.toBe(2);
      await expect(a.presence.join(agent, 'tab-1')).resolves.toBe(2);
      await expect(a.presence.leave(agent, 'tab-1')).resolves.toBe(1);
      await expect(a.presence.count(agent)).resolves.toBe(1);
      await expect(a.presence.leave(agent, 'tab-2')).resolves.toBe(0);
      await expect(a.presence.leave(agent, 'tab-unknown')).resolves.toBe(0);
    });

    it("two instances' tabs are counted together, and counts() reports several agents at once", async () => {
      const a = await instance('gw-a');
      const b = await instance('gw-b');
      await a.presence.join(agent, 'tab-1');
      await expect(b.presence.join(agent, 'tab-2')).resolves.toBe(2);
      await b.presence.join({ domain: agent.domain, ipphone: '1002' }, 'tab-3');
      await a.presence.join({ domain: 'other.example', ipphone: '1003' }, 'tab-4');
      const counts = await a.presence.counts(agent.domain, ['1001', '1002', '1003']);
      expect(counts).toEqual(
        new Map([
          ['1001', 2],
          ['1002', 1],
          ['1003', 0],
        ]),
      );
      await expect(a.presence.counts(agent.domain, [])).resolves.toEqual(new Map());
    });

    it('the entries of a closed instance expire; the others stay while renewed', async () => {
      const x = await instance('gw-x', { leaseMs: SHORT_LEASE_MS });
      const y = await instance('gw-y', { leaseMs: SHORT_LEASE_MS });
      await x.presence.join(agent, 'tab-X');
      await y.presence.join(agent, 'tab-Y');
      await holdsFor(
        () => y.presence.count(agent),
        (count) => count === 2,
        3 * SHORT_LEASE_MS,
      );
      await x.close();
      await waitFor(
        () => y.presence.count(agent),
        (count) => count === 1,
        10 * SHORT_LEASE_MS,
      );
      await holdsFor(
        () => y.presence.count(agent),
        (count) => count === 1,
        2 * SHORT_LEASE_MS,
      );
    });
  });

  describe('agent state', () => {
    it('an agent never written reads as the defaults', async () => {
      const a = await instance('gw-a');
      await expect(a.agents.get(agent, defaults)).resolves.toEqual(defaults);
    });

    it('setDevice replaces type and mobile together and keeps the call status', async () => {
      const a = await instance('gw-a');
      const b = await instance('gw-b');
      await expect(
        a.agents.setDevice(agent, { deviceType: 3, mobile: '13911112222' }, defaults),
      ).resolves.toEqual({
        deviceType: 3,
        mobile: '13911112222',
        callStatus: 'on',
      });
      await expect(b.agents.get(agent, defaults)).resolves.toEqual({
        deviceType: 3,
        mobile: '13911112222',
        callStatus: 'on',
      });
      const browser = await b.agents.setDevice(agent, { deviceType: 1 }, defaults);
      expect(browser).toEqual({ deviceType: 1, callStatus: 'on' });
      await expect(a.agents.get(agent, defaults)).resolves.toEqual(browser);
    });

    it('setCallStatus noAnswer is seen by every instance; toggleCallStatus from noAnswer goes back to on', async () => {
      const [a, b] = [await instance('gw-a'), await instance('gw-b')];
      await a.agents.setCallStatus(agent, 'noAnswer');
      await expect(b.agents.get(agent, defaults)).resolves.toMatchObject({ callStatus: 'noAnswer' });
      await expect(b.agents.toggleCallStatus(agent, defaults)).resolves.toBe('on');
      await expect(a.agents.get(agent, defaults)).resolves.toMatchObject({ callStatus: 'on' });
    });

    it('toggleCallStatus is atomic: 20 concurrent toggles on two instances end where they started', async () => {
      const instances = [await instance('gw-a'), await instance('gw-b')];
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => instances[i % 2]!.agents.toggleCallStatus(agent, defaults)),
      );
      expect(results.filter((status) => status === 'off')).toHaveLength(10);
      expect(results.filter((status) => status === 'on')).toHaveLength(10);
      await expect(instances[0]!.agents.get(agent, defaults)).resolves.toEqual(defaults);
      await expect(instances[0]!.agents.toggleCallStatus(agent, defaults)).resolves.toBe('off');
      await expect(instances[1]!.agents.get(agent, defaults)).resolves.toEqual({
        ...defaults,
        callStatus: 'off',
      });
    });

    it('getMany reads several agents at once, with defaults for those never written', async () => {
      const a = await instance('gw-a');
      const other: AgentState = { deviceType: 4, callStatus: 'off' };
      await a.agents.setDevice(agent, { deviceType: 2 }, defaults);
      await a.agents.toggleCallStatus({ domain: agent.domain, ipphone: '1003' }, other);
      const states = await a.agents.getMany(
        agent.domain,
        new Map([
          ['1001', defaults],
          ['1002', other],
          ['1003', other],
        ]),
      );
      expect(states).toEqual(
        new Map<string, AgentState>([
          ['1001', { deviceType: 2, callStatus: 'on' }],
          ['1002', other],
          ['1003', { deviceType: 4, callStatus: 'on' }],
        ]),
      );
      await expect(a.agents.getMany(agent.domain, new Map())).resolves.toEqual(new Map());
    });
  });

  describe('event log', () => {
    it('ids strictly increase per domain: 100 concurrent appends on two instances', async () => {
      const instances = [await instance('gw-a'), await instance('gw-b')];
      const ids = await Promise.all(
        Array.from({ length: 100 }, (_, i) => instances[i % 2]!.events.append(agent.domain, `{"n":${i}}`)),
      );
      expect(ids.every((id) => EVENT_ID_PATTERN.test(id))).toBe(true);
      expect(new Set(ids).size).toBe(100);
      const later = await instances[1]!.events.append(agent.domain, '{"n":100}');
      expect(ids.every((id) => compareEventIds(id, later) < 0)).toBe(true);
    });

    it('since() returns what followed an id, in order, from any instance', async () => {
      const a = await instance('gw-a');
      const b = await instance('gw-b');
      const first = await a.events.append(agent.domain, 'one');
      await b.events.append(agent.domain, 'two');
      await a.events.append(agent.domain, 'three');
      const missed = await b.events.since(agent.domain, first, 100);
      expect(missed).toEqual({
        gap: false,
        events: [expect.objectContaining({ body: 'two' }), expect.objectContaining({ body: 'three' })],
      });
      expect((await a.events.since(agent.domain, first, 1)).events.map((e) => e.body)).toEqual(['two']);
      expect(await a.events.since('other.example', '0-0', 10)).toEqual({ events: [], gap: false });
    });

    it('reports a gap when what followed an id was trimmed, or the id is unknown or malformed', async () => {
      const a = await instance('gw-a', { eventLogMaxLen: 5 });
      const first = await a.events.append(agent.domain, 'e0');
      for (let i = 1; i < 300; i++) await a.events.append(agent.domain, `e${i}`);
      const old = await a.events.since(agent.domain, first, 10);
      expect(old.gap).toBe(true);
      const recent = await a.events.since(
        agent.domain,
        (await a.events.since(agent.domain, first, 1000)).events.at(-2)!.id,
        10,
      );
      expect(recent).toMatchObject({ gap: false, events: [{ body: 'e299' }] });
      expect((await a.events.since(agent.domain, 'not-an-id', 10)).gap).toBe(true);
      expect((await a.events.since(agent.domain, '99999999999999-0', 10)).gap).toBe(true);
    });

    it('since(overlapMs) also returns the events of that much stream time before the resume point, for the domain and the agent', async () => {
      const a = await instance('gw-a');
      const b = await instance('gw-b');
      const old = await a.events.append(agent.domain, 'old', agent.ipphone);
      // the next events are at least 50 ms of stream time after `old` (ids are `<ms>-<seq>`)
      const ms = (id: string) => Number(id.split('-')[0]);
      let n = await b.events.append(agent.domain, 'n', agent.ipphone);
      while (ms(n) < ms(old) + 50) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        n = await b.events.append(agent.domain, 'n', agent.ipphone);
      }
      await a.events.append(agent.domain, 'other', '1999');
      const newer = await a.events.append(agent.domain, 'n+1', agent.ipphone);
      const last = await b.events.append(agent.domain, 'last', agent.ipphone);
      const bodies = (r: { events: { body: string }[] }) => r.events.map((e) => e.body);

      // A subscriber that got n+1 (live, before n) resumes after it: n comes back, n+1 does not.
      const domain = await b.events.since(agent.domain, newer, 100, { overlapMs: 40 });
      expect(domain.gap).toBe(false);
      expect(bodies(domain).slice(-3)).toEqual(['n', 'other', 'last']);
      expect(bodies(domain)).not.toContain('old'); // before the window
      expect(bodies(domain)).not.toContain('n+1'); // the resume point itself
      const partition = await a.events.sinceForAgent(agent, newer, 100, { overlapMs: 40 });
      expect(partition.gap).toBe(false);
      expect(bodies(partition).slice(-2)).toEqual(['n', 'last']);
      expect(bodies(partition)).not.toContain('other');
      expect(bodies(partition)).not.toContain('old');
      expect(partition.events.map((e) => e.id)).toEqual(
        [...partition.events.map((e) => e.id)].sort(compareEventIds),
      );
      // A wide window reaches `old`; the window keeps the most recent `limit` events before the point.
      expect(bodies(await a.events.sinceForAgent(agent, newer, 100, { overlapMs: 60_000 }))[0]).toBe('old');
      expect(bodies(await a.events.since(agent.domain, newer, 1, { overlapMs: 60_000 }))).toEqual([
        'other',
        'last',
      ]);
      // No window without overlapMs (or 0), nor from the very start; a bad overlap is refused.
      expect(bodies(await a.events.since(agent.domain, newer, 100))).toEqual(['last']);
      expect(bodies(await a.events.since(agent.domain, newer, 100, { overlapMs: 0 }))).toEqual(['last']);
      expect(bodies(await a.events.sinceForAgent(agent, '0-0', 1, { overlapMs: 5000 }))).toEqual(['old']);
      await expect(a.events.since(agent.domain, newer, 100, { overlapMs: -1 })).rejects.toThrow(RangeError);
      const atEnd = await a.events.since(agent.domain, last, 100, { overlapMs: 5000 });
      expect(atEnd.gap).toBe(false);
      expect(atEnd.events.at(-1)?.id).toBe(newer); // nothing after the last id: only the window
    });

    it('with overlapMs, the gap still judges the resume point, not the window start', async () => {
      const a = await instance('gw-a', { eventLogMaxLen: 5 });
      const first = await a.events.append(agent.domain, 'e0');
      for (let i = 1; i < 300; i++) await a.events.append(agent.domain, `e${i}`);
      expect((await a.events.since(agent.domain, first, 10, { overlapMs: 5000 })).gap).toBe(true);
      const kept = (await a.events.since(agent.domain, '0-0', 1000)).events;
      const point = kept.at(-2)!.id;
      // The window's start (5 s back) was trimmed long ago; what followed the point was not.
      const resumed = await a.events.since(agent.domain, point, 1000, { overlapMs: 5000 });
      expect(resumed.gap).toBe(false);
      expect(resumed.events.at(-1)).toMatchObject({ body: 'e299' });
      expect(resumed.events.map((e) => e.id)).toEqual(kept.filter((e) => e.id !== point).map((e) => e.id));
      expect((await a.events.since(agent.domain, '99999999999999-0', 10, { overlapMs: 5000 })).gap).toBe(
        true,
      );
    });
  });

  describe('logins', () => {
    it('a logout is known to every instance until its ttl runs out', async () => {
      const a = await instance('gw-a');
      const b = await instance('gw-b');
      await a.logins.revoke(agent, 1_234_567, 400);
      await expect(b.logins.revokedAt(agent)).resolves.toBe(1_234_567);
      await expect(b.logins.revokedAt({ ...agent, ipphone: '5999' })).resolves.toBeUndefined();
      await expect(b.logins.revokedAt({ ...agent, domain: 'other.example' })).resolves.toBeUndefined();
      await waitFor(
        () => b.logins.revokedAt(agent),
        (at) => at === undefined,
        3_000,
      );
    });

    it('revoke refuses a ttl that is not a positive integer', async () => {
      const a = await instance('gw-a');
      await expect(a.logins.revoke(agent, Date.now(), 0)).rejects.toThrow(RangeError);
    });
  });

  describe('agent leases', () => {
    it('the first claim wins, with epoch 1; the holder claims again as it is; others are refused', async () => {
      const a = await instance('gw-a');
      const b = await instance('gw-b');
      await expect(a.leases.claim(agent)).resolves.toEqual({
        granted: true,
        lease: { owner: 'gw-a', epoch: 1 },
        lostCall: null,
      });
      await expect(a.leases.claim(agent)).resolves.toMatchObject({ granted: true, lease: { epoch: 1 } });
      await expect(b.leases.claim(agent)).resolves.toEqual({
        granted: false,
        lease: { owner: 'gw-a', epoch: 1 },
        lostCall: null,
      });
      const owners = await b.leases.owners(agent.domain, [agent.ipphone, '1002']);
      expect([...owners]).toEqual([[agent.ipphone, { owner: 'gw-a', epoch: 1 }]]);
    });

    it('a lease not renewed expires; the adopter gets a new epoch and the call left behind, once', async () => {
      const a = await instance('gw-a', { leaseMs: SHORT_LEASE_MS });
      const b = await instance('gw-b', { leaseMs: SHORT_LEASE_MS });
      const { lease } = await a.leases.claim(agent);
      await expect(a.leases.recordCall(agent, lease.epoch, '{"callId":"c-1"}')).resolves.toBe(true);
      await expect(b.leases.recordCall(agent, lease.epoch, '{"callId":"forged"}')).resolves.toBe(false);
      const adopted = await waitFor(
        () => b.leases.claim(agent),
        (claim) => claim.granted,
        10 * SHORT_LEASE_MS,
      );
      expect(adopted).toEqual({
        granted: true,
        lease: { owner: 'gw-b', epoch: 2 },
        lostCall: '{"callId":"c-1"}',
      });
      // The old owner's renewal learns it lost; its release and records are refused.
      await expect(a.leases.renew([{ agent, epoch: 1 }])).resolves.toEqual(['lost']);
      await expect(a.leases.release(agent, 1)).resolves.toBe(false);
      await expect(a.leases.recordCall(agent, 1, '{"callId":"late"}')).resolves.toBe(false);
      await expect(b.leases.release(agent, 2)).resolves.toBe(true);
      await expect(a.leases.claim(agent)).resolves.toMatchObject({
        granted: true,
        lease: { epoch: 3 },
        lostCall: null,
      });
    });

    it('renew extends a current lease, and writes back one the store lost while nobody took it', async () => {
      const a = await instance('gw-a', { leaseMs: SHORT_LEASE_MS });
      const other = { ...agent, ipphone: '1002' };
      const first = await a.leases.claim(agent);
      const second = await a.leases.claim(other);
      await expect(
        a.leases.renew([
          { agent, epoch: first.lease.epoch },
          { agent: other, epoch: second.lease.epoch },
        ]),
      ).resolves.toEqual(['renewed', 'renewed']);
      await waitFor(
        () => a.leases.owners(agent.domain, [agent.ipphone]),
        (owners) => owners.size === 0,
        10 * SHORT_LEASE_MS,
      );
      await expect(a.leases.renew([{ agent, epoch: first.lease.epoch }])).resolves.toEqual(['reasserted']);
      const owners = await a.leases.owners(agent.domain, [agent.ipphone]);
      expect(owners.get(agent.ipphone)).toEqual({ owner: 'gw-a', epoch: first.lease.epoch });
    });

    it('an event conditional on a lease is stored while no later grant exists, and refused (nothing stored) once one does', async () => {
      const a = await instance('gw-a', { leaseMs: SHORT_LEASE_MS });
      const b = await instance('gw-b', { leaseMs: SHORT_LEASE_MS });
      const { lease } = await a.leases.claim(agent);
      const held = await a.events.append(agent.domain, 'held', agent.ipphone, { epoch: lease.epoch });
      // Lapsed but not claimed by anyone: still the latest grant (its renewal would write it back).
      await waitFor(
        () => a.leases.owners(agent.domain, [agent.ipphone]),
        (owners) => owners.size === 0,
        10 * SHORT_LEASE_MS,
      );
      const lapsed = await a.events.append(agent.domain, 'lapsed', agent.ipphone, { epoch: lease.epoch });
      // Its call is recorded under the same condition, so the adopter learns of it.
      await expect(a.leases.recordCall(agent, lease.epoch, '{"callId":"c-1"}')).resolves.toBe(true);
      await expect(b.leases.claim(agent)).resolves.toMatchObject({
        granted: true,
        lease: { epoch: 2 },
        lostCall: '{"callId":"c-1"}',
      });
      await expect(a.leases.recordCall(agent, lease.epoch, '{"callId":"c-late"}')).resolves.toBe(false);
      const refusal = await a.events
        .append(agent.domain, 'stale', agent.ipphone, { epoch: lease.epoch, endsCall: true })
        .then(
          () => null,
          (err: unknown) => err,
        );
      expect(refusal).toBeInstanceOf(StaleLeaseError);
      expect(refusal).toMatchObject({ epoch: 1, current: 2 });
      // ... also once the later grant itself lapsed: its epoch stays the latest.
      await waitFor(
        () => a.leases.owners(agent.domain, [agent.ipphone]),
        (owners) => owners.size === 0,
        10 * SHORT_LEASE_MS,
      );
      await expect(
        a.events.append(agent.domain, 'stale again', agent.ipphone, { epoch: lease.epoch }),
      ).rejects.toBeInstanceOf(StaleLeaseError);
      const current = await b.events.append(agent.domain, 'current', agent.ipphone, { epoch: 2 });
      const stored = [held, lapsed, current];
      const domainLog = await b.events.since(agent.domain, '0-0', 100);
      expect(domainLog.events.map((e) => [e.id, e.body])).toEqual([
        [held, 'held'],
        [lapsed, 'lapsed'],
        [current, 'current'],
      ]);
      const partition = await b.events.sinceForAgent(agent, '0-0', 100);
      expect(partition.events.map((e) => e.id)).toEqual(stored);
      // A condition needs the agent it is about.
      await expect(a.events.append(agent.domain, 'x', undefined, { epoch: 2 })).rejects.toBeInstanceOf(
        RangeError,
      );
    });

    it("an event ending the call clears the lease's call record in the same step; a refused one clears nothing", async () => {
      const a = await instance('gw-a', { leaseMs: SHORT_LEASE_MS });
      const b = await instance('gw-b', { leaseMs: SHORT_LEASE_MS });
      const c = await instance('gw-c', { leaseMs: SHORT_LEASE_MS });
      const first = await a.leases.claim(agent);
      await a.leases.recordCall(agent, first.lease.epoch, '{"callId":"c-1"}');
      // Not an end: the record stays.
      await a.events.append(agent.domain, 'held', agent.ipphone, { epoch: first.lease.epoch });
      await a.events.append(agent.domain, 'ended', agent.ipphone, {
        epoch: first.lease.epoch,
        endsCall: true,
      });
      const adopted = await waitFor(
        () => b.leases.claim(agent),
        (claim) => claim.granted,
        10 * SHORT_LEASE_MS,
      );
      expect(adopted).toEqual({ granted: true, lease: { owner: 'gw-b', epoch: 2 }, lostCall: null });
      // B's call in progress survives A's stale end.
      await b.leases.recordCall(agent, 2, '{"callId":"c-2"}');
      await expect(
        a.events.append(agent.domain, 'stale end', agent.ipphone, { epoch: 1, endsCall: true }),
      ).rejects.toBeInstanceOf(StaleLeaseError);
      const third = await waitFor(
        () => c.leases.claim(agent),
        (claim) => claim.granted,
        10 * SHORT_LEASE_MS,
      );
      expect(third).toEqual({
        granted: true,
        lease: { owner: 'gw-c', epoch: 3 },
        lostCall: '{"callId":"c-2"}',
      });
    });
  });

  describe('cluster', () => {
    it('heartbeat lists the live instances; one that leaves or stops beating drops out', async () => {
      const a = await instance('gw-a', { leaseMs: SHORT_LEASE_MS });
      const b = await instance('gw-b', { leaseMs: SHORT_LEASE_MS });
      const c = await instance('gw-c', { leaseMs: SHORT_LEASE_MS });
      await a.cluster.heartbeat();
      await c.cluster.heartbeat();
      await expect(b.cluster.heartbeat()).resolves.toEqual(['gw-a', 'gw-b', 'gw-c']);
      await c.cluster.leave();
      await expect(b.cluster.heartbeat()).resolves.toEqual(['gw-a', 'gw-b']);
      await waitFor(
        () => b.cluster.heartbeat(),
        (ids) => ids.length === 1,
        10 * SHORT_LEASE_MS,
      );
      await expect(b.cluster.heartbeat()).resolves.toEqual(['gw-b']);
    });

    it('a request reaches the named instance and its answer or error comes back', async () => {
      const a = await instance('gw-a');
      const b = await instance('gw-b');
      b.cluster.serve((body) => {
        if (body === 'boom') return Promise.reject(new CallgateError('NOT_IN_A_CALL', 'no call here'));
        return Promise.resolve(`b got ${body}`);
      });
      await expect(a.cluster.request('gw-b', 'hello', 2_000)).resolves.toBe('b got hello');
      await expect(a.cluster.request('gw-b', 'boom', 2_000)).rejects.toMatchObject({
        code: 'NOT_IN_A_CALL',
        message: 'no call here',
      });
    });

    it('a request to an instance that does not listen fails at once; one not answered, after its timeout', async () => {
      const a = await instance('gw-a');
      const b = await instance('gw-b');
      b.cluster.serve(() => new Promise<string>(() => undefined));
      let started = Date.now();
      await expect(a.cluster.request('gw-nobody', 'x', 5_000)).rejects.toMatchObject({
        code: 'INSTANCE_UNREACHABLE',
      });
      expect(Date.now() - started).toBeLessThan(1_000);
      started = Date.now();
      await expect(a.cluster.request('gw-b', 'x', 300)).rejects.toMatchObject({
        code: 'INSTANCE_UNREACHABLE',
      });
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    });
  });

  describe('pending transfers', () => {
    const target: AgentRef = { domain: 'acme.example', ipphone: '1002' };

    it('a target is reserved for one transfer across instances until its home finishes it', async () => {
      const [a, b] = [await instance('gw-a'), await instance('gw-b')];
      expect(await a.transfers.reserve(target, 't1', '{"state":"pending"}')).toEqual({ reserved: true });
      expect(await b.transfers.reserve(target, 't2', '{}')).toEqual({ reserved: false, holder: 't1' });
      expect(await b.transfers.reservedBy(target)).toBe('t1');
      expect(await b.transfers.update('t1', 'x')).toBe(false);
      expect(await b.transfers.finish('t1', target)).toBe(false);
      expect(await a.transfers.update('t1', '{"state":"accepted"}')).toBe(true);
      expect(await a.transfers.renew(['t1', 'nope'])).toEqual([true, false]);
      expect(await a.transfers.finish('t1', target)).toBe(true);
      expect(await b.transfers.reservedBy(target)).toBeNull();
      expect(await b.transfers.reserve(target, 't2', '{}')).toEqual({ reserved: true });
    });

    it('a transfer not renewed within the lease is an orphan that exactly one instance adopts', async () => {
      const options = { leaseMs: SHORT_LEASE_MS };
      const [a, b, c] = [
        await instance('gw-a', options),
        await instance('gw-b', options),
        await instance('gw-c', options),
      ];
      await a.transfers.reserve(target, 't1', 'body');
      expect(await b.transfers.orphans()).toEqual([]);
      const orphans = await waitFor(
        () => b.transfers.orphans(),
        (found) => found.length > 0,
      );
      expect(orphans).toEqual([{ transferId: 't1', target, home: 'gw-a', body: 'body' }]);
      expect(await c.transfers.reserve(target, 't2', '{}')).toEqual({ reserved: false, holder: 't1' });
      const adopted = await Promise.all([b.transfers.adopt('t1'), c.transfers.adopt('t1')]);
      expect(adopted.filter((x) => x !== null)).toHaveLength(1);
      const winner = adopted[0] === null ? c : b;
      expect(adopted.find((x) => x !== null)).toEqual({
        transferId: 't1',
        target,
        home: winner.instanceId,
        body: 'body',
      });
      expect(await a.transfers.renew(['t1'])).toEqual([false]);
      expect(await a.transfers.finish('t1', target)).toBe(false);
      expect(await winner.transfers.renew(['t1'])).toEqual([true]);
      expect(await winner.transfers.finish('t1', target)).toBe(true);
      expect(await a.transfers.reservedBy(target)).toBeNull();
    });
  });

  describe('lifecycle', () => {
    it('close() is idempotent and later calls reject with COORDINATION_UNAVAILABLE', async () => {
      const a = await instance('gw-a');
      await a.voice.acquireIfFree(agent, 'tab-A');
      await Promise.all([a.close(), a.close()]);
      await expect(a.close()).resolves.toBeUndefined();
      await expect(a.voice.steal(agent, 'tab-B')).rejects.toMatchObject({ code: 'COORDINATION_UNAVAILABLE' });
      await expect(a.ping()).rejects.toMatchObject({ code: 'COORDINATION_UNAVAILABLE' });
    });

    it('close() does not release the locks and presence of the instance', async () => {
      const a = await instance('gw-a');
      const b = await instance('gw-b');
      const { holder } = await a.voice.acquireIfFree(agent, 'tab-A');
      await a.presence.join(agent, 'tab-A');
      await a.close();
      await expect(b.voice.holder(agent)).resolves.toEqual(holder);
      await expect(b.presence.count(agent)).resolves.toBe(1);
    });

    it('invalid options are refused', async () => {
      await expect(instance('gw-a', { leaseMs: 0 })).rejects.toThrow(RangeError);
      await expect(instance('')).rejects.toThrow(RangeError);
    });
  });
});

describe('redis store: round trips and outages', () => {
  let server: RedisServer;
  let warnings: Warning[] = [];
  const logger = { warn: (msg: string, ctx?: object) => warnings.push({ msg, ctx }) };

  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server.stop();
  });
  beforeEach(() => {
    warnings = [];
  });

  /** Calls per command since the server started, from INFO commandstats. */
  async function commandCalls(): Promise<Map<string, number>> {
    const admin = new Redis(server.url, { lazyConnect: true });
    try {
      await admin.connect();
      const info = await admin.info('commandstats');
      const calls = new Map<string, number>();
      for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm))
        calls.set(match[1]!, Number(match[2]));
      return calls;
    } finally {
      await admin.quit();
    }
  }

  it('steal and acquireIfFree take one round trip each (one EVALSHA)', async () => {
    const a = await createCoordination({
      instanceId: 'gw-a',
      redisUrl: server.url,
      keyPrefix: 'rt:',
      logger,
    });
    try {
      await a.voice.steal(agent, 'warm-up'); // the connection's first use of the script sends EVAL
      await a.voice.acquireIfFree({ ...agent, ipphone: 'warm-up' }, 'warm-up');
      const before = await commandCalls();
      for (let i = 0; i < 10; i++) await a.voice.steal(agent, `tab-${i}`);
      for (let i = 0; i < 10; i++) await a.voice.acquireIfFree({ ...agent, ipphone: `free-${i}` }, 'tab');
      const after = await commandCalls();
      const delta = (name: string): number => (after.get(name) ?? 0) - (before.get(name) ?? 0);
      expect(delta('evalsha')).toBe(20);
      expect(delta('eval')).toBe(0);
    } finally {
      await a.close();
    }
    expect(warnings).toEqual([]);
  });

  it('createCoordination rejects within 2 s when nothing listens at the Redis URL', async () => {
    const port = await freePort();
    const started = Date.now();
    const failure = createCoordination({ instanceId: 'gw-a', redisUrl: `redis://127.0.0.1:${port}`, logger });
    await expect(failure).rejects.toMatchObject({ code: 'COORDINATION_UNAVAILABLE' });
    await expect(failure).rejects.toThrow('ECONNREFUSED');
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(warnings).toEqual([]);
  });

  it('an instance that dies leaves only its fence counters (and the store mark) behind once its leases run out', async () => {
    const x = await createCoordination({
      instanceId: 'gw-x',
      redisUrl: server.url,
      keyPrefix: 'gone:',
      leaseMs: SHORT_LEASE_MS,
      logger,
    });
    await x.voice.acquireIfFree(agent, 'tab-X');
    await x.presence.join(agent, 'tab-X');
    await x.close();
    const admin = new Redis(server.url, { lazyConnect: true });
    try {
      await admin.connect();
      await waitFor(
        () => admin.keys('gone:*'),
        (keys) => keys.length === 2,
        10 * SHORT_LEASE_MS,
      );
      // The store mark stays by design: a store found without it lost its data (a Redis restart).
      expect((await admin.keys('gone:*')).sort()).toEqual([
        'gone:store',
        'gone:voice:fence:acme.example:1001',
      ]);
    } finally {
      await admin.quit();
    }
  });

  it('voice-lock calls reject within 2 s while Redis is down, and work again once it is back', async () => {
    const own = await startRedis();
    const a = await createCoordination({
      instanceId: 'gw-a',
      redisUrl: own.url,
      leaseMs: SHORT_LEASE_MS,
      logger,
    });
    try {
      await a.voice.acquireIfFree(agent, 'tab-A');
      await own.stop();

      let started = Date.now();
      await expect(a.voice.steal(agent, 'tab-B')).rejects.toMatchObject({ code: 'COORDINATION_UNAVAILABLE' });
      expect(Date.now() - started).toBeLessThan(3_000);
      started = Date.now();
      await expect(a.voice.acquireIfFree(agent, 'tab-B')).rejects.toMatchObject({
        code: 'COORDINATION_UNAVAILABLE',
      });
      expect(Date.now() - started).toBeLessThan(3_000);
      // The background renewal fails too; it is logged and retried, not thrown.
      await waitFor(
        () => Promise.resolve(warnings.map((warning) => warning.msg)),
        (msgs) => msgs.includes('renewal failed; retrying next tick'),
      );

      await own.restart();
      await waitFor(
        () =>
          a.ping().then(
            () => true,
            () => false,
          ),
        (up) => up,
      );
      // The restarted server is empty: the holder's renewal writes its lock back (with its fence)
      // rather than the lock being taken as free, and a later grant gets a larger fence.
      const held = await waitFor(
        () => a.voice.holder(agent),
        (holder) => holder !== null,
      );
      expect(held).toMatchObject({ tabId: 'tab-A', fence: 1 });
      await expect(a.voice.acquireIfFree(agent, 'tab-B')).resolves.toMatchObject({ granted: false });
      await expect(a.voice.steal(agent, 'tab-B')).resolves.toMatchObject({ holder: { fence: 2 } });
      expect(warnings.map((warning) => warning.msg)).toEqual(
        expect.arrayContaining(['redis connection lost', 'redis connection restored']),
      );
    } finally {
      await a.close();
      await own.stop();
    }
  });

  it('close() while Redis is down ends without waiting for it', async () => {
    const own = await startRedis();
    const a = await createCoordination({ instanceId: 'gw-a', redisUrl: own.url, logger });
    await own.stop();
    await waitFor(
      () =>
        a.ping().then(
          () => true,
          () => false,
        ),
      (up) => !up,
    );
    await expect(a.close()).resolves.toBeUndefined();
  });
});

// Soak anomaly (two tabs of one agent both holding voice just after a Redis restart): the empty
// Redis had no voice lock until the holder's next renewal tick (a third of the lease later), so a
// tab connecting meanwhile through another instance was granted voice too.
describe('redis coordination store restarted under a held voice lock', () => {
  let server: RedisServer | undefined;
  const opened: Coordination[] = [];
  const warnings: string[] = [];
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await Promise.all(opened.map((coordination) => coordination.close()));
    await server?.stop();
  });

  it('the holder writes its lock back as soon as it reconnects, not at its next tick: a later tab is refused', async () => {
    const open = async (instanceId: string): Promise<Coordination> => {
      const coordination = await createCoordination({
        instanceId,
        keyPrefix: 'restart:',
        redisUrl: server?.url,
        // renewed every 20 s: the timer alone cannot write the lock back within this test's bound
        leaseMs: 60_000,
        logger: { warn: (msg) => warnings.push(`${instanceId}: ${msg}`) },
      });
      opened.push(coordination);
      return coordination;
    };
    const a = await open('gw-a');
    const b = await open('gw-b');
    const held = await a.voice.acquireIfFree(agent, 'tab-A');
    expect(held.granted).toBe(true);
    await server?.restart();
    // Back in the store without any tick, within the reconnect back-off (at most 1 s) plus load.
    const seen = await waitFor(
      () => b.voice.holder(agent).catch(() => 'down' as const),
      (holder) => holder !== 'down' && holder !== null,
      10_000,
    );
    expect(seen).toEqual(held.holder);
    // A tab connecting now through another instance does not take voice, and the fence held.
    await expect(b.voice.acquireIfFree(agent, 'tab-B')).resolves.toEqual({
      granted: false,
      holder: held.holder,
    });
    await expect(a.voice.checkFence(agent, 'tab-A', held.holder.fence)).resolves.toBe(true);
    expect(warnings).toContain('gw-a: voice lock was gone from Redis; written back');
  }, 60_000);

  it('a store that lost all its data grants no voice until held locks are back: a new tab is refused, a steal sees the old holder', async () => {
    const open = async (instanceId: string): Promise<Coordination> => {
      const coordination = await createCoordination({
        instanceId,
        keyPrefix: 'loss:',
        redisUrl: server?.url,
        leaseMs: 900, // renewed every 300 ms; the quiet window is 900 ms
        logger: { warn: (msg) => warnings.push(`${instanceId}: ${msg}`) },
      });
      opened.push(coordination);
      return coordination;
    };
    const a = await open('gw-a');
    const b = await open('gw-b');
    const reported: VoiceHolder[] = [];
    a.voice.onLostToReset((_agent, lost) => reported.push(lost));
    const held = await a.voice.acquireIfFree(agent, 'tab-A');
    expect(held.granted).toBe(true);
    // What a Redis restart without persistence leaves: no key of ours at all (the connections
    // stay up here, so A writes its lock back at its next renewal, within 300 ms).
    const emptyStore = async (): Promise<void> => {
      const raw = new Redis(server?.url ?? '');
      try {
        const keys = await raw.keys('loss:*');
        expect(keys).toContain('loss:store');
        await raw.del(...keys);
      } finally {
        await raw.quit();
      }
    };
    await emptyStore();
    await expect(b.voice.acquireIfFree(agent, 'tab-B')).resolves.toEqual({
      granted: false,
      holder: held.holder,
    });
    await emptyStore();
    const stolen = await b.voice.steal(agent, 'tab-B2');
    expect(stolen.previous).toEqual(held.holder);
    expect(reported).toEqual([]);
    expect(warnings).toContain(
      'gw-b: redis lost its data (a restart?): voice grants wait for held locks to be written back',
    );
  }, 60_000);

  it('a lock granted again by the emptied store before the write-back: its old holder is reported lost; a steal is not', async () => {
    const open = async (instanceId: string): Promise<Coordination> => {
      const coordination = await createCoordination({
        instanceId,
        keyPrefix: 'reset:',
        redisUrl: server?.url,
        leaseMs: 900, // renewed every 300 ms
        logger: { warn: (msg) => warnings.push(`${instanceId}: ${msg}`) },
      });
      opened.push(coordination);
      return coordination;
    };
    const a = await open('gw-a');
    const b = await open('gw-b');
    const reported: { instance: string; lost: VoiceHolder; holder: VoiceHolder }[] = [];
    a.voice.onLostToReset((_agent, lost, holder) => reported.push({ instance: 'gw-a', lost, holder }));
    b.voice.onLostToReset((_agent, lost, holder) => reported.push({ instance: 'gw-b', lost, holder }));
    const held = await a.voice.acquireIfFree(agent, 'tab-A');
    // What a Redis restart does, between two of A's renewals: the lock and its fence counter gone.
    const raw = new Redis(server?.url ?? '');
    try {
      const keys = await raw.keys('reset:voice:*');
      expect(keys).toHaveLength(2);
      await raw.del(...keys);
    } finally {
      await raw.quit();
    }
    const regranted = await b.voice.acquireIfFree(agent, 'tab-B');
    expect(regranted.granted).toBe(true);
    expect(regranted.holder.fence).toBeLessThanOrEqual(held.holder.fence);
    await waitFor(
      () => Promise.resolve(reported.length),
      (n) => n > 0,
      10_000,
    );
    expect(reported).toEqual([{ instance: 'gw-a', lost: held.holder, holder: regranted.holder }]);
    // A steal grows the fence and is told by the stealer: B's renewal drops its lock silently.
    const stolen = await a.voice.steal(agent, 'tab-A2');
    expect(stolen.holder.fence).toBeGreaterThan(regranted.holder.fence);
    await holdsFor(
      () => Promise.resolve(reported.length),
      (n) => n === 1,
      2_000,
    );
    await expect(b.voice.holder(agent)).resolves.toEqual(stolen.holder);
    expect(warnings).toContain(
      'gw-a: voice lock was granted again by a store that lost it; its holder is told',
    );
  }, 60_000);
});
