import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
} from '@nestjs/common';
import {
  type AgentSummary,
  type CallCommandName,
  CallgateError,
  type CommandName,
  type CommandPayload,
  type CommandResult,
  type DeviceType,
  type EventDataMap,
  type SipRegistrationState,
} from '@callgate/contracts';
import type { AgentConfig } from '@callgate/auth';
import type { CallSnapshot } from '@callgate/call-core';
import type { AgentRef, AgentState, Coordination, VoiceHolder } from '@callgate/coordination';
import type { GatewayConfig } from '../config.js';
import { BrowserCalls, KeyedQueue } from '@callgate/calls';
import { CallEngine } from '../calls/call-engine.service.js';
import { TransferService } from '../calls/transfers.js';
import { VoiceRelay } from './voice-relay.js';
import { DialGuard } from '../security/dial-guard.js';
import { SessionService } from '../session/session.service.js';
import { EventBus } from '../events/event-bus.js';
import { callCommandTable, defaultAgentState } from '@callgate/calls';
import { COORDINATION, GATEWAY_CONFIG } from '../tokens.js';

/**
 * How long a tab losing voice has to acknowledge `voice.changed {isEnable:false}` before the
 * winner is told anyway (the loser is then taken for gone: closed, frozen, or an old client).
 */
export const VOICE_REVOKE_TIMEOUT_MS = 2_000;

/** One command's handler. */
type CommandHandler<K extends CommandName> = (
  ctx: CommandContext,
  payload: CommandPayload<K>,
) => Promise<CommandResult<K>>;

/** Every command's handler, by name. */
type CommandHandlers = { [K in CommandName]: CommandHandler<K> };

/** Who issues a command: a tab (socket id) or a CRM backend over REST (no tab). */
export interface CommandContext {
  agent: AgentRef;
  tabId?: string;
}

/** An agent as REST shows it: configuration, presence, state, voice holder and current call. */
export interface AgentView extends AgentSummary {
  deviceType: DeviceType;
  mobile?: string;
  canCallOut: boolean;
  voice: { held: boolean; fence?: number };
  /** the gateway's SIP registration of the agent's extension (server-side devices) and the instance holding it, or null */
  sip: {
    registered: boolean;
    owner: string;
    /** `registering`, `registered`, `failed` or `disconnected` */
    state?: SipRegistrationState;
    /** why it is not registered (e.g. a 401: wrong password) */
    reason?: string;
    statusCode?: number;
    failures?: number;
  } | null;
  call: CallSnapshot | null;
}

/** What a tab learns when it connects (`session.ready`, less the session token). */
export type TabSnapshot = Omit<EventDataMap['session.ready'], 'sessionToken'>;

/**
 * Agent sessions: tabs, the voice lock, call status and device. Every state change goes
 * through the coordination store, so all gateway instances agree, and is announced as an event.
 */
