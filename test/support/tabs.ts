import { io, type Socket } from 'socket.io-client';
import {
  AGENT_NAMESPACE,
  type AnyEventEnvelope,
  type ClientToServerEvents,
  type CommandAck,
  type CommandName,
  type CommandPayload,
  type EventEnvelope,
  EventTypes,
  type EventType,
  type ServerToClientEvents,
} from '@callgate/contracts';
import { login } from './gateway.js';

export type TabClient = Socket<ServerToClientEvents, ClientToServerEvents>;

/** A CRM tab for tests: a real socket.io-client that records every event it receives, in order. */
export class Tab {
  readonly events: AnyEventEnvelope[] = [];
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: TabClient) {
    for (const type of EventTypes) {
      const record = (event: AnyEventEnvelope, ack?: unknown): void => {
        this.events.push(event);
        for (const wake of this.waiters) wake();
        // as the SDK does: an event the gateway waits for is acknowledged once received
        if (typeof ack === 'function') (ack as (answer: { ok: true }) => void)({ ok: true });
      };
      (socket as unknown as { on(type: string, fn: (e: AnyEventEnvelope, ack?: unknown) => void): void }).on(
        type,
        record,
      );
    }
    // A test tab has no in-page phone: asked to stop it, it has nothing to stop.
    socket.on('voice.stop', (_request, ack) => ack({ ok: true }));
    socket.on('disconnect', () => {
      for (const wake of this.waiters) wake();
    });
  }

  /** Opens a tab and waits for `session.ready` or `session.error` (whichever comes). */
  static async open(
    url: string,
    auth: { domain: string; token?: string; apiKey?: string; lastEventId?: string },
    options: { origin?: string; namespace?: string } = {},
  ): Promise<Tab> {
    const socket: TabClient = io(`${url}${options.namespace ?? AGENT_NAMESPACE}`, {
      auth,
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      ...(options.origin ? { extraHeaders: { origin: options.origin } } : {}),
    });
    const tab = new Tab(socket);
    if ((options.namespace ?? AGENT_NAMESPACE) === AGENT_NAMESPACE) {
      await tab.waitFor((e) => e.type === 'session.ready' || e.type === 'session.error');
    } else {
      // /events sends nothing on success; a refusal is session.error then a disconnect.
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no connection to /events')), 5000);
        socket.once('connect', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return tab;
  }

  get id(): string {
    return this.socket.id ?? '';
  }

  of<T extends EventType>(type: T): EventEnvelope<T>[] {
    return this.events.filter((e): e is AnyEventEnvelope & EventEnvelope<T> => e.type === type);
  }

  /** Resolves with the first recorded event (already received or to come) that matches. */
  waitFor(
    match: (e: AnyEventEnvelope) => boolean,
    timeoutMs = 5000,
    what = 'event',
  ): Promise<AnyEventEnvelope> {
    return this.until(() => this.events.find(match), timeoutMs, what);
  }

  /** Waits for the n-th event of a type (1-based). */
  async nth<T extends EventType>(type: T, n: number, timeoutMs = 5000): Promise<EventEnvelope<T>> {
    return this.until(() => this.of(type)[n - 1], timeoutMs, `${type} #${n}`);
  }

  waitForDisconnect(timeoutMs = 5000): Promise<true> {
    return this.until(() => (this.socket.connected ? undefined : true), timeoutMs, 'disconnect');
  }

  command<K extends CommandName>(
    name: K,
    payload: CommandPayload<K>,
    timeoutMs = 5000,
  ): Promise<CommandAck<K>> {
    const emitter = this.socket.timeout(timeoutMs) as unknown as {
      emitWithAck(name: string, payload: unknown): Promise<CommandAck<K>>;
    };
    return emitter.emitWithAck(name, payload);
  }

  /** Sends anything, as a hostile or buggy client might, and returns the acknowledgement. */
  raw(name: string, ...args: unknown[]): Promise<unknown> {
    const emitter = this.socket.timeout(5000) as unknown as {
      emitWithAck(name: string, ...args: unknown[]): Promise<unknown>;
    };
    return emitter.emitWithAck(name, ...args);
  }

  close(): void {
    this.socket.disconnect();
  }

  private until<T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = probe();
        if (found === undefined) return false;
        cleanup();
        resolve(found);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}; got: ${this.events.map((e) => e.type).join(', ')}`,
          ),
        );
      }, timeoutMs);
      const wake = (): void => void check();
      const cleanup = (): void => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== wake);
      };
      this.waiters.push(wake);
      check();
    });
  }
}

/** Polls a condition until it holds (for state with no event, e.g. a lock expiring), bounded by a timeout. */
export async function eventually<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 5000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The agent tabs a test opens (logged in through the gateway), closed together afterwards. */
export class AgentTabs {
  private readonly opened: Tab[] = [];

  /** `url`: the gateway to log in and connect to, unless `open` names another. */
  constructor(private readonly url: () => string) {}

  async open(ipphone: string, options: { url?: string; lastEventId?: string } = {}): Promise<Tab> {
    const url = options.url ?? this.url();
    const tab = await Tab.open(url, {
      domain: 'demo',
      token: await login(url, ipphone),
      ...(options.lastEventId ? { lastEventId: options.lastEventId } : {}),
    });
    this.opened.push(tab);
    return tab;
  }

  /** Keeps a tab opened otherwise (a backend on /events) to close it with the others. */
  add(tab: Tab): Tab {
    this.opened.push(tab);
    return tab;
  }

  /** Closes every tab and waits until each is disconnected. */
  async closeAll(): Promise<void> {
    for (const tab of this.opened.splice(0)) {
      tab.close();
      await tab.waitForDisconnect();
    }
  }
}
