import type { AgentConfig } from '@callgate/auth';
import type { AgentState } from '@callgate/coordination';

/** The state of an agent nobody changed yet: its default device, calls on. */
export function defaultAgentState(config: AgentConfig): AgentState {
  return {
    deviceType: config.defaultDevice,
    ...(config.defaultDevice === 3 && config.devices.mobile ? { mobile: config.devices.mobile } : {}),
    callStatus: 'on',
  };
}
