export type Listener<T> = (payload: T) => void;

type ListenerSets<M> = { [K in keyof M]?: Set<Listener<M[K]>> };

/**
 * A small typed emitter. Every listener of an event runs even when one of them throws:
 * the error is reported with `console.error` naming the event, never swallowed, and the
 * emitter's own state is untouched (the `safeEmit` idea of mediasoup).
 */
export class TypedEmitter<M extends object> {
  private listeners: ListenerSets<M> = {};

  /** @param context prefix of the error report, e.g. `callgate` */
  constructor(private readonly context: string) {}

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof M>(type: K, listener: Listener<M[K]>): () => void {
    let set = this.listeners[type];
    if (!set) {
      set = new Set();
      this.listeners[type] = set;
    }
    set.add(listener);
    return () => this.off(type, listener);
  }

  /** Adds a listener that runs for the next event of `type` only. */
  once<K extends keyof M>(type: K, listener: Listener<M[K]>): () => void {
    const off = this.on(type, (payload) => {
      off();
      listener(payload);
    });
    return off;
  }

  off<K extends keyof M>(type: K, listener: Listener<M[K]>): void {
    this.listeners[type]?.delete(listener);
  }

  /** Calls every listener of `type` in the order they were added; a throwing one is reported. */
  emit<K extends keyof M>(type: K, payload: M[K]): void {
    const set = this.listeners[type];
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener(payload);
      } catch (error) {
        console.error(`[${this.context}] a listener of "${String(type)}" threw`, error);
      }
    }
  }

  listenerCount(type: keyof M): number {
    return this.listeners[type]?.size ?? 0;
  }

  removeAllListeners(): void {
    this.listeners = {};
  }
}
