import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { AnyEventEnvelope } from '@callgate/contracts';
import type { WebhookConfig } from '@callgate/auth';
import type { GatewayConfig } from '../config.js';
import { METRICS, type Metrics } from '../infra/metrics.js';
import { GATEWAY_CONFIG } from '../tokens.js';
import { MemoryQueueStore, type QueueRef, RedisQueueStore, type WebhookQueueStore } from './queue-store.js';
import { retryDelayMs, signatureHeader } from './signature.js';

/** Dead letters kept per domain (newest first). */
export const DEAD_LETTERS_KEPT = 1000;
/** How often an idle worker (or one that does not lead its queue) looks again. */
const POLL_MS = 500;

/** A delivery given up after its last attempt, as GET /v1/{domain}/webhooks/failures shows it. */
export interface WebhookFailure {
  url: string;
  eventId: string;
  eventType: string;
  attempts: number;
  /** the last attempt's HTTP status or network error */
  error: string;
  failedAt: string;
  event: AnyEventEnvelope;
}

/** Where the event bus hands the events meant for CRM backends. */
export interface WebhookSink {
  /**
   * Queues the event for each of its domain's webhooks that wants it; resolves once it is queued
   * (or could not be: logged with the event id). Never rejects.
   */
  queued(event: AnyEventEnvelope): Promise<void>;
}

/**
 * Webhooks: each event of a domain that CRM backends get on /events is queued for each of the
 * domain's webhooks that wants its type, then POSTed in order, one at a time per webhook, signed
 * (`Callgate-Signature`), retried with back-off until a 2xx answer, and after the last attempt kept
 * as a dead letter. At least once: a receiver de-duplicates by event id (`Callgate-Event-Id`).
 */
@Injectable()
export class WebhooksService implements WebhookSink, OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Webhooks');
  private readonly store: WebhookQueueStore;
  private readonly workers: Worker[] = [];
  private readonly pending = new Set<Promise<void>>();
  private stopped = false;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(METRICS) private readonly metrics: Metrics,
  ) {
    const hooks = config.domains.domainNames().flatMap((d) => config.domains.domain(d).webhooks);
    this.store =
      config.redisUrl && hooks.length > 0
        ? new RedisQueueStore(config.redisUrl, config.redisKeyPrefix, config.instanceId, (err) =>
            this.logger.warn(`redis: ${err.message}`),
          )
        : new MemoryQueueStore();
  }

  onApplicationBootstrap(): void {
    for (const domain of this.config.domains.domainNames()) {
      for (const hook of this.config.domains.domain(domain).webhooks) {
        const worker = new Worker(
          { domain, url: hook.url },
          hook,
          this.store,
          this.config,
          this.metrics,
          this.logger,
        );
        this.workers.push(worker);
        worker.start();
      }
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([...this.pending]);
    await Promise.allSettled(this.workers.map((w) => w.stop()));
    await this.store.close();
  }

  queued(event: AnyEventEnvelope): Promise<void> {
    const workers = this.workers.filter(
      (w) => w.queue.domain === event.domain && (w.hook.events?.includes(event.type) ?? true),
    );
    if (workers.length === 0) return Promise.resolve();
    if (this.stopped) {
      // After the queues closed (the last moments of a shutdown): said, not silently dropped.
      this.logger.warn(
        `${event.domain}/${event.ipphone}: event ${event.id} (${about(event)}) not queued for webhooks: the instance is stopping`,
      );
      return Promise.resolve();
    }
    const body = JSON.stringify(event);
    const pushes = workers.map((worker) =>
      this.store.push(worker.queue, body).then(
        () => worker.wake(),
        (err: unknown) =>
          this.logger.error(
            `${event.domain}/${event.ipphone}: event ${event.id} (${about(event)}) could not be queued for ${worker.hook.url}: ${(err as Error).message}`,
          ),
      ),
    );
    const all = Promise.all(pushes).then(() => undefined);
    this.pending.add(all);
    void all.finally(() => this.pending.delete(all));
    return all;
  }

  async failures(domain: string, limit = 100): Promise<WebhookFailure[]> {
    return (await this.store.deadLetters(domain, limit)).map((raw) => JSON.parse(raw) as WebhookFailure);
  }
}

