import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Namespace } from 'socket.io';
import type {
  AnyEventEnvelope,
  ClientToServerEvents,
  EventDataMap,
  EventEnvelope,
  ErrorCode,
  EventType,
  ServerToClientEvents,
} from '@callgate/contracts';
import { compareEventIds, type AgentRef, type Coordination } from '@callgate/coordination';
import { METRICS, type Metrics } from '../infra/metrics.js';
import { type WebhookSink, WebhooksService } from '../webhooks/webhooks.service.js';
import { COORDINATION } from '../tokens.js';
import { rooms } from './rooms.js';

export type AgentNamespace = Namespace<ClientToServerEvents, ServerToClientEvents>;
export type EventsNamespace = Namespace<Record<string, never>, ServerToClientEvents>;

/** Events that carry a secret (a session token, a SIP password): never sent through the adapter. */
const SECRET_EVENTS: ReadonlySet<EventType> = new Set<EventType>(['session.ready', 'voice.sip']);

/** Most events one reconnecting client is sent; past that it resyncs from a snapshot. */
const REPLAY_LIMIT = 1000;

/**
 * How much stream time before its resume point a reconnecting client is sent again. Events of one
 * domain are logged by several instances but delivered live through the Socket.IO adapter, so a
 * client can get id N+1 before id N and lose its connection in between: its resume point (N+1) is
 * then past an event it never got. It drops the ids it has already seen (at-least-once, ids stable).
 */
export const REPLAY_OVERLAP_MS = 5000;

/** An event as the log keeps it: the envelope less its id, and who it was for. */
interface StoredEvent {
  t: EventType;
  /** for one tab only: never replayed to the agent's tabs (stored without its data unless `b`) */
  tab?: true;
  e?: Omit<AnyEventEnvelope, 'id'>;
  /** also for /events (replayed there) */
  b?: boolean;
}

/** Whether an event goes to the domain's CRM backends (/events, webhooks): never a tab's secret. */
function forBackends(type: EventType, options: Pick<PublishOptions, 'tab' | 'backends'>): boolean {
  return options.backends !== false && (options.tab === undefined || !SECRET_EVENTS.has(type));
}

export interface PublishOptions {
  callId?: string;
  /** the CRM's id for a call it started (JS-PHONE `transactionId`), echoed in all its events */
  transactionId?: string;
  /** deliver to this one tab (socket id) instead of all the agent's tabs */
  tab?: string;
  /** also deliver to the domain's CRM backends on /events (default true) */
  backends?: boolean;
  /**
   * the publisher's epoch of the agent's ownership lease (a server-side line's events): the event
   * is stored only while no later grant exists, else `publish` rejects with a `StaleLeaseError` and
   * delivers nothing; a `call.ended` also clears the call record kept with the lease, in that step
   */
  leaseEpoch?: number;
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

  constructor(
    @Inject(COORDINATION) private readonly coordination: Coordination,
    @Inject(METRICS) private readonly metrics: Metrics,
    @Inject(WebhooksService) private readonly webhooks: WebhookSink,
  ) {}

  attachAgentNamespace(nsp: AgentNamespace): void {
    this.agentNsp = nsp;
    this.metrics.gauge('tabs', () => nsp.sockets.size);
  }

  attachEventsNamespace(nsp: EventsNamespace): void {
    this.eventsNsp = nsp;
    this.metrics.gauge('backends', () => nsp.sockets.size);
  }

