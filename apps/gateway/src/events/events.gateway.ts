import { Inject, Logger } from '@nestjs/common';
import { type OnGatewayConnection, type OnGatewayInit, WebSocketGateway } from '@nestjs/websockets';
import type { Socket } from 'socket.io';
import { CallgateError, EVENTS_NAMESPACE, type ServerToClientEvents } from '@callgate/contracts';
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
      this.logger.warn(`backend refused (${domain || '?'}): ${error.code}`);
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
    this.logger.log(`backend ${socket.id} subscribed to ${domain}`);
    const lastEventId = auth.lastEventId;
    if (typeof lastEventId === 'string' && lastEventId !== '') {
      this.bus.replay(domain, lastEventId).then(
        ({ events, gap }) => {
          if (gap) {
            socket.emit('events.resync', {
              id: lastEventId,
              type: 'events.resync',
              domain,
              ipphone: '',
              at: new Date().toISOString(),
              data: { afterId: lastEventId },
            });
          } else this.bus.replayTo('events', socket.id, events);
        },
        (err: unknown) => {
          this.logger.error(`backend ${socket.id}: replay after ${lastEventId} failed: ${String(err)}`);
          socket.disconnect(true);
        },
      );
    }
  }
}