/** An event as log lines name it: its type, its agent (`<domain>/<ipphone>`) and call, if any. */
function about(event: AnyEventEnvelope): string {
  return `${event.type} of ${event.domain}/${event.ipphone}${event.callId ? `, call ${event.callId}` : ''}`;
}

/** Sends one queue's events in order while this instance leads it. */
class Worker {
  private running: Promise<void> | undefined;
  private stopping = false;
  private wakeUp: (() => void) | undefined;
  /** attempts at the current head, and when the next one may go */
  private attempts = 0;
  private notBefore = 0;
  private lastError = '';

  constructor(
    readonly queue: QueueRef,
    readonly hook: WebhookConfig,
    private readonly store: WebhookQueueStore,
    private readonly config: GatewayConfig,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {}

  private get name(): string {
    return `${this.queue.domain} webhook ${this.hook.url}`;
  }

  start(): void {
    this.running = this.loop();
  }

  wake(): void {
    this.wakeUp?.();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wake();
    await this.running;
    await this.store.release(this.queue).catch((err: unknown) => {
      this.logger.warn(`${this.name}: releasing the lead failed (it lapses): ${(err as Error).message}`);
    });
  }

  private async loop(): Promise<void> {
    const leaseMs = this.config.leaseMs;
    while (!this.stopping) {
      try {
        if (!(await this.store.lead(this.queue, leaseMs))) {
          this.attempts = 0;
          await this.sleep(Math.min(POLL_MS, leaseMs / 3));
          continue;
        }
        const wait = this.notBefore - Date.now();
        if (wait > 0) {
          await this.sleep(Math.min(wait, leaseMs / 3));
          continue;
        }
        const item = await this.store.peek(this.queue);
        if (item === null) {
          await this.sleep(Math.min(POLL_MS, leaseMs / 3));
          continue;
        }
        await this.attempt(item);
      } catch (err) {
        this.logger.warn(`${this.name}: queue unavailable: ${(err as Error).message}`);
        await this.sleep(POLL_MS);
      }
    }
  }

  private async attempt(item: string): Promise<void> {
    const event = JSON.parse(item) as AnyEventEnvelope;
    this.attempts += 1;
    const outcome = await this.post(item, event);
    if (outcome === 'ok') {
      await this.store.pop(this.queue, item);
      this.metrics.eventDelivered('webhook');
      this.attempts = 0;
      this.notBefore = 0;
      return;
    }
    this.lastError = outcome;
    const { maxAttempts, retryMs } = this.config.webhooks;
    if (this.attempts >= maxAttempts) {
      this.logger.error(
        `${this.name}: event ${event.id} (${about(event)}) given up after ${this.attempts} attempts: ${outcome}`,
      );
      const failure = {
        url: this.hook.url,
        eventId: event.id,
        eventType: event.type,
        attempts: this.attempts,
        error: this.lastError,
        failedAt: new Date().toISOString(),
        event,
      };
      await this.store.deadLetter(this.queue, item, JSON.stringify(failure), DEAD_LETTERS_KEPT);
      this.attempts = 0;
      this.notBefore = 0;
      return;
    }
    const delay = retryDelayMs(this.attempts, retryMs);
    this.logger.warn(
      `${this.name}: event ${event.id} (${about(event)}) attempt ${this.attempts} failed (${outcome}); retry in ${delay} ms`,
    );
    this.notBefore = Date.now() + delay;
  }

  /** One POST: 'ok' on a 2xx answer, else what went wrong. */
  private async post(body: string, event: AnyEventEnvelope): Promise<string> {
    const timestamp = Math.floor(Date.now() / 1000);
    try {
      const res = await fetch(this.hook.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'callgate-webhooks',
          'callgate-event-id': event.id,
          'callgate-event-type': event.type,
          'callgate-signature': signatureHeader(this.hook.secret, body, timestamp),
        },
        body,
        signal: AbortSignal.timeout(this.config.webhooks.timeoutMs),
        redirect: 'manual',
      });
      await res.arrayBuffer().catch(() => undefined);
      return res.status >= 200 && res.status < 300 ? 'ok' : `HTTP ${res.status}`;
    } catch (err) {
      const cause = (err as Error & { cause?: Error }).cause;
      return `${(err as Error).message}${cause ? ` (${cause.message})` : ''}`;
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
  }
}
