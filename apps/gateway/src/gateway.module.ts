import { type DynamicModule, Module } from '@nestjs/common';
import type { Coordination } from '@callgate/coordination';
import { AgentGateway } from './agent/agent.gateway.js';
import { AgentService } from './agent/agent.service.js';
import type { GatewayConfig } from './config.js';
import { VoiceRelay } from './agent/voice-relay.js';
import { NestBrowserCalls } from './calls/browser-calls.js';
import { CallEngine } from './calls/call-engine.service.js';
import { TransferService } from './calls/transfers.js';
import { EventBus } from './events/event-bus.js';
import { EventsGateway } from './events/events.gateway.js';
import { Peers } from './infra/peers.js';
import { createMetrics, METRICS, type Metrics, MetricsController } from './infra/metrics.js';
import { EmbedController, ThreeCScriptsController } from './http/embed.controller.js';
import { WebhooksController } from './webhooks/webhooks.controller.js';
import { WebhooksService } from './webhooks/webhooks.service.js';
import { HealthController } from './http/health.controller.js';
import { LoginController } from './http/login.controller.js';
import { RestController } from './http/rest.controller.js';
import { DocsController } from './http/docs.controller.js';
import { SessionService } from './session/session.service.js';
import { DialGuard } from './security/dial-guard.js';
import { AlohubController } from './http/alohub.controller.js';
import { Quotas } from './security/quotas.js';
import { BrowserCalls, type CallEventsPort, TransferLedger, type VoiceTabPort } from '@callgate/calls';
import { BusCallEvents } from './calls/adapters/call-events.js';
import { JsSipPort } from './calls/adapters/sip.js';
import { sipLogger } from './infra/logging.js';
import { CALL_EVENTS, COORDINATION, GATEWAY_CONFIG, SIP_PORT, TRANSFER_LEDGER, VOICE_TAB } from './tokens.js';

@Module({})
export class GatewayModule {
  static forRoot(
    config: GatewayConfig,
    coordination: Coordination,
    metrics: Metrics = createMetrics(config),
  ): DynamicModule {
    return {
      module: GatewayModule,
      controllers: [
        LoginController,
        EmbedController,
        HealthController,
        RestController,
        DocsController,
        MetricsController,
        ThreeCScriptsController,
        AlohubController,
        WebhooksController,
      ],
      providers: [
        { provide: GATEWAY_CONFIG, useValue: config },
        { provide: COORDINATION, useValue: coordination },
        { provide: METRICS, useValue: metrics },
        // libs/calls' ports and the one transfer ledger of this gateway
        { provide: SIP_PORT, useValue: new JsSipPort(sipLogger(config.logFormat)) },
        { provide: CALL_EVENTS, useFactory: (bus: EventBus) => new BusCallEvents(bus), inject: [EventBus] },
        { provide: TRANSFER_LEDGER, useValue: new TransferLedger() },
        { provide: VOICE_TAB, useExisting: VoiceRelay },
        EventBus,
        Peers,
        SessionService,
        AgentService,
        CallEngine,
        {
          provide: BrowserCalls,
          useFactory: (
            engine: CallEngine,
            events: CallEventsPort,
            voiceTabs: VoiceTabPort,
            ledger: TransferLedger,
          ): BrowserCalls =>
            new NestBrowserCalls({
              location: engine.location,
              voiceTabs,
              events,
              ledger,
              ringTimeoutMs: config.ringTimeoutMs,
              setNoAnswer: (agent) => coordination.agents.setCallStatus(agent, 'noAnswer'),
            }),
          inject: [CallEngine, CALL_EVENTS, VOICE_TAB, TRANSFER_LEDGER],
        },
        TransferService,
        VoiceRelay,
        AgentGateway,
        EventsGateway,
        DialGuard,
        WebhooksService,
        Quotas,
      ],
    };
  }
}
