import { io, type Socket } from 'socket.io-client';
import {
  AGENT_NAMESPACE,
  compareEventIds,
  EVENT_ID_PATTERN,
  EventTypes,
  isCallCommandName,
  isErrorCode,
  type AgentHandshake,
  type ClientToServerEvents,
  type CommandAck,
  type CommandName,
  type CommandPayload,
  type EventEnvelope,
  type EventType,
  type ServerToClientEvents,
  type VoiceCommandRequest,
} from '@callgate/contracts';
import { BrowserPhone, type VoiceHandlers } from './browser-phone.js';
import { TypedEmitter, type Listener } from './emitter.js';

/** How long `command()` waits for the gateway's acknowledgement unless told otherwise. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 10_000;
/** How many recent event ids a client keeps to drop an event it receives twice. */
const RECENT_IDS = 1024;

export interface ConnectOptions {
  /**
   * Base URL of the gateway, e.g. `https://callgate.example.com`. A path is allowed when the
   * gateway is mounted under a prefix (`https://example.com/callgate`): Socket.IO then uses
   * `/callgate/socket.io`.
   */
  gatewayUrl: string;
  domain: string;
  /** A gateway session token, or the CRM token that was logged in. */
  token: string;
  /**
   * Resume after this event id (the events after it are replayed, with those of a few seconds
   * before it: see `seenEventIds`).
   */
  lastEventId?: string;
  /**
   * The ids the page already had (a previous client's `seenEventIds`), with `lastEventId`: a
   * resume redelivers events from a few seconds before its resume point (one it missed may be
   * there), and the ones listed here are dropped. Without it, every event at or below
   * `lastEventId` counts as seen.
   */
  seenEventIds?: readonly string[];
  /** Default acknowledgement timeout of `command()`; 10 s when absent. */
  commandTimeoutMs?: number;
  /** Reconnect after a dropped connection (Socket.IO backoff); default true. */
  reconnection?: boolean;
  /** First reconnection delay, doubled up to 5 s (Socket.IO's backoff); 1 s when absent. */
  reconnectionDelayMs?: number;
  /** Run the in-page phone when this tab holds voice in browser mode (default true). */
  phone?: boolean;
}

/**
 * Codes of failures decided by the client, not the gateway; they complete the contracts'
 * `ErrorCode` list on the SDK side.
 * - `COMMAND_TIMEOUT`: the gateway did not acknowledge in time (the command may still have run).
 * - `NOT_CONNECTED`: the client is closed, or the connection dropped before the answer came.
 */
export type ClientFailureCode = 'COMMAND_TIMEOUT' | 'NOT_CONNECTED';

export interface ClientFailure {
  ok: false;
  code: ClientFailureCode;
  message: string;
}

/**
 * What `command()` resolves to: the gateway's acknowledgement, or a failure decided by the
 * client. It never rejects, so a page can `await` it without a try/catch.
 */
export type CommandAnswer<K extends CommandName> = CommandAck<K> | ClientFailure;

/** Events of the connection itself, produced by the client (no envelope, no id). */
export interface ConnectionEventMap {
  /** The socket connected; `reconnected` after a dropped connection came back. */
  'connection.open': { reconnected: boolean };
  /** The connection dropped; the client retries when `willRetry` (3C `csOndisconnected`). */
  'connection.lost': { reason: string; willRetry: boolean };
  /** A reconnection attempt starts (3C `csNotifyReconnecting`). */
  'connection.retrying': { attempt: number };
  /** An attempt failed at the transport level (gateway unreachable); the client keeps retrying. */
  'connection.error': { code: 'CONNECT_FAILED'; message: string };
  /** The gateway refused the handshake (bad token, unknown domain...); the client stopped. */
  'connection.refused': { code: string; message: string };
  /** The client stopped for good: `close()`, `session.error`, a refusal or a server disconnect. */
  closed: { reason: string };
}

/** Every event of the gateway under its type, with its envelope. */
export type EnvelopeEventMap = { [K in EventType]: EventEnvelope<K> };

/** What `on()` accepts: the gateway's events (envelopes) and the connection's own events. */
export type ClientEventMap = EnvelopeEventMap & ConnectionEventMap;

type AgentSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** `socket.timeout(ms).emit(...)` for one command, typed per command. */
type TimedEmit = <K extends CommandName>(
  name: K,
  payload: CommandPayload<K>,
  ack: (error: Error | null, answer: unknown) => void,
) => void;

/**
 * A connection of one tab to the gateway's `/agent` namespace.
 *
 * - `on(type, handler)` for every event of the contracts' `EventDataMap` (the handler gets the
 *   envelope) and for the connection events of `ConnectionEventMap`.
 * - `command(name, payload)` sends a command and resolves to its acknowledgement; it never
 *   rejects: a missing answer resolves to `{ ok: false, code: 'COMMAND_TIMEOUT' | 'NOT_CONNECTED' }`.
 * - Reconnects by itself (resuming after `lastEventId`, with the session token of
 *   `session.ready`) until `close()`, a `session.error` or a refused handshake.
 */
