import { Inject, Logger } from '@nestjs/common';
import {
  type OnGatewayConnection,
  type OnGatewayDisconnect,
  type OnGatewayInit,
  WebSocketGateway,
} from '@nestjs/websockets';
import type { Socket } from 'socket.io';
import {
  AGENT_NAMESPACE,
  CallgateError,
  type ClientToServerEvents,
  type CommandFailure,
  type ErrorBody,
  isCommandName,
  parseEventId,
  type ServerToClientEvents,
} from '@callgate/contracts';
import { logText, parseCommand } from '@callgate/call-core';
import type { AgentRef } from '@callgate/coordination';
import type { GatewayConfig } from '../config.js';
import { toErrorBody } from '../errors.js';
import { type AgentNamespace, EventBus } from '../events/event-bus.js';
import { rooms } from '../events/rooms.js';
import { SessionService } from '../session/session.service.js';
import { GATEWAY_CONFIG } from '../tokens.js';
import { AgentService } from './agent.service.js';
import { originAllowed } from './origins.js';
import { VoiceRelay } from './voice-relay.js';
import { Quotas } from '../security/quotas.js';

interface TabData {
  /** set by the handshake middleware: the agent, or why the tab is refused */
  auth?:
    | { ok: true; agent: AgentRef; sessionToken: string; expiresAt: Date }
    | { ok: false; error: ErrorBody; domain: string };
  /** ends the tab when its session expires */
  expiry?: NodeJS.Timeout;
  /** resolves when the tab is counted and has its snapshot; commands wait for it */
  ready?: Promise<boolean>;
}

/** The longest delay setTimeout takes (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

type TabSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, TabData>;

/**
 * Namespace `/agent`: one socket per CRM tab. The handshake authenticates (`auth: {domain, token}`);
 * a refused tab receives `session.error` and is closed. Commands arrive as Socket.IO events with
 * an acknowledgement and are answered `{ok: true, ...}` or `{ok: false, code, message}`.
 */
