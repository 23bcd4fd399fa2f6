import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import {
  CallgateError,
  type CallCommandName,
  type CommandPayload,
  type CommandResult,
} from '@callgate/contracts';
import type { CallSnapshot } from '@callgate/call-core';
import type { AgentRef, AgentState, Coordination } from '@callgate/coordination';
import type { GatewayConfig } from '../config.js';
import { defaultAgentState } from '../agent/defaults.js';
import { EventBus } from '../events/event-bus.js';
import { COORDINATION, GATEWAY_CONFIG } from '../tokens.js';
import { CallNotAnsweredError, type ServerCall } from './server-call.js';
import { LineBusyError, ServerLine } from './server-line.js';

const key = (agent: AgentRef): string => `${agent.domain}/${agent.ipphone}`;

/**
 * Server-side calls (device modes 2, 3, 4): one registered line per agent that needs one.
 * - modes 3 and 4: registered whether or not the agent has a tab;
 * - mode 2: registered while the agent has at least one live tab;
 * - mode 1: no line here (the voice tab is the phone).
 * `reconcile(agent)` applies these rules after any change; calls in progress finish first.
 */
@Injectable()
export class CallEngine implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(CallEngine.name);
  private readonly lines = new Map<string, ServerLine>();
  /** per agent, the reconcile in progress: reconciles of one agent never overlap */
  private readonly queue = new Map<string, Promise<void>>();
  private stopping = false;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(COORDINATION) private readonly coordination: Coordination,
    private readonly bus: EventBus,
  ) {}

  onApplicationBootstrap(): void {
    for (const domain of this.config.domains.domainNames()) {
      for (const ipphone of this.config.domains.agentIds(domain)) this.reconcileSoon({ domain, ipphone });
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    await Promise.allSettled([...this.queue.values()]);
    await Promise.allSettled([...this.lines.values()].map((line) => line.close('gateway shutdown')));
    this.lines.clear();
  }

  /** Re-applies the registration rules for an agent in the background (errors are logged). */
  reconcileSoon(agent: AgentRef): void {
    this.reconcile(agent).catch((err: unknown) => {
      this.logger.error(`reconcile ${key(agent)} failed: ${String(err)}`);
    });
  }

  /** Re-applies the registration rules for an agent; resolves when its line is up or gone. */
  reconcile(agent: AgentRef): Promise<void> {
    const k = key(agent);
    const previous = this.queue.get(k) ?? Promise.resolve();
    const next = previous
      .then(() => this.apply(agent))
      .finally(() => {
        if (this.queue.get(k) === next) this.queue.delete(k);
      });
    this.queue.set(k, next);
    return next;
  }

  line(agent: AgentRef): ServerLine | undefined {
    return this.lines.get(key(agent));
  }

  registration(agent: AgentRef): { registered: boolean } | null {
    const line = this.line(agent);
    return line ? { registered: line.registered } : null;
  }

  snapshot(agent: AgentRef): CallSnapshot | null {
    return this.line(agent)?.call?.model.snapshot() ?? null;
  }

  /** Runs a call command for an agent whose device is server-side. */
  async command<K extends CallCommandName>(
    agent: AgentRef,
    name: K,
    payload: CommandPayload<K>,
  ): Promise<CommandResult<K>>;
  async command(
    agent: AgentRef,
    name: CallCommandName,
    payload: CommandPayload<CallCommandName>,
  ): Promise<CommandResult<CallCommandName>> {
    const line = this.line(agent);
    if (!line) {
      throw new CallgateError('DEVICE_NOT_AVAILABLE', `agent ${agent.ipphone} has no call device attached`);
    }
    if (name === 'call.dial') {
      const { number, transactionId } = payload as CommandPayload<'call.dial'>;
      if (line.call)
        throw new CallgateError('CALLOUT_AGENT_BUSY', `agent ${agent.ipphone} is already in a call`);
      if (!line.ua.isConnected) {
        throw new CallgateError(
          'IPCC_NOT_CONNECT_AGENT_ID',
          `the PBX connection of agent ${agent.ipphone} is down`,
        );
      }
      try {
        const call = await line.dial(number, transactionId);
        return { callId: call.callId };
      } catch (err) {
        if (err instanceof LineBusyError) throw new CallgateError('CALLOUT_AGENT_BUSY', err.message);
        throw err;
      }
    }
    const call = this.currentCall(line, (payload as { callId?: string }).callId);
    try {
      switch (name) {
        case 'call.answer':
          // The device rings and is answered on the device; answering it from a tab needs a
          // remote-answer capability no lab or common IP phone offers over plain SIP.
          throw new CallgateError(
            'DEVICE_NOT_AVAILABLE',
            call.model.state === 'ringing'
              ? 'the call rings on the agent’s device: answer it there'
              : `the call is ${call.model.state}`,
          );
        case 'call.hangup':
          await call.hangup('agent');
          return { callId: call.callId };
        case 'call.toggleHold':
          return { callId: call.callId, held: await call.toggleHold() };
        case 'call.toggleMute':
          return { callId: call.callId, muted: call.toggleMute() };
        case 'call.dtmf':
          await call.sendDtmf((payload as CommandPayload<'call.dtmf'>).digits);
          return { callId: call.callId };
      }
    } catch (err) {
      if (err instanceof CallNotAnsweredError)
        throw new CallgateError('NOT_IN_A_CALL', `the call is ${err.state}`);
      throw err;
    }
  }

  private currentCall(line: ServerLine, callId: string | undefined): ServerCall {
    const call = line.call;
    if (!call || call.model.ended) throw new CallgateError('NOT_IN_A_CALL', 'the agent is not in a call');
    if (callId !== undefined && callId !== call.callId) {
      throw new CallgateError('COULD_NOT_GET_CALL_INFO', `call ${callId} is not the agent's current call`);
    }
    return call;
  }

  private async apply(agent: AgentRef): Promise<void> {
    const k = key(agent);
    const state = await this.state(agent);
    const wanted = !this.stopping && (await this.wantsLine(agent, state));
    const line = this.lines.get(k);
    if (wanted && !line) {
      const created = this.createLine(agent);
      this.lines.set(k, created);
      this.logger.log(`${k}: registering for device type ${state.deviceType}`);
      created.start().catch((err: unknown) => {
        // The user agent keeps trying; calls reach the agent once it registers.
        this.logger.warn(`${k}: first registration failed: ${(err as Error).message}`);
      });
    } else if (!wanted && line) {
      if (line.call) {
        this.logger.log(`${k}: line no longer needed; it closes after the current call`);
        return;
      }
      this.lines.delete(k);
      this.logger.log(`${k}: unregistering (device type ${state.deviceType})`);
      await line.close('device changed');
    }
  }

  private async wantsLine(agent: AgentRef, state: AgentState): Promise<boolean> {
    switch (state.deviceType) {
      case 1:
        return false;
      case 3:
      case 4:
        return true;
      case 2:
        return (await this.coordination.presence.count(agent)) > 0;
    }
  }

  private state(agent: AgentRef): Promise<AgentState> {
    return this.coordination.agents.get(
      agent,
      defaultAgentState(this.config.domains.agent(agent.domain, agent.ipphone)),
    );
  }

  private createLine(agent: AgentRef): ServerLine {
    const domain = this.config.domains.domain(agent.domain);
    const line = new ServerLine({
      agent,
      config: this.config.domains.agent(agent.domain, agent.ipphone),
      pbx: domain.pbx,
      state: () => this.state(agent),
      logger: this.logger,
      ringTimeoutMs: this.config.ringTimeoutMs,
      ...(this.config.audioCodecs ? { codecs: this.config.audioCodecs } : {}),
      publish: async (type, data, call) => {
        await this.bus.publish(agent, type, data, call);
        if (type === 'call.ended') this.reconcileSoon(agent);
      },
    });
    return line;
  }
}