@Injectable()
export class AgentService implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger(AgentService.name);
  /** per agent, the pending move back to the default device after its voice tab left */
  private readonly fallbacks = new Map<string, NodeJS.Timeout>();
  /** call.report commands of each agent, in arrival order */
  private readonly reports = new KeyedQueue();
  private stopping = false;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(COORDINATION) private readonly coordination: Coordination,
    private readonly bus: EventBus,
    private readonly calls: CallEngine,
    private readonly browser: BrowserCalls,
    private readonly relay: VoiceRelay,
    private readonly transferService: TransferService,
    private readonly dial: DialGuard,
    private readonly sessions: SessionService,
  ) {
    coordination.voice.onLostToReset((agent, lost, holder) => {
      void this.voiceLostToReset(agent, lost, holder);
    });
  }

  /**
   * A restarted Redis granted voice to another tab before this instance wrote its tab's lock back:
   * that tab was told it holds voice, so ours is told it does not (as by a steal), and in browser
   * mode its phone stops. Otherwise both pages would show voice.
   */
  private async voiceLostToReset(agent: AgentRef, lost: VoiceHolder, holder: VoiceHolder): Promise<void> {
    const k = `${agent.domain}/${agent.ipphone}`;
    this.logger.warn(
      `voice of ${k}: the store lost tab ${lost.tabId}'s lock and granted it to ${holder.tabId}; revoking`,
    );
    try {
      const state = await this.coordination.agents.get(agent, this.defaults(agent));
      if (state.deviceType === 1) await this.relay.stop(lost.tabId, 'voice lost');
      await this.bus.publish(
        agent,
        'voice.changed',
        { isEnable: false, fence: holder.fence },
        { tab: lost.tabId, backends: false },
      );
    } catch (err) {
      this.logger.error(
        `voice of ${k}: telling tab ${lost.tabId} it lost voice failed: ${(err as Error).message}`,
      );
    }
  }

  /** The domain's configuration; DOMAIN_NOT_FOUND for an unknown one. */
  domain(name: string): void {
    this.config.domains.domain(name);
  }

  agentConfig(agent: AgentRef): AgentConfig {
    return this.config.domains.agent(agent.domain, agent.ipphone);
  }

  defaults(agent: AgentRef): AgentState {
    return defaultAgentState(this.agentConfig(agent));
  }

  /** The agent's live tabs on every instance. */
  tabCount(agent: AgentRef): Promise<number> {
    return this.store(() => this.coordination.presence.count(agent));
  }

  /** A tab joined: count it, give it voice when nobody holds it, and describe the agent to it. */
  async connectTab(agent: AgentRef, tabId: string): Promise<TabSnapshot> {
    const [tabs, lock, state] = await this.store(() =>
      Promise.all([
        this.coordination.presence.join(agent, tabId),
        this.coordination.voice.acquireIfFree(agent, tabId),
        this.coordination.agents.get(agent, this.defaults(agent)),
      ]),
    );
    const holdsVoice = lock.holder.tabId === tabId;
    if (state.deviceType === 2 && tabs === 1) this.calls.reconcileSoon(agent);
    this.logger.log(
      `tab ${tabId} of ${agent.domain}/${agent.ipphone} connected (${tabs} tab(s), voice ${holdsVoice ? 'granted' : 'elsewhere'})`,
    );
    return {
      domain: agent.domain,
      ipphone: agent.ipphone,
      name: this.agentConfig(agent).name,
      deviceType: state.deviceType,
      ...(state.mobile ? { mobile: state.mobile } : {}),
      callStatus: state.callStatus,
      isEnable: holdsVoice,
      ...(holdsVoice ? { voiceFence: lock.holder.fence } : {}),
      otherTabs: Math.max(0, tabs - 1),
      calloutServices: this.calloutServices(agent.domain),
    };
  }

  /** A tab left: it stops counting and frees voice at once if it held it. */
  async disconnectTab(agent: AgentRef, tabId: string): Promise<void> {
    const [tabs, released] = await this.store(() =>
      Promise.all([
        this.coordination.presence.leave(agent, tabId),
        this.coordination.voice.release(agent, tabId),
      ]),
    );
    this.logger.log(
      `tab ${tabId} of ${agent.domain}/${agent.ipphone} left (${tabs} tab(s) remain${released ? ', voice freed' : ''})`,
    );
    if (tabs === 0) this.calls.reconcileSoon(agent);
    if (released) this.scheduleFallback(agent);
  }

  /**
   * The voice tab went away (closed, crashed, or its connection lost). If the agent is in browser
   * mode and its default device is server-side, and no tab has taken voice by the end of the grace
   * period, move the agent to its default device so calls still reach it (3C `reConfigDeviceType`,
   * done by the server so that it also happens when the tab crashed).
   */
  private scheduleFallback(agent: AgentRef): void {
    // Our own shutdown disconnects every tab: they reconnect elsewhere, nothing falls back.
    if (this.stopping) return;
    const key = `${agent.domain}/${agent.ipphone}`;
    clearTimeout(this.fallbacks.get(key));
    const timer = setTimeout(() => {
      this.fallbacks.delete(key);
      this.fallBack(agent).catch((err: unknown) => {
        this.logger.error(`fallback of ${key} to its default device failed: ${String(err)}`);
      });
    }, this.config.voiceFallbackMs);
    timer.unref();
    this.fallbacks.set(key, timer);
  }

  private async fallBack(agent: AgentRef): Promise<void> {
    const [holder, state] = await this.store(() =>
      Promise.all([
        this.coordination.voice.holder(agent),
        this.coordination.agents.get(agent, this.defaults(agent)),
      ]),
    );
    if (holder || state.deviceType !== 1) return;
    await this.browser.voiceTabLost(agent);
    const defaults = this.defaults(agent);
    if (defaults.deviceType === 1) return;
    this.logger.log(
      `${agent.domain}/${agent.ipphone}: no voice tab left, back to device ${defaults.deviceType}`,
    );
    await this.setDevice({ agent }, defaults.deviceType, defaults.mobile);
  }

  beforeApplicationShutdown(): void {
    this.stopping = true;
  }

  onApplicationShutdown(): void {
    this.stopping = true;
    for (const timer of this.fallbacks.values()) clearTimeout(timer);
    this.fallbacks.clear();
  }

  /** Runs one validated command for an agent. Throws CallgateError with the refusal's code. */
  async execute<K extends CommandName>(
    ctx: CommandContext,
    name: K,
    payload: CommandPayload<K>,
  ): Promise<CommandResult<K>> {
    if (payload.voiceFence !== undefined) await this.checkFence(ctx, payload.voiceFence);
    const handler: CommandHandlers[K] = this.handlers[name];
    return handler(ctx, payload);
  }

  /** One handler per command, typed by the command map: a new command is a new entry here. */
  private readonly handlers: CommandHandlers = {
    'voice.enable': (ctx) => this.enableVoice(ctx),
    'agent.toggleCallStatus': (ctx) => this.toggleCallStatus(ctx),
    'agent.setDevice': (ctx, device) => this.setDevice(ctx, device.type, device.mobile),
    'agent.resetDevice': (ctx) => {
      const defaults = this.defaults(ctx.agent);
      return this.setDevice(ctx, defaults.deviceType, defaults.mobile);
    },
    'transfer.listAgents': async (ctx) => ({ agents: await this.listAgents(ctx.agent.domain) }),
    'session.unregister': async (ctx) => {
      if (ctx.tabId) await this.disconnectTab(ctx.agent, ctx.tabId);
      return {};
    },
    // every call command (libs/calls lists them), routed to where the agent's call lives
    ...callCommandTable<CommandContext>((ctx, name, payload) => this.callCommand(ctx, name, payload)),
    // a callout passes the agent's permission, the dial policy and gets its caller number first
    'call.dial': async (ctx, payload) => {
      if (!this.agentConfig(ctx.agent).canCallOut)
        throw new CallgateError('CALLOUT_PERMISSION_DENY', `agent ${ctx.agent.ipphone} may not call out`);
      await this.dial.check(ctx.agent, 'callout', payload.number, 'call.dial');
      return this.callCommand(ctx, 'call.dial', this.withCallerNumber(ctx.agent, payload));
    },
    // One agent's reports are applied in the order its tab sent them: a ringing report waits for
    // the call status, and an auto-answered transfer's accepted report used to overtake it (the
    // accepted call adopted, the ringing then refused CALLOUT_AGENT_BUSY).
    'call.report': (ctx, payload) =>
      this.reports.run(`${ctx.agent.domain}/${ctx.agent.ipphone}`, async () => {
        const tabId = this.requireTab(ctx, 'call.report');
        const { voiceFence: _fence, ...report } = payload;
        // An inbound call rings the in-page phone directly: the call status is checked here.
        const callStatus =
          report.type === 'call.ringing'
            ? (await this.store(() => this.coordination.agents.get(ctx.agent, this.defaults(ctx.agent))))
                .callStatus
            : undefined;
        await this.browser.report(ctx.agent, tabId, report, callStatus ? { callStatus } : {});
        return {};
      }),
    'transfer.toAgent': (ctx, payload) => this.transferService.transfers.toAgent(ctx.agent, payload),
    'transfer.toQueue': (ctx, payload) => this.transferService.transfers.toQueue(ctx.agent, payload),
    'transfer.toSurvey': (ctx, payload) => this.transferService.transfers.toSurvey(ctx.agent, payload),
    'transfer.respond': (ctx, payload) => this.transferService.transfers.respond(ctx.agent, payload),
    'session.logout': async (ctx) => {
      await this.sessions.logout(ctx.agent);
      // Every other tab, on every instance; the caller's own tab is closed once answered.
      this.bus.closeAgentTabs(
        ctx.agent,
        { code: 'SESSION_EXPIRED', message: 'the agent logged out' },
        ctx.tabId,
      );
      return {};
    },
  };

  /**
   * A call command goes where the agent's call lives, located once: its server-side line
   * (wherever it runs), else, in browser mode, its voice tab.
   */
  private async callCommand<K extends CallCommandName>(
    ctx: CommandContext,
    name: K,
    payload: CommandPayload<K>,
  ): Promise<CommandResult<K>> {
    const [state, place] = await this.store(() =>
      Promise.all([
        this.coordination.agents.get(ctx.agent, this.defaults(ctx.agent)),
        this.calls.location.locate(ctx.agent),
      ]),
    );
    return state.deviceType === 1 && place.kind !== 'line'
      ? this.browser.command(ctx.agent, name, payload, place)
      : this.calls.command(ctx.agent, name, payload, place);
  }

  /**
   * A callout's payload with the number its callout service presents (`serviceId`, or the
   * domain's default service); a client's own `callerNumber` never passes.
   * @throws CallgateError `UNKNOWN_CALLOUT_SERVICE`
   */
  private withCallerNumber(
    agent: AgentRef,
    payload: CommandPayload<'call.dial'>,
  ): CommandPayload<'call.dial'> {
    const { callerNumber: _ignored, ...rest } = payload;
    const service = this.config.domains.calloutService(agent.domain, payload.serviceId);
    return service ? { ...rest, serviceId: service.id, callerNumber: service.callerNumber } : rest;
  }

  /** The domain's callout services as 3C pages read them (`csVoice.getCalloutServices()`). */
  calloutServices(domain: string): NonNullable<TabSnapshot['calloutServices']> {
    return (this.config.domains.domain(domain).calloutServices ?? []).map((service) => ({
      callout_id: service.id,
      descriptions: service.description,
      is_default: service.default,
    }));
  }

  async view(agent: AgentRef): Promise<AgentView> {
    const config = this.agentConfig(agent);
    const [tabs, state, holder, line] = await this.store(() =>
      Promise.all([
        this.coordination.presence.count(agent),
        this.coordination.agents.get(agent, this.defaults(agent)),
        this.coordination.voice.holder(agent),
        this.calls.status(agent),
      ]),
    );
    return {
      ipphone: agent.ipphone,
      name: config.name,
      online: tabs > 0,
      tabs,
      callStatus: state.callStatus,
      deviceType: state.deviceType,
      ...(state.mobile ? { mobile: state.mobile } : {}),
      canCallOut: config.canCallOut,
      voice: holder ? { held: true, fence: holder.fence } : { held: false },
      sip: line
        ? {
            registered: line.registered,
            owner: line.owner,
            ...(line.registration === undefined
              ? {}
              : {
                  state: line.registration.state,
                  ...(line.registration.reason === undefined ? {} : { reason: line.registration.reason }),
                  ...(line.registration.statusCode === undefined
                    ? {}
                    : { statusCode: line.registration.statusCode }),
                  ...(line.registration.failures === undefined
                    ? {}
                    : { failures: line.registration.failures }),
                }),
          }
        : null,
      call: line?.call ?? this.browser.snapshot(agent),
    };
  }

  async listAgents(domain: string): Promise<AgentSummary[]> {
    const ids = this.config.domains.agentIds(domain);
    const defaults = new Map(ids.map((ipphone) => [ipphone, this.defaults({ domain, ipphone })]));
    const [counts, states] = await this.store(() =>
      Promise.all([
        this.coordination.presence.counts(domain, ids),
        this.coordination.agents.getMany(domain, defaults),
      ]),
    );
    return ids.map((ipphone) => {
      const tabs = counts.get(ipphone) ?? 0;
      return {
        ipphone,
        name: this.config.domains.agent(domain, ipphone).name,
        online: tabs > 0,
        callStatus: states.get(ipphone)?.callStatus ?? 'on',
        tabs,
      };
    });
  }

  private async enableVoice(ctx: CommandContext): Promise<CommandResult<'voice.enable'>> {
    const tabId = this.requireTab(ctx, 'voice.enable');
    const [state, before] = await this.store(() =>
      Promise.all([
        this.coordination.agents.get(ctx.agent, this.defaults(ctx.agent)),
        this.coordination.voice.holder(ctx.agent),
      ]),
    );
    // Browser mode: the old voice tab's phone unregisters before the new one registers.
    if (state.deviceType === 1 && before && before.tabId !== tabId)
      await this.relay.stop(before.tabId, 'voice moved');
    const { holder, previous } = await this.store(() => this.coordination.voice.steal(ctx.agent, tabId));
    // Revoke, then grant: the losing tab (on any instance) is told and acknowledges, or is taken
    // for gone after a short bound, before the winner hears it holds voice; the command's answer
    // comes after both. So no page ever shows voice while another still does.
    if (previous && previous.tabId !== tabId) {
      const revoked = await this.bus.envelope(
        ctx.agent,
        'voice.changed',
        { isEnable: false, fence: holder.fence },
        { tab: previous.tabId, backends: false },
      );
      const confirmed = await this.bus.deliverConfirmed(revoked, previous.tabId, VOICE_REVOKE_TIMEOUT_MS);
      if (!confirmed) {
        this.logger.warn(
          `voice of ${ctx.agent.domain}/${ctx.agent.ipphone}: tab ${previous.tabId} did not confirm losing it within ${VOICE_REVOKE_TIMEOUT_MS} ms; taken for gone`,
        );
      }
    }
    await this.bus.publish(
      ctx.agent,
      'voice.changed',
      { isEnable: true, fence: holder.fence },
      { tab: tabId },
    );
    this.logger.log(
      `voice of ${ctx.agent.domain}/${ctx.agent.ipphone} -> tab ${tabId} (fence ${holder.fence}${previous ? `, from ${previous.tabId}` : ''})`,
    );
    if (state.deviceType === 1) await this.relay.sendCredentials(ctx.agent, tabId);
    return { isEnable: true, fence: holder.fence };
  }

  private async toggleCallStatus(ctx: CommandContext): Promise<CommandResult<'agent.toggleCallStatus'>> {
    const status = await this.store(() =>
      this.coordination.agents.toggleCallStatus(ctx.agent, this.defaults(ctx.agent)),
    );
    await this.bus.publish(ctx.agent, 'agent.callStatus', { status });
    this.logger.log(`call status of ${ctx.agent.domain}/${ctx.agent.ipphone} -> ${status}`);
    return { status };
  }

  private async setDevice(
    ctx: CommandContext,
    type: DeviceType,
    mobile: string | undefined,
  ): Promise<CommandResult<'agent.setDevice'>> {
    const config = this.agentConfig(ctx.agent);
    // The device types the file allows this agent (a desk-phone agent cannot make itself a browser
    // agent and so obtain the SIP password).
    if (!config.allowedDevices.includes(type)) {
      throw new CallgateError(
        'DEVICE_NOT_AVAILABLE',
        `agent ${ctx.agent.ipphone} may not use device type ${type}`,
      );
    }
    let chosenMobile: string | undefined;
    switch (type) {
      case 1:
        break;
      case 2:
      case 4:
        if (!config.devices.ipPhone) {
          throw new CallgateError(
            'DEVICE_NOT_AVAILABLE',
            `agent ${ctx.agent.ipphone} has no IP phone configured`,
          );
        }
        break;
      case 6:
        if (!config.devices.softphone) {
          throw new CallgateError(
            'DEVICE_NOT_AVAILABLE',
            `agent ${ctx.agent.ipphone} has no softphone configured`,
          );
        }
        break;
      case 3:
        chosenMobile = mobile ?? config.devices.mobile;
        if (!chosenMobile) {
          throw new CallgateError('INVALID_MOBILE', 'device type 3 needs a mobile number');
        }
        // A number of the agent's choosing makes the PBX dial out on every call: a callout right.
        if (chosenMobile !== config.devices.mobile && !config.canCallOut) {
          throw new CallgateError(
            'CALLOUT_PERMISSION_DENY',
            `agent ${ctx.agent.ipphone} may not forward calls to a number of its choosing`,
          );
        }
        await this.dial.check(ctx.agent, 'mobile', chosenMobile, 'agent.setDevice');
        break;
    }
    const device = { deviceType: type, ...(chosenMobile ? { mobile: chosenMobile } : {}) };
    const [before, holder] = await this.store(() =>
      Promise.all([
        this.coordination.agents.get(ctx.agent, this.defaults(ctx.agent)),
        this.coordination.voice.holder(ctx.agent),
      ]),
    );
    // One user agent holds the extension at a time: stop the in-page phone before the gateway registers.
    if (before.deviceType === 1 && type !== 1 && holder)
      await this.relay.stop(holder.tabId, 'device changed');
    await this.store(() => this.coordination.agents.setDevice(ctx.agent, device, this.defaults(ctx.agent)));
    await this.calls.reconcile(ctx.agent);
    if (type === 1 && before.deviceType !== 1 && holder)
      await this.relay.sendCredentials(ctx.agent, holder.tabId, holder.instanceId);
    await this.bus.publish(ctx.agent, 'agent.device', {
      type,
      ...(chosenMobile ? { mobile: chosenMobile } : {}),
    });
    this.logger.log(
      `device of ${ctx.agent.domain}/${ctx.agent.ipphone} -> ${type}${chosenMobile ? ` (${chosenMobile})` : ''}`,
    );
    return { type, ...(chosenMobile ? { mobile: chosenMobile } : {}) };
  }

  private async checkFence(ctx: CommandContext, fence: number): Promise<void> {
    const tabId = this.requireTab(ctx, 'a fenced command');
    const current = await this.store(() => this.coordination.voice.checkFence(ctx.agent, tabId, fence));
    if (!current) {
      throw new CallgateError(
        'VOICE_FENCE_STALE',
        `voice fence ${fence} is not the current one for this tab`,
      );
    }
  }

  private requireTab(ctx: CommandContext, what: string): string {
    if (!ctx.tabId) throw new CallgateError('INVALID_REQUEST', `${what} is a tab command`);
    return ctx.tabId;
  }

  /** Coordination store calls: a store failure becomes COORDINATION_UNAVAILABLE (logged). */
  private async store<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      if (err instanceof CallgateError) throw err;
      this.logger.warn(`coordination store failed: ${(err as Error).message}`);
      throw new CallgateError('COORDINATION_UNAVAILABLE', 'the coordination store is unavailable; try again');
    }
  }
}
