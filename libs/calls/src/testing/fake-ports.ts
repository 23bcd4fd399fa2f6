// In-memory fakes of the call events and agent location ports, and a logger that keeps its lines:
// what a call-flow test reads back after driving the call logic.
import type { CommandAck, CommandName, CommandPayload, EventDataMap, EventType } from '@callgate/contracts';
import type * as port from '../ports.js';

type VoiceTransferRequest = Parameters<port.VoiceTabPort['transfer']>[1];
type VoiceTransferAnswer = Awaited<ReturnType<port.VoiceTabPort['transfer']>>;

/** One event as published. */
export interface PublishedEvent<T extends EventType = EventType> {
  agent: port.AgentRef;
  type: T;
  data: EventDataMap[T];
  meta: port.CallEventMeta;
}

const agentKey = (agent: port.AgentRef): string => `${agent.domain}/${agent.ipphone}`;

/** Records every published event, in order. `failWith` makes the next publications reject. */
export class FakeCallEvents implements port.CallEventsPort {
  readonly published: PublishedEvent[] = [];
  /** set: publishing rejects with this error (the event is still recorded) */
  failWith: Error | undefined;

  publish<T extends EventType>(
    agent: port.AgentRef,
    type: T,
    data: EventDataMap[T],
    meta: port.CallEventMeta = {},
  ): Promise<void> {
    this.published.push({ agent, type, data, meta });
    return this.failWith ? Promise.reject(this.failWith) : Promise.resolve();
  }

  /** The events of `agent` (all agents' when unset), oldest first. */
  of(agent?: port.AgentRef): PublishedEvent[] {
    return agent ? this.published.filter((e) => agentKey(e.agent) === agentKey(agent)) : this.published;
  }

  /** The types of `agent`'s events, in order: the sequence a test asserts. */
  types(agent?: port.AgentRef): EventType[] {
    return this.of(agent).map((e) => e.type);
  }

  /** `[type, data]` of `agent`'s events, in order: the sequence with what each said. */
  sequence(agent?: port.AgentRef): [EventType, unknown][] {
    return this.of(agent).map((e) => [e.type, e.data]);
  }

  /** The last event of `type` of `agent`; throws when there is none. */
  last<T extends EventType>(type: T, agent?: port.AgentRef): PublishedEvent<T> {
    const found = this.of(agent).filter((e): e is PublishedEvent<T> => e.type === type);
    const event = found.at(-1);
    if (!event) throw new Error(`no ${type} was published`);
    return event;
  }

  clear(): void {
    this.published.length = 0;
  }
}

/**
 * Where agents' lines and voice tabs live, set by the test. `locate` decides as the port says:
 * the line's owner, else the voice tab's instance, else none.
 */
export class FakeAgentLocation implements port.AgentLocationPort {
  private readonly owners = new Map<string, string>();
  private readonly tabs = new Map<string, { instanceId: string; tabId: string }>();
  private live: string[];

  constructor(
    readonly instanceId = 'gw-1',
    live: readonly string[] = [instanceId],
  ) {
    this.live = [...live];
  }

  /** `instanceId` owns the agent's line (null: no line registers the agent). */
  setLineOwner(agent: port.AgentRef, instanceId: string | null): this {
    if (instanceId === null) this.owners.delete(agentKey(agent));
    else this.owners.set(agentKey(agent), instanceId);
    return this;
  }

  /** The agent's voice tab (null: none holds the voice lock). */
  setVoiceTab(agent: port.AgentRef, tab: { instanceId: string; tabId: string } | null): this {
    if (tab === null) this.tabs.delete(agentKey(agent));
    else this.tabs.set(agentKey(agent), tab);
    return this;
  }

  setLiveInstances(ids: readonly string[]): this {
    this.live = [...ids];
    return this;
  }

  liveInstances(): readonly string[] {
    return this.live;
  }

  lineOwner(agent: port.AgentRef): Promise<string | null> {
    return Promise.resolve(this.owners.get(agentKey(agent)) ?? null);
  }

