import { io, type Socket } from 'socket.io-client';
import {
  AGENT_NAMESPACE,
  type AnyEventEnvelope,
  compareEventIds,
  parseEventId,
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

/**
 * A CRM tab (or a backend on /events) for tests: a real socket.io-client that records every event
 * it receives, in order. Opened with `lastEventId` (a resume), it drops ids it has seen as a client
 * must, since a resume redelivers events from a few seconds before that id (README, "Events are
 * durable"): those given in `seen` (the ids the previous connection received), every id at or
 * below `floor` (by default `lastEventId` when no `seen` is given: it cannot tell), and any id it
 * received already. What it dropped is kept in `redelivered`.
 */
export class Tab {
  readonly events: AnyEventEnvelope[] = [];
  /** Resumed: the events dropped as already seen (not in `events`). */
  readonly redelivered: AnyEventEnvelope[] = [];
  private waiters: Array<() => void> = [];
  private readonly listeners: Array<(event: AnyEventEnvelope) => void> = [];

  private constructor(
    readonly socket: TabClient,
    private readonly resume?: { seen: Set<string>; floor?: string },
  ) {
    for (const type of EventTypes) {
      const record = (event: AnyEventEnvelope, ack?: unknown): void => {
        if (this.alreadySeen(event)) this.redelivered.push(event);
        else {
          this.events.push(event);
          for (const listener of this.listeners) listener(event);
        }
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
    options: { origin?: string; namespace?: string; seen?: Iterable<string>; floor?: string } = {},
  ): Promise<Tab> {
    const socket: TabClient = io(`${url}${options.namespace ?? AGENT_NAMESPACE}`, {
      auth,
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      ...(options.origin ? { extraHeaders: { origin: options.origin } } : {}),
    });
    const from = auth.lastEventId === undefined ? undefined : parseEventId(auth.lastEventId);
    const tab = new Tab(
      socket,
      from === undefined
        ? undefined
        : {
            seen: new Set(options.seen),
            ...(options.floor !== undefined
              ? { floor: options.floor }
              : options.seen === undefined
                ? { floor: from }
                : {}),
          },
    );
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

  /** Calls `listener` with each event recorded from now on (not those dropped as seen). */
  onEvent(listener: (event: AnyEventEnvelope) => void): void {
    this.listeners.push(listener);
  }

  get id(): string {
    return this.socket.id ?? '';
  }

  /** The ids of the events recorded (what a resuming client passes on as `seen`). */
  get seenIds(): string[] {
    return this.events.map((e) => e.id);
  }

  /** A resumed tab's rule (see the class): `session.ready`, refusals and resyncs always count. */
  private alreadySeen(event: AnyEventEnvelope): boolean {
    const resume = this.resume;
    const notLogged = ['session.ready', 'session.error', 'events.resync'];
    if (!resume || notLogged.includes(event.type)) return false;
    if (parseEventId(event.id) === undefined) return false;
    const seen =
      resume.seen.has(event.id) ||
      (resume.floor !== undefined && compareEventIds(event.id, resume.floor) <= 0);
    resume.seen.add(event.id);
    return seen;
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
  /** between probes; longer for a probe that counts against a quota (a login) */
  intervalMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** The agent tabs a test opens (logged in through the gateway), closed together afterwards. */
export class AgentTabs {
  private readonly opened: Tab[] = [];

  /** `url`: the gateway to log in and connect to, unless `open` names another. */
  constructor(private readonly url: () => string) {}

  async open(
    ipphone: string,
    options: { url?: string; lastEventId?: string; seen?: Iterable<string> } = {},
  ): Promise<Tab> {
    const url = options.url ?? this.url();
    const tab = await Tab.open(
      url,
      {
        domain: 'demo',
        token: await login(url, ipphone),
        ...(options.lastEventId ? { lastEventId: options.lastEventId } : {}),
      },
      options.seen === undefined ? {} : { seen: options.seen },
    );
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
