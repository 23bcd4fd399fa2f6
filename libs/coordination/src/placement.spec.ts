import { preferredInstance } from './placement.js';

const agents = Array.from({ length: 300 }, (_, i) => ({ domain: 'd', ipphone: String(5000 + i) }));

describe('preferredInstance', () => {
  it('answers undefined with no members and the only member with one', () => {
    expect(preferredInstance(agents[0]!, [])).toBeUndefined();
    expect(preferredInstance(agents[0]!, ['a'])).toBe('a');
  });

  it('does not depend on the order of the member list', () => {
    for (const agent of agents.slice(0, 50)) {
      expect(preferredInstance(agent, ['a', 'b', 'c'])).toBe(preferredInstance(agent, ['c', 'a', 'b']));
    }
  });

  it('spreads agents over the instances', () => {
    const counts = new Map<string, number>();
    for (const agent of agents) {
      const id = preferredInstance(agent, ['a', 'b', 'c']) ?? '';
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual(['a', 'b', 'c']);
    for (const n of counts.values()) expect(n).toBeGreaterThan(60);
  });

  it('moves only the agents of an instance that leaves', () => {
    for (const agent of agents) {
      const before = preferredInstance(agent, ['a', 'b', 'c']);
      const after = preferredInstance(agent, ['a', 'b']);
      if (before !== 'c') expect(after).toBe(before);
    }
  });
});
