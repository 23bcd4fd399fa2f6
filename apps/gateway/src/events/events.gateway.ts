import { Inject, Logger } from '@nestjs/common';
import { type OnGatewayConnection, type OnGatewayInit, WebSocketGateway } from '@nestjs/websockets';
import type { Socket } from 'socket.io';
import { logText } from '@callgate/call-core';
import {
  CallgateError,
  EVENTS_NAMESPACE,
  parseEventId,
  type ServerToClientEvents,
} from '@callgate/contracts';
import type { GatewayConfig } from '../config.js';
import { toErrorBody } from '../errors.js';
import { EventBus, type EventsNamespace } from './event-bus.js';
import { rooms } from './rooms.js';
import { GATEWAY_CONFIG } from '../tokens.js';
import { apiKeyMatches } from '../http/api-key.js';

type BackendSocket = Socket<Record<string, never>, ServerToClientEvents>;

/** Namespace `/events`: CRM backends receive every event of their domain (`auth: {domain, apiKey}`). */
@WebSocketGateway({ namespace: EVENTS_NAMESPACE })
export class EventsGateway implements OnGatewayInit, OnGatewayConnection {
  private readonly logger = new Logger(EventsGateway.name);

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly bus: EventBus,
  ) {}

  afterInit(nsp: EventsNamespace): void {
    this.bus.attachEventsNamespace(nsp);
  }

  handleConnection(socket: BackendSocket): void {
    const raw: unknown = socket.handshake.auth;
    const auth = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
    const domain = typeof auth.domain === 'string' ? auth.domain : '';
    try {
      const config = this.config.domains.domain(domain);
      if (typeof auth.apiKey !== 'string' || !apiKeyMatches(config.apiKeys, auth.apiKey)) {
        throw new CallgateError('UNAUTHORIZED', 'a valid apiKey for this domain is required');
      }
    } catch (err) {
      const error = toErrorBody(err);
      this.logger.warn(`backend refused (${logText(domain || '?')}): ${error.code}`);
      socket.emit('session.error', {
        id: '0',
        type: 'session.error',
        domain,
        ipphone: '',
        at: new Date().toISOString(),
        data: error,
      });
      socket.disconnect(true);
      return;
    }
    void socket.join(rooms.domain(domain));
    this.logger.log(`${domain}: backend ${socket.id} subscribed`);
    const given = auth.lastEventId;
    if (given === undefined || given === '') return;
    const resync = (afterId: string): void => {
      socket.emit('events.resync', {
        id: afterId,
        type: 'events.resync',
        domain,
        ipphone: '',
        at: new Date().toISOString(),
        data: { afterId },
      });
    };
    const lastEventId = parseEventId(given);
    // Not an id the log can hold (20 nines, the max id, not a string): resync, the store never sees it.
    if (lastEventId === undefined) {
      resync('0-0');
      return;
    }
    // From a few seconds before lastEventId (an older event can have reached it after a newer
    // one, live through the adapter): the backend drops the ids it has (README, /events).
    this.bus.replay(domain, lastEventId, undefined, { lookBack: true }).then(
      ({ events, gap }) => {
        if (gap) resync(lastEventId);
        else this.bus.replayTo('events', socket.id, events);
      },
      (err: unknown) => {
        this.logger.error(
          `backend ${socket.id}: replay after ${lastEventId} failed: ${logText(String(err))}`,
        );
        socket.emit('session.error', {
          id: '0',
          type: 'session.error',
          domain,
          ipphone: '',
          at: new Date().toISOString(),
          data: toErrorBody(err),
        });
        socket.disconnect(true);
      },
    );
  }
}
