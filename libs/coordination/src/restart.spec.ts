import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
    // A look-back window changes neither: the old id is still a gap (the old run's events are not
    // in this log to look back at), and the window before the first new id is empty.
    expect(await after.events.since('demo', old[1] ?? '', 10, { overlapMs: 5000 })).toEqual({
      events: [{ id: fresh, body: 'z' }],
      gap: true,
    });
    expect(await after.events.since('demo', fresh, 10, { overlapMs: 5000 })).toEqual({
      events: [],
      gap: false,
    });
    await after.close();
  });

  it('keeps ids growing within one millisecond and across many appends', async () => {
    const store = createMemoryCoordination({ instanceId: 'a', logger: quiet });
    const ids: string[] = [];
    for (let i = 0; i < 500; i++) ids.push(await store.events.append('demo', String(i)));
    for (let i = 1; i < ids.length; i++) expect(compareEventIds(ids[i] ?? '', ids[i - 1] ?? '')).toBe(1);
    await store.close();
  });

  it('keeps each agent’s device and call status across a restart when given an agents file', async () => {
    const agentsFile = join(dir, 'agents.jsonl');
    const defaults = { deviceType: 1 as const, callStatus: 'on' as const };
    const a = { domain: 'demo', ipphone: '5001' };
    const b = { domain: 'demo', ipphone: '5002' };
    const first = createMemoryCoordination({ instanceId: 'a', logger: quiet, agentsFile });
    await first.agents.setDevice(a, { deviceType: 3, mobile: '0909123456' }, defaults);
    await first.agents.toggleCallStatus(a, defaults);
    await first.agents.setDevice(b, { deviceType: 4 }, defaults);
    await first.agents.setCallStatus(b, 'noAnswer');
    await first.agents.setDevice(b, { deviceType: 2 }, defaults);
    await first.close();

    const second = createMemoryCoordination({ instanceId: 'a', logger: quiet, agentsFile });
    expect(await second.agents.get(a, defaults)).toEqual({
      deviceType: 3,
      mobile: '0909123456',
      callStatus: 'off',
    });
    expect(await second.agents.get(b, defaults)).toEqual({ deviceType: 2, callStatus: 'noAnswer' });
    expect(await second.agents.get({ domain: 'demo', ipphone: '5003' }, defaults)).toEqual(defaults);
    await second.close();
    // Compacted at load: one line per agent.
    expect(readFileSync(agentsFile, 'utf8').trim().split('\n')).toHaveLength(2);
  });

  it('skips a malformed line of the agents file, with a warning, and keeps the others', async () => {
    const agentsFile = join(dir, 'agents.jsonl');
    writeFileSync(
      agentsFile,
      '{"k":"cg:agent:demo:5001","f":{"callStatus":"off"}}\nnot json\n{"k":"x","f":{"callStatus":1}}\n',
    );
    const warnings: string[] = [];
    const store = createMemoryCoordination({
      instanceId: 'a',
      logger: { warn: (msg) => warnings.push(msg) },
      agentsFile,
    });
    expect(
      await store.agents.get({ domain: 'demo', ipphone: '5001' }, { deviceType: 1, callStatus: 'on' }),
    ).toEqual({ deviceType: 1, callStatus: 'off' });
    expect(warnings).toHaveLength(2);
    await store.close();
  });
});
