// Prometheus metrics (prom-client), one registry per gateway instance, served at GET /metrics.
// Everything counted goes through the small `Metrics` interface below, injected (token METRICS)
// where it is counted; the names, labels and buckets live here only.
import { timingSafeEqual } from 'node:crypto';
import { Controller, Get, Header, Headers, Inject } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CallgateError, type AnyEventEnvelope, type DeviceType } from '@callgate/contracts';
import type { AgentRef, RedisCommandObserver } from '@callgate/coordination';
import type { GatewayConfig } from '../config.js';
import { GATEWAY_CONFIG } from '../tokens.js';

/** Nest injection token of the instance's `Metrics`. */
export const METRICS = Symbol('METRICS');

/** Values read at each scrape, registered by whoever owns them. */
export type GaugeSource = 'tabs' | 'backends' | 'linesRegistered' | 'leasesHeld';

/** Where an event was sent: a room of tabs, the domain's backends, one tab, a webhook, a replay. */
export type DeliveryTarget = 'agent' | 'events' | 'tab' | 'webhook' | 'replay';

export type PeerOutcome = 'ok' | 'error';

/** What the gateway counts. Implemented by `GatewayMetrics`; `NoMetrics` (METRICS_ENABLED=false) counts nothing. */
export interface Metrics extends RedisCommandObserver {
  /** `read` is called at each scrape (the last registration for a source wins). */
  gauge(source: GaugeSource, read: () => number): void;
  /** An event envelope was built (it is in the domain's log); call events move the call gauges. */
  eventPublished(event: AnyEventEnvelope): void;
  eventDelivered(target: DeliveryTarget, count?: number): void;
  /** A reconnecting client was too far behind the event log and got a snapshot instead. */
  resync(namespace: 'agent' | 'events'): void;
  registrationFailed(domain: string): void;
  leaseLost(): void;
  peerRequest(op: string, seconds: number, outcome: PeerOutcome): void;
  /** How the device mode of an agent's new call is found (set by the call engine). */
  setModeResolver(resolve: (agent: AgentRef) => Promise<DeviceType>): void;
}

/** Call states as the gauges show them, derived from the call's events. */
type CallStateLabel = 'dialing' | 'ringing' | 'agentRinging' | 'connected' | 'held';
type ModeLabel = `${DeviceType}` | 'unknown';

interface TrackedCall {
  state: CallStateLabel;
  mode: ModeLabel;
  startedAt: number;
  connected: boolean;
}

/** Calls tracked at most (an instance that died mid-call never sends the end): oldest dropped. */
const MAX_TRACKED_CALLS = 10_000;

const CALL_START: Partial<Record<AnyEventEnvelope['type'], CallStateLabel>> = {
  'call.ringing': 'ringing',
  'callout.started': 'dialing',
  'call.agentRinging': 'agentRinging',
  'call.accepted': 'connected',
  'call.customerAccepted': 'connected',
  'call.held': 'held',
  'call.unheld': 'connected',
};

export class GatewayMetrics implements Metrics {
  readonly registry = new Registry();
  private readonly sources = new Map<GaugeSource, () => number>();
  private readonly calls = new Map<string, TrackedCall>();
  private resolveMode: ((agent: AgentRef) => Promise<DeviceType>) | undefined;

  private readonly callsStarted: Counter<'mode' | 'direction'>;
  private readonly callsEnded: Counter<'mode' | 'outcome'>;
  private readonly callSetup: Histogram<'mode'>;
  private readonly published: Counter<'type'>;
  private readonly delivered: Counter<'target'>;
  private readonly resyncs: Counter<'namespace'>;
  private readonly registrationFailures: Counter<'domain'>;
  private readonly leasesLost: Counter;
  private readonly redisLatency: Histogram<'command'>;
  private readonly redisErrors: Counter<'command'>;
  private readonly peerLatency: Histogram<'op' | 'outcome'>;

