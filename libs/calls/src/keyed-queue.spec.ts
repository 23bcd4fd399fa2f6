import { KeyedQueue } from './keyed-queue.js';

/** A task that finishes when told to, recording when it started and ended. */
function gate(log: string[], name: string): { task: () => Promise<string>; open(): void } {
  let open = (): void => undefined;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return {
    task: async () => {
      log.push(`${name} start`);
      await opened;
      log.push(`${name} end`);
      return name;
    },
    open: () => open(),
  };
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('KeyedQueue', () => {
  it('runs one key’s tasks in the order given, a later one only after the earlier ended', async () => {
    const queue = new KeyedQueue();
    const log: string[] = [];
    const [slow, fast] = [gate(log, 'ringing'), gate(log, 'accepted')];
    const first = queue.run('demo/5002', slow.task);
    const second = queue.run('demo/5002', fast.task);
    fast.open();
    await settle();
    expect(log).toEqual(['ringing start']);
    slow.open();
    await expect(Promise.all([first, second])).resolves.toEqual(['ringing', 'accepted']);
    expect(log).toEqual(['ringing start', 'ringing end', 'accepted start', 'accepted end']);
  });

  it('runs different keys side by side', async () => {
    const queue = new KeyedQueue();
    const log: string[] = [];
    const [a, b] = [gate(log, 'a'), gate(log, 'b')];
    const done = Promise.all([queue.run('demo/5001', a.task), queue.run('demo/5002', b.task)]);
    await settle();
    expect(log).toEqual(['a start', 'b start']);
    a.open();
    b.open();
    await done;
  });

  it('goes on after a failed task, which rejects its own caller only', async () => {
    const queue = new KeyedQueue();
    const failed = queue.run('k', () => Promise.reject(new Error('refused')));
    const next = queue.run('k', () => Promise.resolve('next'));
    await expect(failed).rejects.toThrow('refused');
    await expect(next).resolves.toBe('next');
  });

  it('forgets a key once its last task is done', async () => {
    const queue = new KeyedQueue();
    await queue.run('k', () => Promise.resolve(1));
    await settle();
    expect(queue.busyKeys).toBe(0);
  });

  it('says which keys are busy, and idle() waits for every task given, failed ones too', async () => {
    const queue = new KeyedQueue();
    const log: string[] = [];
    const a = gate(log, 'a');
    const running = queue.run('demo/5001', a.task);
    const failed = queue.run('demo/5002', () => Promise.reject(new Error('refused')));
    expect([queue.has('demo/5001'), queue.has('demo/5002'), queue.has('demo/5003')]).toEqual([
      true,
      true,
      false,
    ]);
    let idle = false;
    const waiting = queue.idle().then(() => (idle = true));
    await expect(failed).rejects.toThrow('refused');
    await settle();
    expect(idle).toBe(false);
    a.open();
    await running;
    await waiting;
    expect(idle).toBe(true);
    await settle();
    expect(queue.has('demo/5001')).toBe(false);
  });
});
