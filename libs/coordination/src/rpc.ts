// Requests between gateway instances over a message transport (Redis pub/sub, or in-process
// delivery for the memory store). Each instance listens on its own channel; a request carries the
// sender's id so the answer goes back to the sender's channel. Nothing is queued: a request to an
// instance that does not listen fails at once, one that gets no answer fails after its timeout.
import { CallgateError, isErrorCode } from '@callgate/contracts';
import type { CoordinationLogger } from './types.js';

/** Sends one message to an instance's channel; resolves with how many listeners received it. */
export type RpcSend = (to: string, message: string) => Promise<number>;

type RpcMessage =
  | { kind: 'req'; id: string; from: string; body: string }
  | { kind: 'res'; id: string; ok: true; body: string }
  | { kind: 'res'; id: string; ok: false; code: string; message: string };

interface Pending {
  resolve: (body: string) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class RpcPeer {
  private handler: ((body: string) => Promise<string>) | undefined;
  private readonly pending = new Map<string, Pending>();
  private seq = 0;

  constructor(
    private readonly instanceId: string,
    private readonly send: RpcSend,
    private readonly logger: CoordinationLogger,
  ) {}

  serve(handler: (body: string) => Promise<string>): void {
    this.handler = handler;
  }

  request(to: string, body: string, timeoutMs: number): Promise<string> {
    this.seq += 1;
    const id = `${this.instanceId}#${this.seq}`;
    const message: RpcMessage = { kind: 'req', id, from: this.instanceId, body };
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => this.settle(id, unreachable(to, `no answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.pending.set(id, { resolve, reject, timer });
      this.send(to, JSON.stringify(message)).then(
        (receivers) => {
          if (receivers === 0) this.settle(id, unreachable(to, 'it is not listening'));
        },
        (error: unknown) => this.settle(id, error instanceof Error ? error : new Error(String(error))),
      );
    });
  }

  /** A message arrived on this instance's channel. */
  receive(raw: string): void {
    let message: RpcMessage;
    try {
      message = JSON.parse(raw) as RpcMessage;
    } catch {
      this.logger.warn('rpc: unreadable message dropped', { instanceId: this.instanceId });
      return;
    }
    if (message.kind === 'res') {
      this.settle(
        message.id,
        message.ok ? message.body : new CallgateError(codeOf(message.code), message.message),
      );
      return;
    }
    void this.answer(message);
  }

  /** Fails every request still waiting (the transport is closing). */
  close(): void {
    for (const id of [...this.pending.keys()])
      this.settle(id, unreachable('any', 'this instance is closing'));
  }

  private async answer(request: { id: string; from: string; body: string }): Promise<void> {
    let reply: RpcMessage;
    try {
      if (!this.handler)
        throw new CallgateError('INSTANCE_UNREACHABLE', `instance ${this.instanceId} takes no requests`);
      reply = { kind: 'res', id: request.id, ok: true, body: await this.handler(request.body) };
    } catch (error) {
      if (error instanceof CallgateError) {
        reply = { kind: 'res', id: request.id, ok: false, code: error.code, message: error.message };
      } else {
        this.logger.warn('rpc: request failed', { instanceId: this.instanceId, error: String(error) });
        reply = { kind: 'res', id: request.id, ok: false, code: 'INTERNAL_ERROR', message: 'internal error' };
      }
    }
    try {
      await this.send(request.from, JSON.stringify(reply));
    } catch (error) {
      // The requester times out; nothing else can be done from here.
      this.logger.warn('rpc: answer not sent', {
        instanceId: this.instanceId,
        to: request.from,
        error: String(error),
      });
    }
  }

  private settle(id: string, outcome: string | Error): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    this.pending.delete(id);
    clearTimeout(pending.timer);
    if (typeof outcome === 'string') pending.resolve(outcome);
    else pending.reject(outcome);
  }
}

function unreachable(instanceId: string, why: string): CallgateError {
  return new CallgateError('INSTANCE_UNREACHABLE', `gateway instance ${instanceId} is unreachable: ${why}`);
}

function codeOf(code: string): CallgateError['code'] {
  return isErrorCode(code) ? code : 'INTERNAL_ERROR';
}