  /**
   * Builds an envelope whose id comes from the domain's event log. Events for one tab are logged
   * without their data (a session token or a SIP password never reaches the log) and are never
   * replayed; everything else can be replayed to a client that reconnects.
   */
  async envelope<T extends EventType>(
    agent: AgentRef,
    type: T,
    data: EventDataMap[T],
    options: PublishOptions = {},
  ): Promise<EventEnvelope<T>> {
    const partial: Omit<EventEnvelope<T>, 'id'> = {
      type,
      domain: agent.domain,
      ipphone: agent.ipphone,
      ...(options.callId === undefined ? {} : { callId: options.callId }),
      ...(options.transactionId === undefined ? {} : { transactionId: options.transactionId }),
      at: new Date().toISOString(),
      data,
    };
    // A tab's own event that backends also hear live (the winner's voice.changed) is kept with its
    // data for their resumes: a backend that reconnects must not miss what it would have heard.
    const backends = forBackends(type, options);
    const stored: StoredEvent = options.tab
      ? backends
        ? { t: type, tab: true, e: partial, b: true }
        : { t: type, tab: true }
      : { t: type, e: partial, b: backends };
    // Also in the agent's partition, which its tabs resume from: another agent's burst cannot trim it.
    const lease =
      options.leaseEpoch === undefined
        ? undefined
        : { epoch: options.leaseEpoch, endsCall: type === 'call.ended' };
    const id = await this.coordination.events.append(
      agent.domain,
      JSON.stringify(stored),
      agent.ipphone,
      lease,
    );
    const event = { id, ...partial };
    this.metrics.eventPublished(event as AnyEventEnvelope);
    return event;
  }

  /**
   * What a reconnecting client missed after `afterId`: the agent's events (for a tab, from the
   * agent's partition of the log) or every event meant for backends (for /events, from the domain
   * log), oldest first. With `lookBack` (a socket's resume), preceded by those of the
   * `REPLAY_OVERLAP_MS` before `afterId`, which the client may have missed too (see there); a
   * read of the log (`GET /events?after=`) needs none: an id is logged only after every smaller
   * one. `missed`: how many of the events follow `afterId`. `gap` when the log no longer has all
   * that followed `afterId` (the window before it is best effort), or more than `REPLAY_LIMIT` did.
   */
  async replay(
    domain: string,
    afterId: string,
    forAgent?: string,
    options: { lookBack?: boolean } = {},
  ): Promise<{ events: AnyEventEnvelope[]; gap: boolean; missed: number }> {
    const lookBack = options.lookBack ? { overlapMs: REPLAY_OVERLAP_MS } : {};
    const { events, gap } = await (forAgent === undefined
      ? this.coordination.events.since(domain, afterId, REPLAY_LIMIT, lookBack)
      : this.coordination.events.sinceForAgent(
          { domain, ipphone: forAgent },
          afterId,
          REPLAY_LIMIT,
          lookBack,
        ));
    if (gap || events.filter((e) => compareEventIds(e.id, afterId) > 0).length >= REPLAY_LIMIT) {
      this.metrics.resync(forAgent === undefined ? 'events' : 'agent');
      return { events: [], gap: true, missed: 0 };
    }
    const out: AnyEventEnvelope[] = [];
    for (const { id, body } of events) {
      const stored = JSON.parse(body) as StoredEvent;
      if (!stored.e) continue;
      if (forAgent === undefined ? !stored.b : stored.tab || stored.e.ipphone !== forAgent) continue;
      out.push({ id, ...stored.e } as AnyEventEnvelope);
    }
    return { events: out, gap: false, missed: out.filter((e) => compareEventIds(e.id, afterId) > 0).length };
  }

  /** Sends replayed events to one socket of a namespace, in order. */
  replayTo(nsp: 'agent' | 'events', socketId: string, events: readonly AnyEventEnvelope[]): void {
    const namespace = nsp === 'agent' ? this.agentNsp : this.eventsNsp;
    // The resuming socket is this instance's: emitted on it directly, so the replay keeps its
    // order with the `session.ready` that follows (also sent directly, never through the adapter).
    for (const event of events)
      if (!this.emitLocal(socketId, event, namespace)) this.emit(namespace, socketId, event);
    this.metrics.eventDelivered('replay', events.length);
  }

  async publish<T extends EventType>(
    agent: AgentRef,
    type: T,
    data: EventDataMap[T],
    options: PublishOptions = {},
  ): Promise<EventEnvelope<T>> {
    const event = await this.envelope(agent, type, data, options);
    this.deliver(event, options);
    // Answered only once the event is in its webhook queues (Redis lists with REDIS_URL): an
    // instance killed after answering loses none, and queues keep the order events were published in.
    if (forBackends(type, options)) await this.webhooks.queued(event as AnyEventEnvelope);
    return event;
  }