export class CallgateClient {
  readonly domain: string;
  private readonly emitter = new TypedEmitter<ClientEventMap>('callgate');
  private readonly socket: AgentSocket;
  private readonly commandTimeoutMs: number;
  private token: string;
  private lastId: string | undefined;
  /** The resume point of the current connection (a restarted log answers below it). */
  private resumePoint: string | undefined;
  /**
   * Ids at or below it count as seen without a record: an id forgotten from `recent`, or the
   * `lastEventId` a client was given without the ids seen up to it.
   */
  private floor: string | undefined;
  /**
   * The id of the last snapshot that started the page's view afresh (a `session.ready` that
   * resumed nothing, or a resync): a later resume's window may reach back before it, to events
   * the snapshot already covers and the page never had; they are dropped.
   */
  private snapshotAt: string | undefined;
  /**
   * The ids received lately, oldest first: drops an event received twice (a resume replays from
   * a few seconds before its resume point, and an event can come both replayed and live).
   */
  private readonly recent = new Set<string>();
  private everConnected = false;
  private closeReason: string | undefined;

  constructor(options: ConnectOptions) {
    this.domain = options.domain;
    this.token = options.token;
    this.lastId = options.lastEventId;
    const seen = options.seenEventIds?.filter((id) => this.isEventId(id)) ?? [];
    if (seen.length === 0) this.floor = this.lastId;
    else for (const id of [...seen].sort(compareEventIds).slice(-RECENT_IDS)) this.recent.add(id);
    this.commandTimeoutMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    const { origin, path } = socketTarget(options.gatewayUrl);
    this.socket = io(origin + AGENT_NAMESPACE, {
      path,
      transports: ['websocket'],
      forceNew: true,
      reconnection: options.reconnection ?? true,
      reconnectionDelay: options.reconnectionDelayMs ?? 1000,
      // evaluated on every (re)connection, so a reconnect resumes where the tab was
      auth: (cb) => cb(this.handshake()),
    });
    for (const type of EventTypes) this.listen(type);
    this.socket.on('connect', () => this.handleConnect());
    this.socket.on('disconnect', (reason) => this.handleDisconnect(reason));
    this.socket.on('connect_error', (error) => this.handleConnectError(error));
    this.socket.io.on('reconnect_attempt', (attempt) => {
      if (!this.closed) this.emitter.emit('connection.retrying', { attempt });
    });
  }

  /** The id of the last event received; a new client given it resumes after it. */
  get lastEventId(): string | undefined {
    return this.lastId;
  }

  /** The ids received lately (oldest first); a new client given them with `lastEventId` drops them. */
  get seenEventIds(): string[] {
    return [...this.recent];
  }

  get connected(): boolean {
    return this.socket.connected;
  }

  get closed(): boolean {
    return this.closeReason !== undefined;
  }

  /** Why the client stopped (`CLIENT_CLOSED`, a `session.error` code...), once it has. */
  get closedReason(): string | undefined {
    return this.closeReason;
  }

  /** Listens to an event; returns a function that removes the handler. */
  on<K extends keyof ClientEventMap>(type: K, handler: Listener<ClientEventMap[K]>): () => void {
    return this.emitter.on(type, handler);
  }

  once<K extends keyof ClientEventMap>(type: K, handler: Listener<ClientEventMap[K]>): () => void {
    return this.emitter.once(type, handler);
  }

  off<K extends keyof ClientEventMap>(type: K, handler: Listener<ClientEventMap[K]>): void {
    this.emitter.off(type, handler);
  }

  /**
   * Sends a command and resolves to the gateway's acknowledgement (`{ ok: true, ...result }` or
   * `{ ok: false, code, message }`). While the connection is down the command waits in Socket.IO's
   * buffer for at most the timeout; it is never sent after its answer was given up on.
   */
  command<K extends CommandName>(
    name: K,
    payload: CommandPayload<K>,
    options: { timeoutMs?: number } = {},
  ): Promise<CommandAnswer<K>> {
    if (this.closeReason !== undefined) {
      return Promise.resolve(
        failure('NOT_CONNECTED', `${name} was not sent: the client is closed (${this.closeReason})`),
      );
    }
    const timeoutMs = options.timeoutMs ?? this.commandTimeoutMs;
    const timed = this.socket.timeout(timeoutMs);
    const emit = timed.emit.bind(timed) as unknown as TimedEmit;
    return new Promise((resolve) => {
      emit(name, payload, (error, answer) => {
        if (!error) {
          resolve(toAnswer<K>(name, answer));
        } else if (this.socket.connected) {
          resolve(failure('COMMAND_TIMEOUT', `${name}: no answer from the gateway within ${timeoutMs} ms`));
        } else {
          resolve(
            failure('NOT_CONNECTED', `${name}: the connection to the gateway was down before an answer came`),
          );
        }
      });
    });
  }

