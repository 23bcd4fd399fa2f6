// Ownership of agents' lines across instances, over an in-memory fake of the lease store and the
// live instances, on jest's fake timers: claims, renewals, fencing, lost leases, the end of a call
// lost with its instance, stale events, rebalancing to a joiner and the drain's hand-over.
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { nextLeaseState, Ownership, type AgentRef } from '../index.js';
import { FakeCallEvents, RecordingLogger } from '../testing/fake-ports.js';
import {
  FakeLeaseBackend,
  FakeOwnedLine,
  FakeStaleLease,
  type FakeOwnershipStore,
} from '../testing/fake-ownership.js';

const LEASE_MS = 3_000;
const A: AgentRef = { domain: 'acme', ipphone: '1001' };
const B: AgentRef = { domain: 'acme', ipphone: '1002' };

/** One instance's ownership over the shared `backend`, with what it told the world. */
function instance(backend: FakeLeaseBackend, id = 'gw-1') {
  const store: FakeOwnershipStore = backend.view(id);
  const events = new FakeCallEvents();
  const logger = new RecordingLogger();
  const told = { handedTo: [] as string[], reconciled: [] as string[], leasesLost: 0 };
  const needing = new Set<string>();
  const ownership = new Ownership<FakeOwnedLine>({
    store,
    events,
    logger,
    onLeaseLost: () => {
      told.leasesLost += 1;
    },
    handTo: (target, agent) => {
      told.handedTo.push(`${agent.ipphone}->${target}`);
      return Promise.resolve();
    },
    domains: () => ['acme'],
    agentIds: () => ['1001', '1002'],
    needingLines: () => Promise.resolve(needing),
    reconcileSoon: (agent) => {
      told.reconciled.push(agent.ipphone);
    },
    reconciling: () => false,
  });
  const claim = async (agent: AgentRef) =>
    (await ownership.claim(agent, (epoch) => new FakeOwnedLine(agent, epoch)))?.line;
  return { ownership, store, events, logger, told, needing, claim };
}

/** Lets the microtasks queued by a tick's awaits run. */
const flush = async (): Promise<void> => {
  for (let i = 0; i < 10; i += 1) await Promise.resolve();
};

let backend: FakeLeaseBackend;

beforeEach(() => {
  jest.useFakeTimers();
  backend = new FakeLeaseBackend(LEASE_MS);
});

afterEach(() => {
  jest.useRealTimers();
});

describe('the lease state', () => {
  it('fences when late, serves again when renewed, and stays gone once lost or released', () => {
    expect(nextLeaseState('serving', 'late')).toBe('fenced');
    expect(nextLeaseState('fenced', 'late')).toBe('fenced');
    expect(nextLeaseState('fenced', 'renewed')).toBe('serving');
    expect(nextLeaseState('serving', 'lost')).toBe('gone');
    expect(nextLeaseState('fenced', 'released')).toBe('gone');
    expect(nextLeaseState('gone', 'renewed')).toBe('gone');
  });
});

describe('claim', () => {
  it('opens the line under the granted epoch; the line may serve', async () => {
    const gw = instance(backend);
    const line = await gw.claim(A);
    expect(line?.epoch).toBe(backend.leases.get('acme/1001')?.epoch);
    expect(backend.leases.get('acme/1001')?.owner).toBe('gw-1');
    expect(gw.ownership.line(A)).toBe(line);
    expect(gw.ownership.mayServe(A)).toBe(true);
    expect(gw.ownership.leaseCount).toBe(1);
  });

  it('opens no line when another instance owns the agent', async () => {
    backend.take(A, 'gw-2');
    const gw = instance(backend);
    let opened = 0;
    const claimed = await gw.ownership.claim(A, (epoch) => {
      opened += 1;
      return new FakeOwnedLine(A, epoch);
    });
    expect(claimed).toBeNull();
    expect(opened).toBe(0);
    expect(gw.ownership.holds(A)).toBe(false);
    expect(gw.ownership.mayServe(A)).toBe(false);
  });

  it('release closes the line and gives the lease up', async () => {
    const gw = instance(backend);
    const line = await gw.claim(A);
    await gw.ownership.release(A, 'device changed');
    expect(line?.closedWith).toBe('device changed');
    expect(backend.leases.has('acme/1001')).toBe(false);
    expect(gw.store.released).toEqual(['acme/1001']);
    expect(gw.ownership.line(A)).toBeUndefined();
  });
});

