// Every key of the coordination store, built in one place. The in-memory store uses the same
// names for its maps, so both stores partition state (and prefixes) the same way.
//
//   {prefix}voice:lock:{domain}:{ipphone}    string, JSON holder {tabId, instanceId, fence}, PX lease
//   {prefix}voice:fence:{domain}:{ipphone}   integer counter, never expires (fences only grow)
//   {prefix}presence:{domain}:{ipphone}      sorted set, member tabId, score expiry (server ms)
//   {prefix}agent:{domain}:{ipphone}         hash {deviceType, mobile, callStatus}
//   {prefix}events:{domain}                  stream of the domain's events, capped (MAXLEN ~)
//   {prefix}agentevents:{domain}:{ipphone}   stream of one agent's events (same ids), capped, PX a day
//   {prefix}logout:{domain}:{ipphone}        string, ms of the agent's last logout, PX the session lifetime
//   {prefix}lease:{domain}:{ipphone}         hash {owner, epoch}, PX lease: who registers the agent
//   {prefix}lease:epoch:{domain}:{ipphone}   integer counter, never expires (epochs only grow)
//   {prefix}lease:call:{domain}:{ipphone}    string, the owner's call in progress (opaque JSON)
//   {prefix}instances                        sorted set, member instanceId, score expiry (server ms)
//   {prefix}store                            string, set by the first instance to start: absent = Redis lost its data
//   {prefix}store:quiet                      string, PX one lease after a loss is seen: no voice grant meanwhile
//   {prefix}rpc:{instanceId}                 pub/sub channel of requests to (and answers for) an instance
//   {prefix}transfer:{transferId}            hash {domain, ipphone, home, body}: a pending transfer (transfer-store.ts)
//   {prefix}transfer:target:{domain}:{ipphone}  string, the id of the transfer that reserved the agent
//   {prefix}transfers                        sorted set, member transferId, score lease expiry (server ms)
//
// Segments are percent-encoded so a ':' inside a domain or extension cannot make two agents share
// a key; ordinary host names, extensions and hex digests are left as they are.
import type { AgentRef } from './types.js';

const seg = (value: string): string => encodeURIComponent(value);
const agentPart = (agent: AgentRef): string => `${seg(agent.domain)}:${seg(agent.ipphone)}`;

export interface CoordinationKeys {
  voiceLock(agent: AgentRef): string;
  voiceFence(agent: AgentRef): string;
  presence(agent: AgentRef): string;
  agentState(agent: AgentRef): string;
  eventLog(domain: string): string;
  agentEventLog(agent: AgentRef): string;
  lease(agent: AgentRef): string;
  leaseEpoch(agent: AgentRef): string;
  leaseCall(agent: AgentRef): string;
  instances(): string;
  store(): string;
  storeQuiet(): string;
  rpc(instanceId: string): string;
  logout(agent: AgentRef): string;
  transfer(transferId: string): string;
  transferTarget(agent: AgentRef): string;
  transfers(): string;
}

export function coordinationKeys(prefix: string): CoordinationKeys {
  return {
    voiceLock: (agent) => `${prefix}voice:lock:${agentPart(agent)}`,
    voiceFence: (agent) => `${prefix}voice:fence:${agentPart(agent)}`,
    presence: (agent) => `${prefix}presence:${agentPart(agent)}`,
    agentState: (agent) => `${prefix}agent:${agentPart(agent)}`,
    eventLog: (domain) => `${prefix}events:${seg(domain)}`,
    agentEventLog: (agent) => `${prefix}agentevents:${agentPart(agent)}`,
    lease: (agent) => `${prefix}lease:${agentPart(agent)}`,
    leaseEpoch: (agent) => `${prefix}lease:epoch:${agentPart(agent)}`,
    leaseCall: (agent) => `${prefix}lease:call:${agentPart(agent)}`,
    instances: () => `${prefix}instances`,
    store: () => `${prefix}store`,
    storeQuiet: () => `${prefix}store:quiet`,
    rpc: (instanceId) => `${prefix}rpc:${seg(instanceId)}`,
    logout: (agent) => `${prefix}logout:${agentPart(agent)}`,
    transfer: (transferId) => `${prefix}transfer:${seg(transferId)}`,
    transferTarget: (agent) => `${prefix}transfer:target:${agentPart(agent)}`,
    transfers: () => `${prefix}transfers`,
  };
}