  constructor(instanceId: string) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ instance_id: instanceId });
    collectDefaultMetrics({ register: this.registry });
    const source = (name: GaugeSource) => () => this.sources.get(name)?.() ?? 0;
    const sourced = (name: string, help: string, from: GaugeSource): void => {
      const read = source(from);
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    };
    sourced('callgate_tabs_connected', 'Agent tabs connected to this instance (/agent)', 'tabs');
    sourced('callgate_backends_connected', 'CRM backends connected to this instance (/events)', 'backends');
    sourced(
      'callgate_lines_registered',
      'Server-side SIP lines (device modes 2-4) this instance has registered with the PBX',
      'linesRegistered',
    );
    sourced('callgate_leases_held', 'Agent ownership leases this instance holds', 'leasesHeld');
    const calls = this.calls;
    new Gauge({
      name: 'callgate_calls',
      help: 'Calls in progress whose events this instance publishes, by state and device mode',
      labelNames: ['state', 'mode'] as const,
      registers,
      collect() {
        this.reset();
        for (const call of calls.values()) this.inc({ state: call.state, mode: call.mode });
      },
    });
    this.callsStarted = new Counter({
      name: 'callgate_calls_started_total',
      help: 'Calls started, by device mode and direction',
      labelNames: ['mode', 'direction'] as const,
      registers,
    });
    this.callsEnded = new Counter({
      name: 'callgate_calls_ended_total',
      help: 'Calls ended (outcome ended) or callouts that failed (outcome failed), by device mode',
      labelNames: ['mode', 'outcome'] as const,
      registers,
    });
    this.callSetup = new Histogram({
      name: 'callgate_call_setup_seconds',
      help: "Time from a call's first event (ringing or callout started) to its first answer",
      labelNames: ['mode'] as const,
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60],
      registers,
    });
    this.published = new Counter({
      name: 'callgate_events_published_total',
      help: 'Events built and appended to the event log, by type',
      labelNames: ['type'] as const,
      registers,
    });
    this.delivered = new Counter({
      name: 'callgate_events_delivered_total',
      help: 'Event sends, by target (a room of tabs, the backends, one tab, a webhook POST, a replay)',
      labelNames: ['target'] as const,
      registers,
    });
    this.resyncs = new Counter({
      name: 'callgate_event_resyncs_total',
      help: 'Reconnecting clients too far behind the event log (sent a snapshot instead of a replay)',
      labelNames: ['namespace'] as const,
      registers,
    });
    this.registrationFailures = new Counter({
      name: 'callgate_registration_failures_total',
      help: 'Failed SIP registrations of server-side lines, by domain',
      labelNames: ['domain'] as const,
      registers,
    });
    this.leasesLost = new Counter({
      name: 'callgate_leases_lost_total',
      help: 'Agent leases this instance lost to another instance',
      registers,
    });
    this.redisLatency = new Histogram({
      name: 'callgate_redis_command_seconds',
      help: 'Redis command latency (coordination client), by command',
      labelNames: ['command'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    this.redisErrors = new Counter({
      name: 'callgate_redis_errors_total',
      help: 'Redis commands that failed (error reply, timeout, connection lost), by command',
      labelNames: ['command'] as const,
      registers,
    });
    this.peerLatency = new Histogram({
      name: 'callgate_peer_request_seconds',
      help: 'Requests to other gateway instances (commands routed to the owner), by operation and outcome',
      labelNames: ['op', 'outcome'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers,
    });
  }

  gauge(source: GaugeSource, read: () => number): void {
    this.sources.set(source, read);
  }

  eventPublished(event: AnyEventEnvelope): void {
    this.published.inc({ type: event.type });
    if (event.callId !== undefined) this.trackCall(event, event.callId);
  }

  eventDelivered(target: DeliveryTarget, count = 1): void {
    this.delivered.inc({ target }, count);
  }

  resync(namespace: 'agent' | 'events'): void {
    this.resyncs.inc({ namespace });
  }

  registrationFailed(domain: string): void {
    this.registrationFailures.inc({ domain });
  }

  leaseLost(): void {
    this.leasesLost.inc();
  }

  peerRequest(op: string, seconds: number, outcome: PeerOutcome): void {
    this.peerLatency.observe({ op, outcome }, seconds);
  }

  redisCommand(command: string, seconds: number, failed: boolean): void {
    this.redisLatency.observe({ command }, seconds);
    if (failed) this.redisErrors.inc({ command });
  }

  setModeResolver(resolve: (agent: AgentRef) => Promise<DeviceType>): void {
    this.resolveMode = resolve;
  }

  /** The Prometheus text exposition. */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }

  private trackCall(event: AnyEventEnvelope, callId: string): void {
    const known = this.calls.get(callId);
    if (event.type === 'call.ended' || event.type === 'callout.failed') {
      if (!known) return;
      this.calls.delete(callId);
      this.callsEnded.inc({ mode: known.mode, outcome: event.type === 'call.ended' ? 'ended' : 'failed' });
      return;
    }
    const state = CALL_START[event.type];
    if (state === undefined) return;
    if (known) {
      known.state = state;
      if (state === 'connected' && !known.connected) {
        known.connected = true;
        this.callSetup.observe({ mode: known.mode }, (performance.now() - known.startedAt) / 1000);
      }
      return;
    }
    if (state === 'connected' || state === 'held') return; // a call that started elsewhere
    const call: TrackedCall = { state, mode: 'unknown', startedAt: performance.now(), connected: false };
    if (this.calls.size >= MAX_TRACKED_CALLS) {
      const oldest = this.calls.keys().next();
      if (!oldest.done) this.calls.delete(oldest.value);
    }
    this.calls.set(callId, call);
    const direction = state === 'ringing' ? 'inbound' : 'outbound';
    const counted = (mode: ModeLabel): void => {
      call.mode = mode;
      this.callsStarted.inc({ mode, direction });
    };
    if (!this.resolveMode) {
      counted('unknown');
      return;
    }
    this.resolveMode({ domain: event.domain, ipphone: event.ipphone }).then(
      (mode) => counted(`${mode}`),
      () => counted('unknown'),
    );
  }
}

/** METRICS_ENABLED=false: every count is a no-op, no registry, no process sampling; /metrics answers 404. */
export class NoMetrics implements Metrics {
  gauge(): void {}
  eventPublished(): void {}
  eventDelivered(): void {}
  resync(): void {}
  registrationFailed(): void {}
  leaseLost(): void {}
  peerRequest(): void {}
  redisCommand(): void {}
  setModeResolver(): void {}
}

/** The instance's metrics as configured: prom-client's, or none. */
export function createMetrics(config: Pick<GatewayConfig, 'metricsEnabled' | 'instanceId'>): Metrics {
  return config.metricsEnabled ? new GatewayMetrics(config.instanceId) : new NoMetrics();
}

/** Compares a presented bearer token with the configured one in constant time. */
function tokenMatches(expected: string, presented: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(presented);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * `GET /metrics` in the Prometheus text format. With `METRICS_TOKEN` set, only for
 * `Authorization: Bearer <METRICS_TOKEN>` (401 UNAUTHORIZED otherwise). With METRICS_ENABLED=false,
 * 404 NOT_FOUND.
 */
@Controller()
export class MetricsController {
  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(METRICS) private readonly metrics: Metrics,
  ) {}

  @Get('metrics')
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  @Header('cache-control', 'no-store')
  metricsText(@Headers('authorization') authorization: string | undefined): Promise<string> {
    if (!(this.metrics instanceof GatewayMetrics))
      throw new CallgateError(
        'NOT_FOUND',
        'metrics are switched off on this instance (METRICS_ENABLED=false)',
      );
    const token = this.config.metricsToken;
    if (token !== undefined) {
      const presented = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
      if (presented === undefined || !tokenMatches(token, presented)) {
        throw new CallgateError(
          'UNAUTHORIZED',
          'send the metrics token as "Authorization: Bearer <METRICS_TOKEN>"',
        );
      }
    }
    return this.metrics.scrape();
  }
}