  /**
   * Serves the gateway's requests to this tab's in-page phone (browser mode): `voice.command`
   * (run a call command, answer like a command ack) and `voice.stop` (unregister first).
   */
  serveVoice(handlers: VoiceHandlers): void {
    const on = this.socket.on.bind(this.socket) as unknown as (
      event: string,
      listener: (request: unknown, ack?: (answer: unknown) => void) => void,
    ) => void;
    on('voice.command', (request, ack) => {
      const r = (request ?? {}) as { name?: unknown; payload?: unknown };
      if (!isCallCommandName(r.name) || typeof r.payload !== 'object' || r.payload === null) {
        ack?.({ ok: false, code: 'UNKNOWN_COMMAND', message: `not a call command: ${String(r.name)}` });
        return;
      }
      // The gateway builds the payload from its typed command (VoiceRequests['voice.command']).
      void handlers
        .command({ name: r.name, payload: r.payload } as VoiceCommandRequest)
        .then((answer) => ack?.(answer));
    });
    on('voice.transfer', (request, ack) => {
      const r = (request ?? {}) as { callId?: unknown; target?: unknown };
      if (typeof r.callId !== 'string' || typeof r.target !== 'string' || !/^sips?:/i.test(r.target)) {
        ack?.({ ok: false, code: 'TRANSFER_CALL_FAILED', message: 'malformed transfer request' });
        return;
      }
      void handlers.transfer({ callId: r.callId, target: r.target }).then((answer) => ack?.(answer));
    });
    on('voice.stop', (request, ack) => {
      const asked = (request as { reason?: unknown } | null)?.reason;
      const reason = typeof asked === 'string' ? asked : 'stop';
      void handlers.stop(reason).then(() => ack?.({ ok: true }));
    });
  }

  /** Closes the connection and stops reconnecting. Idempotent; emits `closed` once. */
  close(reason = 'CLIENT_CLOSED'): void {
    this.finish(reason);
  }

  private handshake(): AgentHandshake {
    const auth: AgentHandshake = { domain: this.domain, token: this.token };
    this.resumePoint = this.lastId;
    if (this.snapshotAt !== undefined) this.raiseFloor(this.snapshotAt);
    if (this.lastId !== undefined) auth.lastEventId = this.lastId;
    return auth;
  }

  private listen<K extends EventType>(type: K): void {
    // Socket.IO's typings cannot index the event map with a generic key; the cast keeps K intact
    const on = this.socket.on.bind(this.socket) as (
      event: K,
      listener: (envelope: EventEnvelope<K>, ack?: unknown) => void,
    ) => void;
    on(type, (envelope, ack) => {
      this.receive(type, envelope);
      // The gateway waits for this on events that must reach the page before it goes on (the
      // losing tab's voice.changed before the winner's): acknowledged once the page was told.
      if (typeof ack === 'function') (ack as (answer: { ok: true }) => void)({ ok: true });
    });
  }

  private receive<K extends EventType>(type: K, envelope: EventEnvelope<K>): void {
    if (this.closed) return;
    if (typeof envelope !== 'object' || envelope === null || typeof envelope.id !== 'string') {
      console.error(`[callgate] dropped a malformed "${type}" event`, envelope);
      return;
    }
    // A session.error is not in the event log (a refused handshake's has id "0"): it is neither
    // deduplicated nor remembered as the resume point, so it always reaches the page.
    const logged = envelope.type !== 'session.error' && envelope.id !== '0';
    // A resumed connection may get an event both replayed and live, and a resume replays from a
    // few seconds before its resume point: the first one counts, by id. Live events of one agent
    // made on two instances may arrive out of id order: an older id not seen yet still counts (so
    // one missed just before a disconnect comes with the replay; only ids seen lately, or at or
    // below the floor, are dropped), and lastEventId stays the newest. `session.ready` is never a
    // duplicate (one per connection, never replayed) and always counts; when its id is not above
    // the resume point, the gateway's log started again (a restarted gateway or store, clock set
    // back; the gateway answered the resume with a resync): the old ids mean nothing there, and
    // the ids that follow are compared with its id instead, so nothing after the restart is dropped.
    if (envelope.type === 'session.ready') {
      const from = this.resumePoint;
      if (from !== undefined && this.isEventId(from) && compareEventIds(envelope.id, from) <= 0) {
        this.floor = envelope.id;
        this.recent.clear();
      }
      const resumed = (envelope as EventEnvelope<'session.ready'>).data.resumed;
      if (this.isEventId(envelope.id) && (resumed === undefined || 'resync' in resumed))
        this.snapshotAt = envelope.id;
    } else if (logged && this.alreadySeen(envelope.id)) {
      return;
    }
    if (logged) this.remember(envelope.id, envelope.type === 'session.ready');
    if (envelope.type === 'session.ready') {
      const ready = envelope as EventEnvelope<'session.ready'>;
      if (ready.data.sessionToken) this.token = ready.data.sessionToken;
    }
    const emit = this.emitter.emit.bind(this.emitter) as (event: K, payload: EventEnvelope<K>) => void;
    emit(type, envelope);
    if (envelope.type === 'session.error') {
      const error = envelope as EventEnvelope<'session.error'>;
      this.finish(error.data.code);
    }
  }

