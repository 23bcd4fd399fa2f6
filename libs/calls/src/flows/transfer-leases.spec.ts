// Agent transfers that outlive their instance: the lease keeper of each instance over one shared
// in-memory transfer store (libs/coordination's), driven by jest's fake timers.
import { jest } from '@jest/globals';
import {
  type Coordination,
  createCoordination,
  MemoryBackend,
  type TransferStore,
} from '@callgate/coordination';
import { decodeLeasedTransfer, type LeasedTransfer, TransferLeaseKeeper } from '../transfer-leases.js';
import { RecordingLogger } from '../testing/fake-ports.js';

const LEASE_MS = 3_000;
const EVERY_MS = 1_000;
const TARGET = { domain: 'acme', ipphone: '1002' };

const transfer = (over: Partial<LeasedTransfer> = {}): LeasedTransfer => ({
  transferId: 't-1',
  customerCallId: 'c-0',
  domain: 'acme',
  from: '1001',
  to: '1002',
  targetUser: '1002',
  source: { side: 'browser', callId: 'c-1', customerCallId: 'c-0', phone: '0901234567' },
  expiresAtMs: 30_000,
  state: 'pending',
  ...over,
});

/** Every instance's coordination store, closed after each test. */
const opened: Coordination[] = [];

/** One gateway instance's keeper, over the in-memory store `backend` shared by the instances. */
async function instance(backend: MemoryBackend, id: string, wants = true) {
  const coordination = await createCoordination({
    instanceId: id,
    memoryBackend: backend,
    leaseMs: LEASE_MS,
  });
  opened.push(coordination);
  const store = coordination.transfers;
  const told = { adopted: [] as LeasedTransfer[], lost: [] as string[], wanted: [] as string[] };
  const logger = new RecordingLogger();
  const hooks = {
    wants: (t: LeasedTransfer) => {
      told.wanted.push(t.transferId);
      return Promise.resolve(wants);
    },
    adopted: (t: LeasedTransfer) => {
      told.adopted.push(t);
      return Promise.resolve();
    },
    lost: (transferId: string) => {
      told.lost.push(transferId);
    },
  };
  const keeper = new TransferLeaseKeeper(store, EVERY_MS, logger, hooks);
  return { store, keeper, told, logger, hooks };
}