  voiceTab(agent: port.AgentRef): Promise<{ instanceId: string; tabId: string } | null> {
    return Promise.resolve(this.tabs.get(agentKey(agent)) ?? null);
  }

  async locate(agent: port.AgentRef): Promise<port.AgentPlace> {
    const [owner, tab] = await Promise.all([this.lineOwner(agent), this.voiceTab(agent)]);
    const here = (instanceId: string): boolean => instanceId === this.instanceId;
    if (owner !== null) return { kind: 'line', instanceId: owner, here: here(owner) };
    return tab ? { kind: 'voiceTab', ...tab, here: here(tab.instanceId) } : { kind: 'none' };
  }
}

/** A logger that keeps its lines (`level message`), for tests that assert what was logged. */
export class RecordingLogger implements port.CallsLogger {
  readonly lines: string[] = [];

  log(message: string): void {
    this.lines.push(`info ${message}`);
  }
  warn(message: string): void {
    this.lines.push(`warn ${message}`);
  }
  error(message: string): void {
    this.lines.push(`error ${message}`);
  }
  debug(message: string): void {
    this.lines.push(`debug ${message}`);
  }

  /** The lines at `level`. */
  at(level: 'info' | 'warn' | 'error' | 'debug'): string[] {
    return this.lines
      .filter((line) => line.startsWith(`${level} `))
      .map((line) => line.slice(level.length + 1));
  }
}

/** One command or REFER sent to a voice tab. */
export type VoiceTabRequest =
  | { kind: 'command'; tabId: string; name: CommandName; payload: unknown; timeoutMs?: number }
  | { kind: 'transfer'; tabId: string; request: VoiceTransferRequest; timeoutMs: number };

/**
 * Voice tabs whose in-page phones answer as scripted: `referAnswer` is what the phone reports of
 * a REFER (default: it worked), `commandAnswer` what it answers a call command (default: not in a
 * call). Every request is recorded.
 */
export class FakeVoiceTabs implements port.VoiceTabPort {
  readonly requests: VoiceTabRequest[] = [];
  referAnswer: (tabId: string, request: VoiceTransferRequest) => VoiceTransferAnswer = (_tab, request) => ({
    ok: true,
    callId: request.callId,
  });
  commandAnswer: (tabId: string, name: CommandName, payload: unknown) => unknown = () => ({
    ok: false,
    code: 'NOT_IN_A_CALL',
    message: 'the in-page phone has no call',
  });

  command<K extends CommandName>(
    tabId: string,
    name: K,
    payload: CommandPayload<K>,
    timeoutMs?: number,
  ): Promise<CommandAck<K>> {
    this.requests.push({
      kind: 'command',
      tabId,
      name,
      payload,
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
    });
    return Promise.resolve(this.commandAnswer(tabId, name, payload) as CommandAck<K>);
  }

  transfer(tabId: string, request: VoiceTransferRequest, timeoutMs: number): Promise<VoiceTransferAnswer> {
    this.requests.push({ kind: 'transfer', tabId, request, timeoutMs });
    return Promise.resolve(this.referAnswer(tabId, request));
  }
}

/** One request sent to another gateway instance. */
export interface PeerRequest {
  instanceId: string;
  route: string;
  message: unknown;
}

/**
 * The other gateway instances, as a test scripts them: `answer` runs each request (default: the
 * instance does not answer). Every request is recorded.
 */
export class FakePeers implements port.TransferPeersPort {
  readonly requests: PeerRequest[] = [];
  answer: (request: PeerRequest) => Promise<unknown> = (request) =>
    Promise.reject(new Error(`${request.instanceId} does not answer ${request.route}`));

  constructor(readonly instanceId = 'gw-1') {}

  ask<R>(instanceId: string, route: string, message: unknown): Promise<R> {
    const request = { instanceId, route, message };
    this.requests.push(request);
    return this.answer(request) as Promise<R>;
  }
}
