// Where an agent's server-side line should live: rendezvous (highest random weight) hashing over
// the live instances. Every instance computes the same answer from the same member list, with no
// messages; when an instance joins or leaves, only the agents it wins or held change place.
import { createHash } from 'node:crypto';
import type { AgentRef } from './types.js';

function weight(agent: AgentRef, instanceId: string): bigint {
  const digest = createHash('sha256').update(`${agent.domain}\0${agent.ipphone}\0${instanceId}`).digest();
  return digest.readBigUInt64BE(0);
}

/** The preferred instance for `agent` among `members` (undefined when there are none). */
export function preferredInstance(agent: AgentRef, members: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestWeight = -1n;
  for (const id of members) {
    const w = weight(agent, id);
    if (w > bestWeight || (w === bestWeight && best !== undefined && id < best)) {
      best = id;
      bestWeight = w;
    }
  }
  return best;
}
