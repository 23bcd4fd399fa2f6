import type { EventDataMap, EventType } from '@callgate/contracts';
import type { AgentRef, CallEventMeta, CallEventsPort } from '@callgate/calls';
import type { EventBus } from '../../events/event-bus.js';

/** libs/calls' call events port over the event bus: the agent's tabs, /events and the webhook queues. */
export class BusCallEvents implements CallEventsPort {
  constructor(private readonly bus: EventBus) {}

  async publish<T extends EventType>(
    agent: AgentRef,
    type: T,
    data: EventDataMap[T],
    meta: CallEventMeta = {},
  ): Promise<void> {
    await this.bus.publish(agent, type, data, meta);
  }
}