describe('renewal and fencing', () => {
  it('a renewal in time keeps the line serving past the first lease', async () => {
    const gw = instance(backend);
    await gw.claim(A);
    jest.advanceTimersByTime(LEASE_MS - 1);
    await gw.ownership.tick();
    jest.advanceTimersByTime(LEASE_MS - 1);
    expect(gw.ownership.mayServe(A)).toBe(true);
    expect(gw.logger.at('warn')).toEqual([]);
  });

  it('failing renewals (store unreachable) fence the line, logged once, until one comes back', async () => {
    const gw = instance(backend);
    const line = await gw.claim(A);
    backend.renewFails = new Error('store unreachable');
    jest.advanceTimersByTime(LEASE_MS);
    expect(gw.ownership.mayServe(A)).toBe(false);
    await gw.ownership.tick();
    await gw.ownership.tick();
    const fenced = gw.logger.at('warn').filter((l) => l.includes('fenced'));
    expect(fenced).toEqual([
      'acme/1001: lease not renewed in time; fenced (no new calls, no re-registration) until it is',
    ]);
    expect(gw.logger.at('warn').filter((l) => l.startsWith('ownership tick failed'))).toHaveLength(1);
    expect(line?.closedWith).toBeUndefined();

    backend.renewFails = undefined;
    await gw.ownership.tick();
    expect(gw.ownership.mayServe(A)).toBe(true);
    expect(line?.refreshes).toBe(1);
    expect(gw.logger.at('info')).toContain('acme/1001: lease renewed; serving again');
    expect(gw.logger.at('info')).toContain('coordination store reachable again');
  });

  it('a renewal that comes back after the lease ran out fences the line', async () => {
    const gw = instance(backend);
    await gw.claim(A);
    backend.renewDelayMs = LEASE_MS + 100;
    jest.advanceTimersByTime(LEASE_MS / 3);
    const ticked = gw.ownership.tick();
    jest.advanceTimersByTime(LEASE_MS + 100);
    await ticked;
    expect(gw.ownership.mayServe(A)).toBe(false);
    expect(gw.logger.at('warn')).toEqual([
      'acme/1001: lease not renewed in time; fenced (no new calls, no re-registration) until it is',
    ]);
    backend.renewDelayMs = undefined;
    await gw.ownership.tick();
    expect(gw.ownership.mayServe(A)).toBe(true);
  });

  it('a lease gone from the store is written back with its call record', async () => {
    const gw = instance(backend);
    await gw.claim(A);
    await gw.ownership.recordCall(A, 'call.ringing', { callId: 'c-1' });
    backend.expire(A);
    backend.records.clear();
    await gw.ownership.tick();
    await flush();
    expect(backend.leases.get('acme/1001')?.owner).toBe('gw-1');
    expect(JSON.parse(backend.records.get('acme/1001') ?? '{}')).toMatchObject({ callId: 'c-1' });
    expect(gw.logger.at('warn')).toContain('acme/1001: lease was gone from the store; written back');
  });
});

describe('a lost lease', () => {
  it('drops the line silently when a renewal finds another owner', async () => {
    const gw = instance(backend);
    const line = await gw.claim(A);
    backend.take(A, 'gw-2');
    await gw.ownership.tick();
    expect(line?.closedWith).toBe('lease lost');
    expect(gw.ownership.line(A)).toBeUndefined();
    expect(gw.ownership.isSilenced(line as FakeOwnedLine)).toBe(true);
    expect(gw.told.leasesLost).toBe(1);
    expect(gw.events.published).toEqual([]);
    // not ours to give up: the new owner's lease stays
    expect(backend.leases.get('acme/1001')?.owner).toBe('gw-2');
  });
});

describe('a call lost with its instance', () => {
  it('is recorded once per call, and its end announced once by the next owner (INSTANCE_LOST)', async () => {
    const first = instance(backend, 'gw-1');
    await first.claim(A);
    await first.ownership.recordCall(A, 'call.ringing', { callId: 'c-1', transactionId: 'tx-1' });
    await first.ownership.recordCall(A, 'call.answered', { callId: 'c-1', transactionId: 'tx-1' });
    expect(backend.recordWrites).toHaveLength(1);
    backend.expire(A); // gw-1 died: its lease lapsed, its record stays

    const second = instance(backend, 'gw-2');
    await second.claim(A);
    const epoch = backend.leases.get('acme/1001')?.epoch;
    expect(second.events.sequence(A)).toEqual([
      ['call.ended', { cause: 'INSTANCE_LOST', by: 'system', duration: 0 }],
    ]);
    expect(second.events.last('call.ended').meta).toEqual({
      callId: 'c-1',
      transactionId: 'tx-1',
      leaseEpoch: epoch,
    });

    await second.ownership.release(A, 'device changed');
    await second.claim(A);
    expect(second.events.types(A)).toEqual(['call.ended']);
  });

  it('a call that ended is not announced', async () => {
    const first = instance(backend, 'gw-1');
    await first.claim(A);
    await first.ownership.recordCall(A, 'call.ringing', { callId: 'c-1' });
    // the store clears the record with the `call.ended` append
    backend.records.delete('acme/1001');
    await first.ownership.recordCall(A, 'call.ended', { callId: 'c-1' });
    backend.expire(A);
    const second = instance(backend, 'gw-2');
    await second.claim(A);
    expect(second.events.published).toEqual([]);
  });
});