  /** Deliver an envelope built elsewhere (e.g. `session.ready` to the tab being set up). */
  deliver<T extends EventType>(
    event: EventEnvelope<T>,
    options: Pick<PublishOptions, 'tab' | 'backends'> = {},
  ): void {
    if (options.tab !== undefined && SECRET_EVENTS.has(event.type)) {
      // A session token or a SIP password: only on a socket this instance owns, never through
      // the adapter's Redis stream. The caller makes sure it runs on the tab's instance.
      if (!this.emitLocal(options.tab, event))
        this.logger.warn(`${event.type} for tab ${options.tab} not sent: the tab is not on this instance`);
      return;
    }
    const target = options.tab ?? rooms.agent(event.domain, event.ipphone);
    this.emit(this.agentNsp, target, event);
    this.metrics.eventDelivered(options.tab ? 'tab' : 'agent');
    if (forBackends(event.type, options)) {
      this.emit(this.eventsNsp, rooms.domain(event.domain), event);
      this.metrics.eventDelivered('events');
    }
    this.logger.debug(
      `${event.type} #${event.id} -> ${event.domain}/${event.ipphone}${options.tab ? ` tab ${options.tab}` : ''}`,
    );
  }

  /**
   * Ends every tab of an agent, on every instance (the adapter carries room emits and
   * `disconnectSockets`): each gets `session.error` with `error`, then is closed. `except`: a tab
   * the caller closes itself (after answering its command).
   */
  closeAgentTabs(agent: AgentRef, error: { code: ErrorCode; message: string }, except?: string): void {
    const nsp = this.agentNsp;
    if (!nsp) return;
    const room = rooms.agent(agent.domain, agent.ipphone);
    const targets = except === undefined ? nsp.to(room) : nsp.to(room).except(except);
    targets.emit('session.error', {
      id: '0',
      type: 'session.error',
      domain: agent.domain,
      ipphone: agent.ipphone,
      at: new Date().toISOString(),
      data: error,
    });
    (except === undefined ? nsp.in(room) : nsp.in(room).except(except)).disconnectSockets(true);
  }

  /** Whether `tabId` is a socket of this instance (not merely of the cluster). */
  ownsTab(tabId: string): boolean {
    return this.agentNsp?.sockets.has(tabId) ?? false;
  }

  /** Emits on a socket this instance owns; false when it has no such socket. */
  private emitLocal<T extends EventType>(
    tabId: string,
    event: EventEnvelope<T>,
    nsp: AgentNamespace | EventsNamespace | undefined = this.agentNsp,
  ): boolean {
    const socket = nsp?.sockets.get(tabId);
    if (!socket) return false;
    (socket as unknown as { emit(type: string, payload: EventEnvelope<T>): boolean }).emit(event.type, event);
    return true;
  }

  /**
   * Delivers an envelope to one tab (on any instance) and waits until the tab acknowledges it
   * (its SDK acknowledges every event after handing it to the page), at most `timeoutMs`.
   * Resolves `false` when it did not: the tab is gone, frozen, or an old client that does not
   * acknowledge; the caller goes on as if it were gone.
   */
  async deliverConfirmed<T extends EventType>(
    event: EventEnvelope<T>,
    tabId: string,
    timeoutMs: number,
  ): Promise<boolean> {
    if (!this.agentNsp) return false;
    // Socket.IO's mapped event typing cannot follow a generic key; the envelope's type is the key.
    const target = this.agentNsp.to(tabId).timeout(timeoutMs) as unknown as {
      emitWithAck(type: string, payload: EventEnvelope<T>): Promise<unknown[]>;
    };
    try {
      const answers = await target.emitWithAck(event.type, event);
      this.logger.debug(`${event.type} #${event.id} -> tab ${tabId}: ${answers.length} ack(s)`);
      return answers.length > 0;
    } catch (err) {
      this.logger.warn(
        `${event.type} #${event.id} -> tab ${tabId}: not acknowledged within ${timeoutMs} ms (${(err as Error).message})`,
      );
      return false;
    }
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
