import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareEventIds } from '@callgate/contracts';
import { createMemoryCoordination, MemoryBackend } from './memory.js';
import type { CoordinationLogger } from './types.js';

const quiet: CoordinationLogger = { warn: () => undefined };

describe('in-memory store restarted (a new backend in a new process)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'callgate-coord-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

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

  it('remembers logins across a restart when given a logins file; expired ones are dropped', async () => {
    const loginsFile = join(dir, 'logins.jsonl');
    const first = createMemoryCoordination({ instanceId: 'a', logger: quiet, loginsFile });
    await first.logins.remember('demo', 'digest-live', 60_000);
    await first.logins.remember('demo', 'digest-short', 1);
    await first.close();
    await new Promise((r) => setTimeout(r, 5));

    const second = createMemoryCoordination({ instanceId: 'a', logger: quiet, loginsFile });
    expect(await second.logins.isRemembered('demo', 'digest-live')).toBe(true);
    expect(await second.logins.isRemembered('demo', 'digest-short')).toBe(false);
    expect(await second.logins.isRemembered('demo', 'never')).toBe(false);
    await second.close();
  });

  it('without a logins file, a restart forgets the logins', async () => {
    const first = createMemoryCoordination({ instanceId: 'a', logger: quiet });
    await first.logins.remember('demo', 'digest', 60_000);
    await first.close();
    const second = createMemoryCoordination({ instanceId: 'a', logger: quiet });
    expect(await second.logins.isRemembered('demo', 'digest')).toBe(false);
    await second.close();
  });
});