describe('transfer leases', () => {
  let backend: MemoryBackend;

  beforeEach(() => {
    jest.useFakeTimers({ now: 0 });
    backend = new MemoryBackend();
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((c) => c.close()));
    jest.useRealTimers();
  });

  it('reserves the target cluster-wide: a second transfer to it, from any instance, is told which holds it', async () => {
    const a = await instance(backend, 'gw-a');
    const b = await instance(backend, 'gw-b');
    await expect(a.keeper.reserve(TARGET, transfer())).resolves.toEqual({ reserved: true });
    await expect(b.keeper.reserve(TARGET, transfer({ transferId: 't-2' }))).resolves.toEqual({
      reserved: false,
      holder: 't-1',
    });
  });

  it('a live home renews its transfers: no other instance adopts them', async () => {
    const a = await instance(backend, 'gw-a');
    const b = await instance(backend, 'gw-b');
    await a.keeper.reserve(TARGET, transfer());
    a.keeper.start();
    b.keeper.start();
    await jest.advanceTimersByTimeAsync(10 * LEASE_MS);
    expect(b.told.wanted).toEqual([]);
    expect(b.told.adopted).toEqual([]);
    a.keeper.stop();
    b.keeper.stop();
  });

  it("a dead home's transfer is adopted by one instance, which finishes it and frees the target", async () => {
    const a = await instance(backend, 'gw-a');
    const b = await instance(backend, 'gw-b');
    const c = await instance(backend, 'gw-c');
    await a.keeper.reserve(TARGET, transfer({ state: 'accepted' }));
    b.keeper.start();
    c.keeper.start();
    await jest.advanceTimersByTimeAsync(LEASE_MS + EVERY_MS);
    const adopted = [...b.told.adopted, ...c.told.adopted];
    expect(adopted).toEqual([transfer({ state: 'accepted' })]);
    const heir = b.told.adopted.length === 1 ? b : c;
    expect(heir.logger.at('info')).toEqual(['transfer t-1: adopted from gw-a, which stopped renewing it']);
    await expect(a.store.reservedBy(TARGET)).resolves.toBe('t-1');
    await heir.keeper.finish('t-1');
    await expect(a.store.reservedBy(TARGET)).resolves.toBeNull();
    b.keeper.stop();
    c.keeper.stop();
  });

  it('an orphan is left alone by an instance that does not want it', async () => {
    const a = await instance(backend, 'gw-a');
    const b = await instance(backend, 'gw-b', false);
    await a.keeper.reserve(TARGET, transfer());
    b.keeper.start();
    await jest.advanceTimersByTimeAsync(LEASE_MS + EVERY_MS);
    expect(b.told.wanted.length).toBeGreaterThan(0);
    expect(b.told.adopted).toEqual([]);
    await expect(b.store.orphans()).resolves.toHaveLength(1);
    b.keeper.stop();
  });

  it('a home frozen past its lease learns on its next tick that another instance runs the transfer', async () => {
    const a = await instance(backend, 'gw-a');
    const b = await instance(backend, 'gw-b');
    await a.keeper.reserve(TARGET, transfer());
    b.keeper.start();
    await jest.advanceTimersByTimeAsync(LEASE_MS + EVERY_MS);
    expect(b.told.adopted).toHaveLength(1);
    a.keeper.start();
    await jest.advanceTimersByTimeAsync(EVERY_MS);
    expect(a.told.lost).toEqual(['t-1']);
    expect(a.logger.at('warn')).toEqual(['transfer t-1: another instance runs it now']);
    a.keeper.stop();
    b.keeper.stop();
  });

  it('a finish the store missed is retried on the next tick; the target stays reserved meanwhile', async () => {
    const a = await instance(backend, 'gw-a');
    let storeDown = true;
    const flaky: TransferStore = {
      ...a.store,
      finish: (id, target) =>
        storeDown ? Promise.reject(new Error('store away')) : a.store.finish(id, target),
    };
    const keeper = new TransferLeaseKeeper(flaky, EVERY_MS, a.logger, a.hooks);
    await keeper.reserve(TARGET, transfer());
    await keeper.finish('t-1');
    expect(a.logger.at('warn')).toEqual([
      'transfer t-1: its target stays reserved until the store answers: Error: store away',
    ]);
    await expect(a.store.reservedBy(TARGET)).resolves.toBe('t-1');
    storeDown = false;
    keeper.start();
    await jest.advanceTimersByTimeAsync(EVERY_MS);
    await expect(a.store.reservedBy(TARGET)).resolves.toBeNull();
    keeper.stop();
  });

  it('an unreadable record is removed and its target freed', async () => {
    const a = await instance(backend, 'gw-a');
    const b = await instance(backend, 'gw-b');
    await a.store.reserve(TARGET, 't-x', 'not json');
    b.keeper.start();
    await jest.advanceTimersByTimeAsync(LEASE_MS + EVERY_MS);
    expect(b.logger.at('warn')).toEqual(['transfer t-x: unreadable record removed']);
    expect(b.told.wanted).toEqual([]);
    await expect(b.store.reservedBy(TARGET)).resolves.toBeNull();
    b.keeper.stop();
  });

  it('an adoption whose finishing throws frees the target', async () => {
    const a = await instance(backend, 'gw-a');
    const b = await instance(backend, 'gw-b');
    b.hooks.adopted = () => Promise.reject(new Error('no way'));
    await a.keeper.reserve(TARGET, transfer());
    b.keeper.start();
    await jest.advanceTimersByTimeAsync(LEASE_MS + EVERY_MS);
    expect(b.logger.at('warn')).toEqual([
      'transfer t-1: could not be finished after adoption: Error: no way',
    ]);
    await expect(b.store.reservedBy(TARGET)).resolves.toBeNull();
    b.keeper.stop();
  });

  it('a state change (the target accepted) reaches the store', async () => {
    const a = await instance(backend, 'gw-a');
    await a.keeper.reserve(TARGET, transfer());
    await a.keeper.update(transfer({ state: 'accepted' }));
    jest.advanceTimersByTime(LEASE_MS);
    const [orphan] = await a.store.orphans();
    expect(decodeLeasedTransfer(orphan!.body)?.state).toBe('accepted');
  });
});

describe('decodeLeasedTransfer', () => {
  it('reads back what the keeper stores', () => {
    expect(decodeLeasedTransfer(JSON.stringify(transfer()))).toEqual(transfer());
  });

  it.each([
    ['not JSON', '{'],
    ['not an object', '42'],
    ['a record without a source', JSON.stringify({ ...transfer(), source: undefined })],
    ['a record of an unknown state', JSON.stringify({ ...transfer(), state: 'maybe' })],
    [
      'a record of an unknown side',
      JSON.stringify({ ...transfer(), source: { ...transfer().source, side: 'x' } }),
    ],
  ])('answers null for %s', (_what, body) => {
    expect(decodeLeasedTransfer(body)).toBeNull();
  });
});
