import { SipError } from './errors.js';

/** Event name -> payload type. Each event carries one payload object. */
export type EventMap<E> = { [K in keyof E]: object };

export type Listener<P> = (payload: P) => void;

/**
 * A small typed event emitter. `safeEmit` calls every listener even when one throws:
 * the error goes to `onListenerError` and never unwinds into the emitter's own state
 * changes (as mediasoup's EnhancedEventEmitter does).
 */
export class TypedEmitter<E extends EventMap<E>> {
  /** Type-only: lets `waitForEvent()` infer the event map of an emitter. Never set. */
  declare readonly eventMap?: E;
  private readonly listeners = new Map<keyof E, Set<Listener<never>>>();

  /** Called with a listener's exception; the default writes to stderr. */
  protected onListenerError(event: keyof E, error: unknown): void {
    process.stderr.write(`listener of '${String(event)}' threw: ${String(error)}\n`);
  }

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof E>(event: K, listener: Listener<E[K]>): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener);
    return () => this.off(event, listener);
  }

  /** Adds a listener called at most once; returns a function that removes it. */
  once<K extends keyof E>(event: K, listener: Listener<E[K]>): () => void {
    const off = this.on(event, (payload) => {
      off();
      listener(payload);
    });
    return off;
  }

  off<K extends keyof E>(event: K, listener: Listener<E[K]>): void {
    this.listeners.get(event)?.delete(listener);
  }

  listenerCount(event: keyof E): number {
    return this.listeners.get(event)?.size ?? 0;
  }

  removeAllListeners(): void {
    this.listeners.clear();
  }

  protected safeEmit<K extends keyof E>(event: K, payload: E[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as Listener<E[K]>)(payload);
      } catch (error) {
        try {
          this.onListenerError(event, error);
        } catch {
          // The error reporter itself failed: nothing sensible is left to do.
        }
      }
    }
  }
}

export interface WaitForEventOptions<P> {
  /** Rejects with a TIMEOUT SipError after this long (default 10 s). */
  timeoutMs?: number;
  /** Only a payload for which this returns true resolves the wait. */
  filter?: (payload: P) => boolean;
}

/** Resolves with the next payload of `event` (matching `filter`), or rejects after a timeout. */
export function waitForEvent<E extends EventMap<E>, K extends keyof E>(
  emitter: TypedEmitter<E>,
  event: K,
  options: WaitForEventOptions<E[K]> = {},
): Promise<E[K]> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  return new Promise<E[K]>((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(SipError.timeout(`waiting for '${String(event)}'`, timeoutMs));
    }, timeoutMs);
    const off = emitter.on(event, (payload) => {
      if (options.filter && !options.filter(payload)) return;
      clearTimeout(timer);
      off();
      resolve(payload);
    });
  });
}