@WebSocketGateway({ namespace: AGENT_NAMESPACE })
export class AgentGateway implements OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect {
  private readonly logger = new Logger(AgentGateway.name);
  private readonly pending = new Set<Promise<unknown>>();

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly sessions: SessionService,
    private readonly agents: AgentService,
    private readonly bus: EventBus,
    private readonly relay: VoiceRelay,
    private readonly quotas: Quotas,
  ) {}

  afterInit(nsp: AgentNamespace): void {
    this.bus.attachAgentNamespace(nsp);
    this.relay.attach(nsp);
    nsp.use((socket: TabSocket, next) => {
      this.authenticate(socket).then(
        (auth) => {
          socket.data.auth = auth;
          next();
        },
        (err: unknown) => next(err instanceof Error ? err : new Error(String(err))),
      );
    });
  }

  handleConnection(socket: TabSocket): void {
    const auth = socket.data.auth;
    if (!auth?.ok) {
      const error = auth?.error ?? { code: 'INVALID_REQUEST' as const, message: 'no handshake' };
      this.logger.warn(
        `tab refused (${logText(auth?.domain ?? '?')}): ${error.code} ${logText(error.message)}`,
      );
      socket.emit('session.error', {
        id: '0',
        type: 'session.error',
        domain: auth?.domain ?? '',
        ipphone: '',
        at: new Date().toISOString(),
        data: error,
      });
      socket.disconnect(true);
      return;
    }
    const { agent, sessionToken } = auth;
    this.expireAt(socket, auth.expiresAt);
    // Listen before any await, so a command sent right after connecting is not lost: it waits for `ready`.
    const commands = new Set<Promise<void>>();
    socket.onAny((name: unknown, ...args: unknown[]) => {
      const command: Promise<void> = this.onCommand(socket, agent, name, args)
        .then(async (closeTab) => {
          if (!closeTab) return;
          // Answer the tab's other commands in flight (e.g. the 3C unload's reConfigDeviceType) first.
          await Promise.allSettled([...commands].filter((other) => other !== command));
          socket.disconnect(true);
        })
        .catch((err: unknown) => {
          this.logger.error(`tab ${socket.id}: command ${logText(name)} broke: ${logText(String(err), 400)}`);
        });
      commands.add(command);
      void command.finally(() => commands.delete(command));
      this.track(command);
    });
    void socket.join(rooms.agent(agent.domain, agent.ipphone));
    // One chain with one catch: a store or SIP error anywhere in the start (snapshot, replay,
    // credentials) is answered with a code and closes this tab; it never escapes the handler.
    const ready = this.agents
      .connectTab(agent, socket.id)
      .then(async (snapshot) => {
        const resumed = await this.resume(socket, agent);
        const event = await this.bus.envelope(
          agent,
          'session.ready',
          { ...snapshot, sessionToken, ...(resumed ? { resumed } : {}) },
          { tab: socket.id },
        );
        this.bus.deliver(event, { tab: socket.id, backends: false });
        if (snapshot.isEnable && snapshot.deviceType === 1)
          await this.relay.sendCredentials(agent, socket.id);
        return true;
      })
      .catch((err: unknown) => {
        const error = toErrorBody(err);
        this.logger.error(
          `tab ${socket.id} of ${logText(agent.domain)}/${logText(agent.ipphone)} could not start: ${logText(String(err))}`,
        );
        socket.emit('session.error', {
          id: '0',
          type: 'session.error',
          domain: agent.domain,
          ipphone: agent.ipphone,
          at: new Date().toISOString(),
          data: error,
        });
        socket.disconnect(true);
        return false;
      });
    socket.data.ready = ready;
    this.track(ready);
  }

  handleDisconnect(socket: TabSocket): void {
    clearTimeout(socket.data.expiry);
    const auth = socket.data.auth;
    const ready = socket.data.ready;
    if (!auth?.ok || !ready) return;
    this.track(
      ready
        .then(async (started) => {
          if (started) await this.agents.disconnectTab(auth.agent, socket.id);
        })
        .catch((err: unknown) => {
          this.logger.error(
            `tab ${socket.id} of ${auth.agent.domain}/${auth.agent.ipphone} left uncleanly: ${String(err)}`,
          );
        }),
    );
  }

  /**
   * A tab that reconnects with `lastEventId` first gets the agent's events it missed, in order
   * (from a few seconds before `lastEventId`: the SDK drops the ones it has), then the fresh
   * snapshot, whose `resumed.replayed` counts the events after `lastEventId`. When the log no
   * longer holds them all, only the snapshot (resync).
   */
  private async resume(
    socket: TabSocket,
    agent: AgentRef,
  ): Promise<{ replayed: number } | { resync: true } | undefined> {
    const raw: unknown = socket.handshake.auth;
    const given =
      typeof raw === 'object' && raw !== null ? (raw as { lastEventId?: unknown }).lastEventId : undefined;
    if (given === undefined || given === '') return undefined;
    const lastEventId = parseEventId(given);
    if (lastEventId === undefined) {
      // Not an id the log can hold (20 nines, the max id, a number): the tab starts from the snapshot.
      this.logger.log(
        `tab ${socket.id} of ${agent.domain}/${agent.ipphone} resumes after no valid id: resync`,
      );
      return { resync: true };
    }
    const { events, gap, missed } = await this.bus.replay(agent.domain, lastEventId, agent.ipphone, {
      lookBack: true,
    });
    if (gap) {
      this.logger.log(
        `tab ${socket.id} of ${agent.domain}/${agent.ipphone} resumes too late after ${lastEventId}: resync`,
      );
      return { resync: true };
    }
    this.bus.replayTo('agent', socket.id, events);
    return { replayed: missed };
  }

  /** Waits for every connect, command and disconnect in flight (graceful shutdown). */
  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** Runs one command from a tab and answers it; resolves true when the tab must be closed. */
  private async onCommand(
    socket: TabSocket,
    agent: AgentRef,
    name: unknown,
    args: unknown[],
  ): Promise<boolean> {
    const last = args[args.length - 1];
    const ack = typeof last === 'function' ? (last as (answer: unknown) => void) : undefined;
    const payload = args.length > (ack ? 1 : 0) ? args[0] : undefined;
    const refuse = (failure: CommandFailure): void => {
      if (ack) ack(failure);
      else
        this.logger.warn(
          `tab ${socket.id}: ${String(name)} without acknowledgement refused: ${failure.code}`,
        );
    };
    try {
      await this.quotas.command(agent.domain, agent.ipphone, socket.id);
    } catch (err) {
      refuse({ ok: false, ...toErrorBody(err) });
      return false;
    }
    if (!isCommandName(name)) {
      refuse({
        ok: false,
        code: 'UNKNOWN_COMMAND',
        message: `unknown command ${JSON.stringify(String(name)).slice(0, 80)}`,
      });
      return false;
    }
    const parsed = parseCommand(name, payload);
    if (!parsed.ok) {
      refuse({ ok: false, code: parsed.code, message: parsed.message });
      return false;
    }
    if (!(await socket.data.ready)) return false;
    try {
      const result = await this.agents.execute({ agent, tabId: socket.id }, name, parsed.value);
      if (ack) ack({ ok: true, ...result });
      return name === 'session.unregister' || name === 'session.logout';
    } catch (err) {
      if (!(err instanceof CallgateError)) {
        this.logger.error(
          `${name} for ${agent.domain}/${agent.ipphone} failed: ${logText((err as Error).stack ?? String(err), 2000)}`,
        );
      }
      refuse({ ok: false, ...toErrorBody(err) });
      return false;
    }
  }

  private async authenticate(socket: TabSocket): Promise<NonNullable<TabData['auth']>> {
    const raw: unknown = socket.handshake.auth;
    const auth = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
    const domain = typeof auth.domain === 'string' ? auth.domain : '';
    try {
      if (typeof auth.token !== 'string' || auth.token === '' || domain === '') {
        throw new CallgateError('INVALID_REQUEST', 'the handshake needs auth: { domain, token }');
      }
      const domainConfig = this.config.domains.domain(domain);
      if (!originAllowed(domainConfig.allowedOrigins, socket.handshake.headers.origin)) {
        throw new CallgateError(
          'ORIGIN_NOT_ALLOWED',
          `origin ${socket.handshake.headers.origin ?? '(none)'} is not allowed for ${domain}`,
        );
      }
      const { agent, sessionToken, expiresAt } = await this.sessions.authenticate(domain, auth.token);
      const limit = this.quotas.tabsPerAgent(domain);
      if ((await this.agents.tabCount(agent)) >= limit) {
        throw new CallgateError('TOO_MANY_TABS', `agent ${agent.ipphone} already has ${limit} tabs open`);
      }
      return { ok: true, agent, sessionToken, expiresAt };
    } catch (err) {
      if (!(err instanceof CallgateError)) {
        this.logger.error(`handshake failed: ${logText((err as Error).stack ?? String(err), 2000)}`);
      }
      return { ok: false, error: toErrorBody(err), domain };
    }
  }

  /**
   * An open tab does not outlive its session: at `expiresAt` it gets `session.error
   * {code: 'SESSION_EXPIRED'}` and is closed (timers longer than Node's maximum are re-armed).
   */
  private expireAt(socket: TabSocket, expiresAt: Date): void {
    const left = expiresAt.getTime() - Date.now();
    const arm = Math.min(Math.max(0, left), MAX_TIMER_MS);
    socket.data.expiry = setTimeout(() => {
      if (expiresAt.getTime() > Date.now()) {
        this.expireAt(socket, expiresAt);
        return;
      }
      const auth = socket.data.auth;
      this.logger.log(`tab ${socket.id}: session expired, closed`);
      socket.emit('session.error', {
        id: '0',
        type: 'session.error',
        domain: auth?.ok ? auth.agent.domain : '',
        ipphone: auth?.ok ? auth.agent.ipphone : '',
        at: new Date().toISOString(),
        data: { code: 'SESSION_EXPIRED', message: 'the session has expired; log in again' },
      });
      socket.disconnect(true);
    }, arm);
    socket.data.expiry.unref();
  }

  private track(promise: Promise<unknown>): void {
    this.pending.add(promise);
    // Both arms: a rejected promise is forgotten too, without a second, unhandled rejection.
    const forget = (): void => void this.pending.delete(promise);
    void promise.then(forget, forget);
  }
}
