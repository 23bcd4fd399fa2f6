import { Inject, Injectable } from '@nestjs/common';
import { CallgateError } from '@callgate/contracts';
import type { Coordination } from '@callgate/coordination';
import { COORDINATION } from '../tokens.js';
import { METRICS, type Metrics } from './metrics.js';

/** How long another instance may take to answer a request. */
const PEER_TIMEOUT_MS = 5_000;

type Handler = (payload: never) => Promise<unknown>;

/**
 * Requests between gateway instances, by name: a service registers what it answers (`handle`),
 * and asks another instance by id (`ask`); bodies travel as JSON over the coordination store.
 * A CallgateError thrown by the handler reaches the asker with its code.
 */
@Injectable()
export class Peers {
  private readonly handlers = new Map<string, Handler>();

  constructor(
    @Inject(COORDINATION) private readonly coordination: Coordination,
    @Inject(METRICS) private readonly metrics: Metrics,
  ) {
    coordination.cluster.serve((body) => this.dispatch(body));
  }

  get instanceId(): string {
    return this.coordination.instanceId;
  }

  handle<P, R>(op: string, handler: (payload: P) => Promise<R>): void {
    this.handlers.set(op, handler);
  }

  async ask<R>(instanceId: string, op: string, payload: unknown): Promise<R> {
    const started = performance.now();
    const seconds = (): number => (performance.now() - started) / 1000;
    let answer: string;
    try {
      answer = await this.coordination.cluster.request(
        instanceId,
        JSON.stringify({ op, payload }),
        PEER_TIMEOUT_MS,
      );
    } catch (err) {
      this.metrics.peerRequest(op, seconds(), 'error');
      throw err;
    }
    this.metrics.peerRequest(op, seconds(), 'ok');
    return JSON.parse(answer) as R;
  }

  private async dispatch(body: string): Promise<string> {
    const { op, payload } = JSON.parse(body) as { op: string; payload: never };
    const handler = this.handlers.get(op);
    if (!handler) throw new CallgateError('INSTANCE_UNREACHABLE', `this instance does not answer '${op}'`);
    return JSON.stringify((await handler(payload)) ?? null);
  }
}
