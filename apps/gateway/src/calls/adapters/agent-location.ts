import type { AgentLocationPort, AgentPlace, AgentRef } from '@callgate/calls';
import type { Coordination } from '@callgate/coordination';

/** What the location needs to know of this instance's lines (the call engine). */
export interface LocalLines {
  hasLine(agent: AgentRef): boolean;
  liveInstances(): readonly string[];
}

/**
 * libs/calls' agent location port over libs/coordination: a line is owned by the holder of the
 * agent's lease, a voice tab is the holder of its voice lock. "Where does this agent's call live"
 * is answered here only; this instance's own lines are answered without a store read.
 */
export class CoordinationAgentLocation implements AgentLocationPort {
  constructor(
    private readonly coordination: Coordination,
    private readonly lines: LocalLines,
  ) {}

  get instanceId(): string {
    return this.coordination.instanceId;
  }

  liveInstances(): readonly string[] {
    return this.lines.liveInstances();
  }

  async lineOwner(agent: AgentRef): Promise<string | null> {
    if (this.lines.hasLine(agent)) return this.instanceId;
    const owners = await this.coordination.leases.owners(agent.domain, [agent.ipphone]);
    return owners.get(agent.ipphone)?.owner ?? null;
  }

  async voiceTab(agent: AgentRef): Promise<{ instanceId: string; tabId: string } | null> {
    const holder = await this.coordination.voice.holder(agent);
    return holder ? { instanceId: holder.instanceId, tabId: holder.tabId } : null;
  }

  async locate(agent: AgentRef): Promise<AgentPlace> {
    const owner = await this.lineOwner(agent);
    if (owner !== null) return { kind: 'line', instanceId: owner, here: owner === this.instanceId };
    const tab = await this.voiceTab(agent);
    if (tab) return { kind: 'voiceTab', ...tab, here: tab.instanceId === this.instanceId };
    return { kind: 'none' };
  }
}