  private isEventId(id: string): boolean {
    return EVENT_ID_PATTERN.test(id);
  }

  private alreadySeen(id: string): boolean {
    if (this.recent.has(id)) return true;
    const floor = this.floor;
    return (
      floor !== undefined && this.isEventId(floor) && this.isEventId(id) && compareEventIds(id, floor) <= 0
    );
  }

  /** Ids at or below `id` count as seen from now on (the floor only rises). */
  private raiseFloor(id: string): void {
    const floor = this.floor;
    if (floor === undefined || !this.isEventId(floor) || compareEventIds(id, floor) > 0) this.floor = id;
  }

  /** Keeps `id` among the recent ones and moves lastEventId to it when newer (or when `always`). */
  private remember(id: string, always: boolean): void {
    this.recent.add(id);
    if (this.recent.size > RECENT_IDS) {
      const oldest = this.recent.values().next();
      if (!oldest.done) {
        this.recent.delete(oldest.value);
        // no record below it any more: it counts as seen (a replay window reaches back that far)
        if (this.isEventId(oldest.value)) this.raiseFloor(oldest.value);
      }
    }
    const last = this.lastId;
    if (always || last === undefined || !this.isEventId(last) || compareEventIds(id, last) > 0)
      this.lastId = id;
  }

  private handleConnect(): void {
    if (this.closed) return;
    const reconnected = this.everConnected;
    this.everConnected = true;
    this.emitter.emit('connection.open', { reconnected });
  }

  private handleDisconnect(reason: string): void {
    if (this.closed) return;
    // `active` is false when the server disconnected us on purpose: Socket.IO will not retry
    const willRetry = this.socket.active;
    this.emitter.emit('connection.lost', { reason, willRetry });
    if (!willRetry) this.finish('SERVER_DISCONNECT');
  }

  private handleConnectError(error: Error & { data?: unknown }): void {
    if (this.closed) return;
    if (this.socket.active) {
      this.emitter.emit('connection.error', { code: 'CONNECT_FAILED', message: error.message });
      return;
    }
    // refused by the namespace's middleware: Socket.IO does not retry, and neither do we
    const code = refusalCode(error);
    this.emitter.emit('connection.refused', { code, message: error.message });
    this.finish(code);
  }

  private finish(reason: string): void {
    if (this.closeReason !== undefined) return;
    this.closeReason = reason;
    this.socket.disconnect();
    this.emitter.emit('closed', { reason });
  }
}

/** Opens a connection to the gateway's `/agent` namespace; see `CallgateClient`. */
export function connect(options: ConnectOptions): CallgateClient {
  const client = new CallgateClient(options);
  // The in-page phone (device mode 1) starts when the gateway hands this tab the SIP account.
  if (options.phone !== false) new BrowserPhone(client);
  return client;
}

/** Socket.IO URL and engine path for a gateway URL that may carry a path prefix. */
export function socketTarget(gatewayUrl: string): { origin: string; path: string } {
  const url = new URL(gatewayUrl);
  const prefix = url.pathname.replace(/\/+$/, '');
  return { origin: url.origin, path: `${prefix}/socket.io` };
}

function failure(code: ClientFailureCode, message: string): ClientFailure {
  return { ok: false, code, message };
}

function toAnswer<K extends CommandName>(name: K, answer: unknown): CommandAck<K> {
  if (typeof answer === 'object' && answer !== null && 'ok' in answer && typeof answer.ok === 'boolean') {
    return answer as CommandAck<K>;
  }
  return { ok: false, code: 'INTERNAL_ERROR', message: `${name}: the gateway answered with a malformed ack` };
}

/** The code of a refused handshake: `error.data.code`, or the message when it is an error code. */
function refusalCode(error: Error & { data?: unknown }): string {
  const data = error.data;
  if (typeof data === 'object' && data !== null && 'code' in data && typeof data.code === 'string') {
    return data.code;
  }
  return isErrorCode(error.message) ? error.message : 'UNAUTHORIZED';
}
