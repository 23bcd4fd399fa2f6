import { compareEventIds } from '@callgate/contracts';
import { createMemoryCoordination, MemoryBackend } from './memory.js';
import type { CoordinationLogger } from './types.js';

const quiet: CoordinationLogger = { warn: () => undefined };

describe('in-memory store restarted (a new backend in a new process)', () => {
  it('hands out event ids above those of its previous run, and answers an old id with a gap', async () => {
    const before = createMemoryCoordination({
      instanceId: 'a',
      logger: quiet,
      memoryBackend: new MemoryBackend(),
    });
    const old = [await before.events.append('demo', 'x'), await before.events.append('demo', 'y')];
    await before.close();
    await new Promise((r) => setTimeout(r, 2)); // the next run starts at least a millisecond later

    const after = createMemoryCoordination({
      instanceId: 'a',
      logger: quiet,
      memoryBackend: new MemoryBackend(),
    });
    const fresh = await after.events.append('demo', 'z');
    expect(compareEventIds(fresh, old[1] ?? '')).toBeGreaterThan(0);
    expect(await after.events.since('demo', old[1] ?? '', 10)).toEqual({
      events: [{ id: fresh, body: 'z' }],
      gap: true,
    });
    expect(await after.events.since('demo', '0-0', 10)).toMatchObject({ gap: false });
    expect(await after.events.since('demo', fresh, 10)).toEqual({ events: [], gap: false });
    await after.close();
  });

  it('keeps ids growing within one millisecond and across many appends', async () => {
    const store = createMemoryCoordination({ instanceId: 'a', logger: quiet });
    const ids: string[] = [];
    for (let i = 0; i < 500; i++) ids.push(await store.events.append('demo', String(i)));
    for (let i = 1; i < ids.length; i++) expect(compareEventIds(ids[i] ?? '', ids[i - 1] ?? '')).toBe(1);
    await store.close();
  });
});