describe('a stale event', () => {
  it('is refused: the line is closed without a word, logged once', async () => {
    const gw = instance(backend);
    const line = (await gw.claim(A)) as FakeOwnedLine;
    const stale = () => Promise.reject(new FakeStaleLease(line.epoch, line.epoch + 1));
    expect(await gw.ownership.publishUnderLease(A, line, 'call.ringing', 'c-1', stale)).toBe(false);
    expect(await gw.ownership.publishUnderLease(A, line, 'call.ended', 'c-1', stale)).toBe(false);
    expect(line.closedWith).toBe('lease lost');
    expect(gw.ownership.line(A)).toBeUndefined();
    expect(gw.ownership.isSilenced(line)).toBe(true);
    expect(gw.logger.at('warn')).toEqual([
      `acme/1001: lease taken by another instance (call.ringing of call c-1 refused: lease epoch ${line.epoch} is stale, the lease is at epoch ${line.epoch + 1}); dropping the line`,
    ]);
  });

  it('other failures reach the caller', async () => {
    const gw = instance(backend);
    const line = (await gw.claim(A)) as FakeOwnedLine;
    await expect(
      gw.ownership.publishUnderLease(A, line, 'call.ringing', 'c-1', () =>
        Promise.reject(new Error('bus down')),
      ),
    ).rejects.toThrow('bus down');
    expect(line.closedWith).toBeUndefined();
  });
});

describe('the sweep', () => {
  it('claims an unowned agent that hashes here on the first sweep, then only on the second that finds it so', async () => {
    const gw = instance(backend);
    gw.needing.add('1001');
    await gw.ownership.tick();
    expect(gw.told.reconciled).toEqual(['1001']);
    gw.told.reconciled.length = 0;
    gw.needing.add('1002');
    await gw.ownership.tick();
    expect(gw.told.reconciled).toEqual(['1001']);
    await gw.ownership.tick();
    expect(gw.told.reconciled).toEqual(['1001', '1001', '1002']);
  });

  it('hands an idle line to a joiner it hashes to, once the joiner was seen in two heartbeats', async () => {
    const gw = instance(backend);
    gw.needing.add('1001').add('1002');
    const lineA = await gw.claim(A);
    const lineB = (await gw.claim(B)) as FakeOwnedLine;
    lineB.busy = true;
    await gw.ownership.tick();
    backend.preferredOf.set('acme/1001', 'gw-2');
    backend.preferredOf.set('acme/1002', 'gw-2');
    backend.live.push('gw-2');
    await gw.ownership.tick();
    expect(gw.told.handedTo).toEqual([]);
    await gw.ownership.tick();
    expect(gw.told.handedTo).toEqual(['1001->gw-2']);
    expect(lineA?.closedWith).toBe('rebalancing to gw-2');
    expect(backend.leases.has('acme/1001')).toBe(false);
    expect(lineB.closedWith).toBeUndefined();
    expect(gw.ownership.line(B)).toBe(lineB);
  });
});

describe('drain', () => {
  it('hands idle lines over at once and busy ones when their call ends', async () => {
    const gw = instance(backend);
    backend.live.push('gw-2');
    await gw.ownership.tick();
    const idle = await gw.claim(A);
    const busy = (await gw.claim(B)) as FakeOwnedLine;
    busy.busy = true;
    const drained = gw.ownership.drain(10_000);
    await flush();
    expect(gw.ownership.draining).toBe(true);
    expect(gw.ownership.accepting).toBe(false);
    expect(gw.store.left).toBe(true);
    expect(idle?.closedWith).toBe('draining');
    expect(gw.told.handedTo).toEqual(['1001->gw-2']);
    expect(busy.closedWith).toBeUndefined();

    busy.busy = false;
    gw.ownership.callEnded();
    await drained;
    expect(busy.closedWith).toBe('draining');
    expect(gw.told.handedTo).toEqual(['1001->gw-2', '1002->gw-2']);
    expect(gw.ownership.leaseCount).toBe(0);
    expect(gw.logger.at('info')).toContain('drained');
  });

  it('ends the calls still in progress at the deadline and hands their agents over', async () => {
    const gw = instance(backend);
    backend.live.push('gw-2');
    await gw.ownership.tick();
    const busy = (await gw.claim(B)) as FakeOwnedLine;
    busy.busy = true;
    const drained = gw.ownership.drain(5_000);
    await flush();
    expect(busy.closedWith).toBeUndefined();
    jest.advanceTimersByTime(5_000);
    await drained;
    expect(busy.closedWith).toBe('drain deadline');
    expect(gw.told.handedTo).toEqual(['1002->gw-2']);
    expect(gw.logger.at('warn')).toContain('drain deadline reached: ending 1 call(s)');
  });
});
