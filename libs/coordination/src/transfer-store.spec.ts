import { jest } from '@jest/globals';
import { memoryTransferStore, TransferTable, type TransferStore } from './transfer-store.js';

const LEASE_MS = 3_000;
const target = { domain: 'demo', ipphone: '5001' };
const step = <T>(run: () => T): Promise<T> => Promise.resolve(run());

describe('transfer store (in memory): reservations, leases, adoption', () => {
  let table: TransferTable;
  let a: TransferStore;
  let b: TransferStore;
  let c: TransferStore;

  beforeEach(() => {
    jest.useFakeTimers();
    table = new TransferTable();
    a = memoryTransferStore(table, 'gw-a', LEASE_MS, step);
    b = memoryTransferStore(table, 'gw-b', LEASE_MS, step);
    c = memoryTransferStore(table, 'gw-c', LEASE_MS, step);
  });
  afterEach(() => jest.useRealTimers());

  it('reserves a target once: a second source is told which transfer holds it, from any instance', async () => {
    expect(await a.reserve(target, 't1', '{"n":1}')).toEqual({ reserved: true });
    expect(await b.reserve(target, 't2', '{}')).toEqual({ reserved: false, holder: 't1' });
    expect(await a.reserve(target, 't3', '{}')).toEqual({ reserved: false, holder: 't1' });
    expect(await c.reservedBy(target)).toBe('t1');
    // Another target of another domain with the same extension is free.
    expect(await b.reserve({ domain: 'other', ipphone: '5001' }, 't4', '{}')).toEqual({ reserved: true });
  });

  it('only the home changes, renews or finishes a transfer; finishing frees the target', async () => {
    await a.reserve(target, 't1', 'v1');
    expect(await b.update('t1', 'x')).toBe(false);
    expect(await b.renew(['t1'])).toEqual([false]);
    expect(await b.finish('t1', target)).toBe(false);
    expect(await a.update('t1', 'v2')).toBe(true);
    expect(await a.renew(['t1', 'unknown'])).toEqual([true, false]);
    expect(await a.finish('t1', target)).toBe(true);
    expect(await a.finish('t1', target)).toBe(false);
    expect(await c.reservedBy(target)).toBeNull();
    expect(await b.reserve(target, 't2', '{}')).toEqual({ reserved: true });
  });

  it('a transfer whose home stops renewing becomes an orphan; exactly one instance adopts it', async () => {
    await a.reserve(target, 't1', 'body');
    jest.advanceTimersByTime(LEASE_MS - 1);
    expect(await b.orphans()).toEqual([]);
    expect(await b.adopt('t1')).toBeNull();
    jest.advanceTimersByTime(1);
    expect(await b.orphans()).toEqual([{ transferId: 't1', target, home: 'gw-a', body: 'body' }]);
    // The target stays reserved while orphaned.
    expect(await c.reserve(target, 't2', '{}')).toEqual({ reserved: false, holder: 't1' });
    const [byB, byC] = await Promise.all([b.adopt('t1'), c.adopt('t1')]);
    expect(byB).toEqual({ transferId: 't1', target, home: 'gw-b', body: 'body' });
    expect(byC).toBeNull();
    expect(await c.orphans()).toEqual([]);
    // The old home, back (it was frozen), learns it lost the transfer and cannot end it.
    expect(await a.renew(['t1'])).toEqual([false]);
    expect(await a.finish('t1', target)).toBe(false);
    expect(await b.update('t1', 'moving')).toBe(true);
    expect(await b.finish('t1', target)).toBe(true);
    expect(await c.reservedBy(target)).toBeNull();
  });

  it('a renewed lease keeps a transfer from being adopted', async () => {
    await a.reserve(target, 't1', 'body');
    for (let i = 0; i < 5; i++) {
      jest.advanceTimersByTime(LEASE_MS / 3);
      expect(await a.renew(['t1'])).toEqual([true]);
    }
    expect(await b.orphans()).toEqual([]);
    expect(await b.adopt('t1')).toBeNull();
  });
});
