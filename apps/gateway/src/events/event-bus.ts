import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Namespace } from 'socket.io';
import type {
  ClientToServerEvents,
  EventDataMap,
  EventEnvelope,
  EventType,
  ServerToClientEvents,
} from '@callgate/contracts';
import type { AgentRef, Coordination } from '@callgate/coordination';
import { COORDINATION } from '../tokens.js';
import { rooms } from './rooms.js';

export type AgentNamespace = Namespace<ClientToServerEvents, ServerToClientEvents>;
export type EventsNamespace = Namespace<Record<string, never>, ServerToClientEvents>;

export interface PublishOptions {
  callId?: string;
  /** the CRM's id for a call it started (JS-PHONE `transactionId`), echoed in all its events */
  transactionId?: string;
  /** deliver to this one tab (socket id) instead of all the agent's tabs */
  tab?: string;
  /** also deliver to the domain's CRM backends on /events (default true) */
  backends?: boolean;
}

/**
 * Builds event envelopes (ids from the coordination store, so they grow per domain across
 * instances) and delivers them to tabs and CRM backends. With the Redis adapter a room emit
 * reaches sockets on every instance.
 */
@Injectable()
export class EventBus {
  private readonly logger = new Logger(EventBus.name);
  private agentNsp?: AgentNamespace;
  private eventsNsp?: EventsNamespace;

  constructor(@Inject(COORDINATION) private readonly coordination: Coordination) {}

  attachAgentNamespace(nsp: AgentNamespace): void {
    this.agentNsp = nsp;
  }

  attachEventsNamespace(nsp: EventsNamespace): void {
    this.eventsNsp = nsp;
  }

  async envelope<T extends EventType>(
    agent: AgentRef,
    type: T,
    data: EventDataMap[T],
    call: Pick<PublishOptions, 'callId' | 'transactionId'> = {},
  ): Promise<EventEnvelope<T>> {
    const id = await this.coordination.eventIds.next(agent.domain);
    return {
      id,
      type,
      domain: agent.domain,
      ipphone: agent.ipphone,
      ...(call.callId === undefined ? {} : { callId: call.callId }),
      ...(call.transactionId === undefined ? {} : { transactionId: call.transactionId }),
      at: new Date().toISOString(),
      data,
    };
  }

  async publish<T extends EventType>(
    agent: AgentRef,
    type: T,
    data: EventDataMap[T],
    options: PublishOptions = {},
  ): Promise<EventEnvelope<T>> {
    const event = await this.envelope(agent, type, data, options);
    this.deliver(event, options);
    return event;
  }

  /** Deliver an envelope built elsewhere (e.g. `session.ready` to the tab being set up). */
  deliver<T extends EventType>(
    event: EventEnvelope<T>,
    options: Pick<PublishOptions, 'tab' | 'backends'> = {},
  ): void {
    const target = options.tab ?? rooms.agent(event.domain, event.ipphone);
    this.emit(this.agentNsp, target, event);
    if (options.backends !== false) this.emit(this.eventsNsp, rooms.domain(event.domain), event);
    this.logger.debug(
      `${event.type} #${event.id} -> ${event.domain}/${event.ipphone}${options.tab ? ` tab ${options.tab}` : ''}`,
    );
  }

  private emit<T extends EventType>(
    nsp: AgentNamespace | EventsNamespace | undefined,
    room: string,
    event: EventEnvelope<T>,
  ): void {
    if (!nsp) return;
    // Socket.IO's mapped event typing cannot follow a generic key; the envelope's type is the key.
    const emitter = nsp.to(room) as unknown as { emit(type: string, payload: EventEnvelope<T>): boolean };
    emitter.emit(event.type, event);
  }
}
