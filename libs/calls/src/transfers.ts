// Transfers (3C `csTransferCallAgent`, `csTransferCallAcd`, `transferSurvey`,
// `responseTransferAgent`): routing to the source's home instance, the facts about the target, the
// consent request and its timer, the move (customer-mover.ts), and the leases of agent transfers
// (transfer-leases.ts). Framework-free: the gateway composes it (apps/gateway/src/calls/transfers.ts).
import { randomUUID } from 'node:crypto';
import {
  type AgentSummary,
  CallgateError,
  type CommandPayload,
  type CommandResult,
  type EventDataMap,
  type TransferFailureReason,
  type TransferIds,
} from '@callgate/contracts';
import type { DomainRegistry } from '@callgate/auth';
import {
  type CallSnapshot,
  checkTransferTarget,
  type DialPurpose,
  TransferModel,
  transferFailure,
} from '@callgate/call-core';
import type { Coordination } from '@callgate/coordination';
import { defaultAgentState } from './agent-defaults.js';
import type { BrowserCalls } from './browser-calls.js';
import { type CustomerMover, type MoveOutcome, ReBridgeMover, ReferMover } from './customer-mover.js';
import type {
  AgentLocationPort,
  AgentRef,
  CallEventsPort,
  CallsLogger,
  TransferPeersPort,
  VoiceTabPort,
} from './ports.js';
import type { ServerLine } from './server-line.js';
import { surveyDestination, surveyTarget, type SurveyTarget, uriUser } from './survey-transfer.js';
import { transferFailedData, type TransferFailedFacts } from './transfer-events.js';
import { type LeasedTransfer, TransferLeaseKeeper } from './transfer-leases.js';
import type { TransferLedger, TransferLeg } from './transfer-ledger.js';

/** What transfers read of the domains file. */
export type TransferDirectory = Pick<DomainRegistry, 'domain' | 'agent' | 'agentIds' | 'queue' | 'survey'>;

/** The shared stores transfers read and write (libs/coordination's interfaces). */
export type TransferStores = Pick<Coordination, 'presence' | 'agents' | 'voice' | 'transfers' | 'leaseMs'>;

/** What transfers need of the gateway's server-side lines. */
export interface TransferLines {
  /** the agent's line when it runs on this instance */
  line(agent: AgentRef): ServerLine | undefined;
  /** the agent's line wherever it runs (asked of its owner), or null when it has none */
  status(agent: AgentRef): Promise<{ registered: boolean; call: CallSnapshot | null } | null>;
}

export interface TransfersDeps {
  domains: TransferDirectory;
  stores: TransferStores;
  events: CallEventsPort;
  location: AgentLocationPort;
  /** asks another gateway instance (a forwarded command, a ledger entry) */
  peers: TransferPeersPort;
  lines: TransferLines;
  browser: BrowserCalls;
  voiceTabs: VoiceTabPort;
  /** the dial policy: throws `DIAL_NOT_ALLOWED` (after announcing it) when the number is refused */
  checkDial: (agent: AgentRef, purpose: DialPurpose, number: string, command: string) => Promise<void>;
  ledger: TransferLedger;
  logger: CallsLogger;
  /** RING_TIMEOUT_MS: how long a target's device rings */
  ringTimeoutMs: number;
  /** TRANSFER_TIMEOUT_MS: how long a request waits when its domain does not say */
  transferTimeoutMs: number;
}

/** The source agent's call a transfer moves: carried by the gateway (modes 2-4) or by its voice tab. */
interface SourceCall {
  side: 'server' | 'browser';
  callId: string;
  customerCallId: string;
  phone: string;
}

/** The routes of the requests one gateway instance sends another about transfers. */
export type TransferRoute =
  'transfers.toAgent' | 'transfers.toQueue' | 'transfers.toSurvey' | 'transfers.respond' | 'transfers.expect';

/** A transfer command another instance forwards to this one. */
export interface Forwarded<
  K extends 'transfer.toAgent' | 'transfer.toQueue' | 'transfer.toSurvey' | 'transfer.respond',
> {
  agent: AgentRef;
  payload: CommandPayload<K>;
}

/** One transfer, from its request to its outcome. */
interface Transfer extends TransferIds {
  model: TransferModel;
  domain: string;
  source: SourceCall;
  /** the SIP user the customer is sent to (the target's extension, the queue's user) */
  targetUser: string;
  /** agent transfers: the target's extension; queue transfers: the queue's id and URI */
  targetAgent?: string;
  queue?: { id: string; uri: string };
  /** survey transfers (3C `transferSurvey`): the survey IVR, moved to as a queue is */
  survey?: SurveyTarget;
  timer?: NodeJS.Timeout;
  /** agent transfers: when the request lapses (epoch ms) */
  expiresAtMs?: number;
}

/** How long the ledger remembers a finished transfer, for reports of its INVITE still in flight. */
const LEDGER_GRACE_MS = 10_000;
/** Over the target's own ring timeout: how long the move towards it may take. */
const MOVE_MARGIN_MS = 5_000;

/**
 * Transfers (3C `csTransferCallAgent`, `csTransferCallAcd`, `responseTransferAgent`).
 *
 * To an agent: the target must qualify (call-core's `checkTransferTarget`); its tabs get
 * `transfer.request`; it answers with `transfer.respond`, or the request lapses after
 * `TRANSFER_TIMEOUT_MS`. On accept the customer is moved: where the gateway holds the customer leg
 * (source in mode 2, 3, 4) it calls the target's extension from the source's line and re-bridges
 * the customer to that leg; where the source's voice tab holds it (mode 1) the tab REFERs the
 * customer to the target's extension. Either way the INVITE carries `X-Callgate-Transfer: <id>`,
 * so the target's call events carry the customer call's id. To a queue: the same move, to the
 * queue's URI, without consent.
 *
 * Several instances: a transfer runs on the source's home instance (the owner of its line, or the
 * instance its voice tab is connected to), where its call is; commands arriving elsewhere are
 * forwarded there. `transfer.respond` is answered by whichever instance holds the request. The
 * ledger entry of a move is also handed to the target's home instance, which receives the INVITE.
 */
export class Transfers {
  private readonly transfers = new Map<string, Transfer>();
  private readonly ledgerTimers = new Set<NodeJS.Timeout>();
  private readonly offBrowserEnded: () => void;
  /** agent transfers in the shared store: target reservations, leases, adoption of orphans */
  private readonly keeper: TransferLeaseKeeper;
  /** how the customer moves: re-bridged by the source's line, or REFERred by its voice tab */
  private readonly movers: Record<SourceCall['side'], CustomerMover>;
  private readonly logger: CallsLogger;
  private readonly domains: TransferDirectory;
  private readonly stores: TransferStores;
  private readonly peers: TransferPeersPort;
  private readonly browser: BrowserCalls;
  private readonly ledger: TransferLedger;

  constructor(private readonly deps: TransfersDeps) {
    this.logger = deps.logger;
    this.domains = deps.domains;
    this.stores = deps.stores;
    this.peers = deps.peers;
    this.browser = deps.browser;
    this.ledger = deps.ledger;
    this.keeper = new TransferLeaseKeeper(
      deps.stores.transfers,
      Math.max(1, Math.floor(deps.stores.leaseMs / 3)),
      this.logger,
      {
        wants: (lt) => this.wantsOrphan(lt),
        adopted: (lt) => this.adoptOrphan(lt),
        lost: (id) => this.dropLost(id),
      },
    );
    this.keeper.start();
    this.movers = {
      server: new ReBridgeMover({
        serverCall: (agent) => deps.lines.line(agent)?.call,
        timeoutMs: () => deps.ringTimeoutMs + MOVE_MARGIN_MS,
      }),
      browser: new ReferMover({
        location: deps.location,
        voiceTabs: deps.voiceTabs,
        sipDomain: (domain) => this.domains.domain(domain).pbx.sipDomain,
        timeoutMs: () => deps.ringTimeoutMs + 2 * MOVE_MARGIN_MS,
      }),
    };
    // A browser-mode source's customer hangs up while the target thinks: withdraw the request.
    this.offBrowserEnded = this.browser.onCallEnded((agent, callId) => {
      for (const t of this.transfers.values()) {
        if (t.domain === agent.domain && t.from === agent.ipphone && t.source.callId === callId) {
          this.withdraw(t).catch((err: unknown) =>
            this.logger.error(`transfer ${t.transferId}: ${String(err)}`),
          );
        }
      }
    });
  }

  /** Commands other instances forward to this one (the source's, or the request's, home), by route. */
  readonly forwarded: Record<TransferRoute, (message: never) => Promise<unknown>> = {
    'transfers.toAgent': (m: Forwarded<'transfer.toAgent'>) => this.toAgentHere(m.agent, m.payload),
    'transfers.toQueue': (m: Forwarded<'transfer.toQueue'>) => this.toQueueHere(m.agent, m.payload),
    'transfers.toSurvey': (m: Forwarded<'transfer.toSurvey'>) => this.toSurveyHere(m.agent, m.payload),
    'transfers.respond': (m: Forwarded<'transfer.respond'>) => this.respondHere(m.agent, m.payload),
    'transfers.expect': (leg: TransferLeg) => {
      this.ledger.expect(leg);
      this.forgetLater(leg.transferId);
      return Promise.resolve(null);
    },
  };

  /** Stops the lease keeper and every timer; the transfers under way here are dropped. */
  close(): void {
    this.offBrowserEnded();
    this.keeper.stop();
    for (const t of this.transfers.values()) clearTimeout(t.timer);
    for (const timer of this.ledgerTimers) {
      clearTimeout(timer);
    }
    for (const t of this.transfers.values()) this.ledger.forget(t.transferId);
    this.transfers.clear();
    this.ledgerTimers.clear();
  }

  /** `transfer.toAgent`: asks the target; answered once the request is on its way. */
  toAgent(
    source: AgentRef,
    payload: CommandPayload<'transfer.toAgent'>,
  ): Promise<CommandResult<'transfer.toAgent'>> {
    return this.atHome(source, 'transfers.toAgent', payload, (a, p) => this.toAgentHere(a, p));
  }

  /** `transfer.toQueue`: moves the customer to the queue's URI; answered once the move started. */
  toQueue(
    source: AgentRef,
    payload: CommandPayload<'transfer.toQueue'>,
  ): Promise<CommandResult<'transfer.toQueue'>> {
    return this.atHome(source, 'transfers.toQueue', payload, (a, p) => this.toQueueHere(a, p));
  }

  /** `transfer.toSurvey`: moves the customer to a survey IVR of the domain; answered once the move started. */
  toSurvey(
    source: AgentRef,
    payload: CommandPayload<'transfer.toSurvey'>,
  ): Promise<CommandResult<'transfer.toSurvey'>> {
    return this.atHome(source, 'transfers.toSurvey', payload, (a, p) => this.toSurveyHere(a, p));
  }

  /** Runs a source's transfer command on its home instance: here, or forwarded there as `route`. */
  private async atHome<P, R>(
    source: AgentRef,
    route: TransferRoute,
    payload: P,
    here: (agent: AgentRef, payload: P) => Promise<R>,
  ): Promise<R> {
    const home = await this.homeOf(source);
    if (home === this.peers.instanceId) return here(source, payload);
    return this.peers.ask<R>(home, route, { agent: source, payload });
  }

  /** `transfer.respond`: answered here when the request is here, else by the instance holding it. */
  async respond(
    target: AgentRef,
    payload: CommandPayload<'transfer.respond'>,
  ): Promise<CommandResult<'transfer.respond'>> {
    const others = this.deps.location.liveInstances().filter((id) => id !== this.peers.instanceId);
    if (this.pendingFor(target, payload) || others.length === 0) return this.respondHere(target, payload);
    try {
      return await Promise.any(
        others.map((id) =>
          this.peers.ask<CommandResult<'transfer.respond'>>(id, 'transfers.respond', {
            agent: target,
            payload,
          }),
        ),
      );
    } catch {
      return this.respondHere(target, payload); // refuses with the reason
    }
  }

  /** Where an agent's calls are handled: its line's owner, else the instance of its voice tab. */
  private async homeOf(agent: AgentRef): Promise<string> {
    const here = this.peers.instanceId;
    if (this.deps.lines.line(agent) || this.browser.snapshot(agent)) return here;
    const place = await this.deps.location.locate(agent);
    return place.kind === 'none' ? here : place.instanceId;
  }

  private pendingFor(target: AgentRef, payload: CommandPayload<'transfer.respond'>): Transfer | undefined {
    return [...this.transfers.values()].find(
      (x) =>
        x.domain === target.domain &&
        x.targetAgent === target.ipphone &&
        x.model.state === 'pending' &&
        (payload.transferId === undefined || x.transferId === payload.transferId),
    );
  }

  private async toAgentHere(
    source: AgentRef,
    payload: CommandPayload<'transfer.toAgent'>,
  ): Promise<CommandResult<'transfer.toAgent'>> {
    const call = this.sourceCall(source, payload.callId);
    await this.refuseSecondTransfer(source, call, payload.ipphone);
    const target: AgentRef = { domain: source.domain, ipphone: payload.ipphone };
    const reason = await this.targetProblem(source, target);
    if (reason) await this.refuseTarget(source, call, target, reason);
    // A target forwarded to a mobile makes the PBX dial that number: the transfer policy decides.
    const targetConfig = this.domains.agent(target.domain, target.ipphone);
    const targetState = await this.stores.agents.get(target, defaultAgentState(targetConfig));
    const targetMobile = targetState.mobile ?? targetConfig.devices.mobile;
    if (targetState.deviceType === 3 && targetMobile !== undefined)
      await this.deps.checkDial(source, 'transfer', targetMobile, 'transfer.toAgent');
    const t = this.newTransfer('agent', source, call, target.ipphone, {
      targetUser: this.domains.agent(target.domain, target.ipphone).sip.user,
      targetAgent: target.ipphone,
    });
    const transferId = t.transferId;
    const timeoutMs = this.requestTimeoutMs(source.domain);
    t.expiresAtMs = Date.now() + timeoutMs;
    const expiresAt = new Date(t.expiresAtMs).toISOString();
    // The target is reserved cluster-wide: a second source, wherever it runs, finds it busy.
    const reservation = await this.keeper.reserve(target, this.leased(t, 'pending'));
    if (!reservation.reserved) await this.refuseTarget(source, call, target, 'TARGET_BUSY');
    this.transfers.set(transferId, t);
    this.armLapse(t, timeoutMs);
    // The customer hangs up while the target thinks: the request is withdrawn at once.
    void this.deps.lines
      .line(source)
      ?.call?.ended.then(() => this.withdraw(t))
      .catch((err: unknown) => this.logger.error(`transfer ${transferId}: ${String(err)}`));
    this.logger.log(
      `transfer ${transferId}: ${source.ipphone} asks ${target.ipphone} to take call ${call.callId} (${call.phone})`,
    );
    await this.deps.events.publish(
      target,
      'transfer.request',
      {
        ...this.ids(t),
        callId: call.callId,
        phone: call.phone,
        dropAgentId: source.ipphone,
        expiresAt,
      },
      { callId: call.callId },
    );
    return { callId: call.callId, transferId };
  }

  private async toQueueHere(
    source: AgentRef,
    payload: CommandPayload<'transfer.toQueue'>,
  ): Promise<CommandResult<'transfer.toQueue'>> {
    const call = this.sourceCall(source, payload.callId);
    await this.refuseSecondTransfer(source, call, `queue:${payload.queueId}`);
    const uri = this.domains.queue(source.domain, payload.queueId);
    if (uri === undefined) {
      await this.announceRefusal(source, call, `queue:${payload.queueId}`, {
        reason: 'UNKNOWN_QUEUE',
        queueId: payload.queueId,
      });
      throw new CallgateError(
        'TRANSFER_CALL_FAILED',
        `domain ${source.domain} has no queue ${payload.queueId}`,
      );
    }
    await this.deps.checkDial(source, 'queue', uriUser(uri), 'transfer.toQueue');
    return this.moveToFixed(source, call, `queue:${payload.queueId}`, {
      queue: { id: payload.queueId, uri },
    });
  }

  /** As a queue transfer, to the survey's URI; an unknown id is refused before anything happens. */
  private async toSurveyHere(
    source: AgentRef,
    payload: CommandPayload<'transfer.toSurvey'>,
  ): Promise<CommandResult<'transfer.toSurvey'>> {
    const call = this.sourceCall(source, payload.callId);
    const survey = surveyTarget(this.domains, source.domain, payload.surveyId);
    const to = surveyDestination(survey);
    await this.refuseSecondTransfer(source, call, to);
    await this.deps.checkDial(source, 'queue', uriUser(survey.uri), 'transfer.toSurvey');
    return this.moveToFixed(source, call, to, { survey });
  }

  /** A new transfer of the source's call to `to` (its id drawn here), not yet recorded. */
  private newTransfer(
    kind: 'agent' | 'queue',
    source: AgentRef,
    call: SourceCall,
    to: string,
    target: Pick<Transfer, 'targetUser' | 'targetAgent' | 'queue' | 'survey'>,
  ): Transfer {
    const transferId = randomUUID();
    return {
      model: new TransferModel(transferId, kind),
      transferId,
      customerCallId: call.customerCallId,
      from: source.ipphone,
      to,
      domain: source.domain,
      source: call,
      ...target,
    };
  }

  /** A blind move of the source's customer to a fixed URI (a queue or a survey IVR), started soon. */
  private moveToFixed(
    source: AgentRef,
    call: SourceCall,
    to: string,
    fixed: { queue: { id: string; uri: string } } | { survey: SurveyTarget },
  ): { callId: string; transferId: string } {
    const uri = 'queue' in fixed ? fixed.queue.uri : fixed.survey.uri;
    const t = this.newTransfer('queue', source, call, to, { targetUser: uriUser(uri), ...fixed });
    const transferId = t.transferId;
    this.transfers.set(transferId, t);
    this.logger.log(`transfer ${transferId}: ${source.ipphone} sends call ${call.callId} to ${to}`);
    this.moveSoon(t);
    return { callId: call.callId, transferId };
  }

  private async respondHere(
    target: AgentRef,
    payload: CommandPayload<'transfer.respond'>,
  ): Promise<CommandResult<'transfer.respond'>> {
    const t = this.pendingFor(target, payload);
    if (!t) {
      throw new CallgateError(
        'COULD_NOT_GET_CALL_INFO',
        payload.transferId === undefined
          ? `agent ${target.ipphone} has no transfer request to answer`
          : `transfer ${payload.transferId} is not waiting for agent ${target.ipphone}`,
      );
    }
    clearTimeout(t.timer);
    t.timer = undefined;
    const result = { callId: t.source.callId, transferId: t.transferId };
    if (!payload.accept) {
      t.model.transition('rejected');
      this.logger.log(`transfer ${t.transferId}: ${target.ipphone} refused`);
      await this.publishBoth(t, 'transfer.response', {
        ...this.ids(t),
        status: 'NOK',
        callId: t.source.callId,
      });
      await this.failed(t, 'rejected');
      return result;
    }
    t.model.transition('accepted');
    this.logger.log(`transfer ${t.transferId}: ${target.ipphone} accepted`);
    await this.keeper.update(this.leased(t, 'accepted'));
    await this.publishBoth(t, 'transfer.response', { ...this.ids(t), status: 'OK', callId: t.source.callId });
    this.moveSoon(t);
    return result;
  }

  /** The source's current answered call (NOT_IN_A_CALL, COULD_NOT_GET_CALL_INFO otherwise). */
  private sourceCall(agent: AgentRef, callId: string | undefined): SourceCall {
    const server = this.deps.lines.line(agent)?.call;
    const snapshot = server && !server.model.ended ? server.model.snapshot() : this.browser.snapshot(agent);
    if (!snapshot || snapshot.state === 'ended') {
      throw new CallgateError('NOT_IN_A_CALL', `agent ${agent.ipphone} is not in a call`);
    }
    if (callId !== undefined && callId !== snapshot.callId) {
      throw new CallgateError('COULD_NOT_GET_CALL_INFO', `call ${callId} is not the agent's current call`);
    }
    if (snapshot.state !== 'active' && snapshot.state !== 'held') {
      throw new CallgateError(
        'NOT_IN_A_CALL',
        `the call is ${snapshot.state}: only an answered call is transferred`,
      );
    }
    const side = server && !server.model.ended ? 'server' : 'browser';
    return {
      side,
      callId: snapshot.callId,
      customerCallId:
        (side === 'server' ? server?.customerCallId : this.browser.customerCallId(agent)) ?? snapshot.callId,
      phone: snapshot.phone,
    };
  }

  /** One transfer per call at a time: a second one is refused (announced, like every target refusal). */
  private async refuseSecondTransfer(source: AgentRef, call: SourceCall, to: string): Promise<void> {
    const busy = [...this.transfers.values()].some(
      (t) => t.domain === source.domain && t.from === source.ipphone && !t.model.final,
    );
    if (!busy) return;
    await this.announceRefusal(source, call, to, { reason: 'ALREADY_TRANSFERRING' });
    throw new CallgateError('TRANSFER_CALL_FAILED', `call ${call.callId} is already being transferred`);
  }

  private async targetProblem(
    source: AgentRef,
    target: AgentRef,
  ): Promise<TransferFailureReason | undefined> {
    const known = this.domains.agentIds(source.domain).includes(target.ipphone);
    if (!known || target.ipphone === source.ipphone) {
      return checkTransferTarget({ ...this.unknownFacts(source, target), known });
    }
    const defaults = defaultAgentState(this.domains.agent(target.domain, target.ipphone));
    // The target's line may run on another instance (its owner): ask where it runs.
    const [tabs, state, holder, line] = await Promise.all([
      this.stores.presence.count(target),
      this.stores.agents.get(target, defaults),
      this.stores.voice.holder(target),
      this.deps.lines.status(target),
    ]);
    const inCall =
      (line?.call !== null && line?.call !== undefined && line.call.state !== 'ended') ||
      this.browser.snapshot(target) !== null;
    const reachable = state.deviceType === 1 && !line ? holder !== null : (line?.registered ?? false);
    return checkTransferTarget({
      source: source.ipphone,
      target: target.ipphone,
      known,
      tabs,
      callStatus: state.callStatus,
      deviceType: state.deviceType,
      inCall,
      pendingRequest:
        [...this.transfers.values()].some(
          (t) => t.domain === target.domain && t.targetAgent === target.ipphone && !t.model.final,
        ) || (await this.stores.transfers.reservedBy(target)) !== null,
      reachable,
    });
  }

  private unknownFacts(source: AgentRef, target: AgentRef): Parameters<typeof checkTransferTarget>[0] {
    return {
      source: source.ipphone,
      target: target.ipphone,
      known: false,
      tabs: 0,
      callStatus: 'off',
      deviceType: 1,
      inCall: false,
      pendingRequest: false,
      reachable: false,
    };
  }

  /** The source's call ended while the target had not answered yet. */
  private async withdraw(t: Transfer): Promise<void> {
    if (t.model.state !== 'pending') return;
    clearTimeout(t.timer);
    t.timer = undefined;
    t.model.transition('cancelled');
    this.logger.log(`transfer ${t.transferId}: call ${t.source.callId} ended before ${t.to} answered`);
    await this.failed(t, 'cancelled');
  }

  /** How long a transfer request of `domain` waits: the domain's setting, else TRANSFER_TIMEOUT_MS. */
  private requestTimeoutMs(domain: string): number {
    const seconds = this.domains.domain(domain).transferRequestTimeoutSeconds;
    return seconds === undefined ? this.deps.transferTimeoutMs : seconds * 1000;
  }

  /** The request lapsed unanswered. */
  private async lapse(t: Transfer): Promise<void> {
    if (t.model.state !== 'pending') return;
    t.model.transition('timedOut');
    this.logger.log(
      `transfer ${t.transferId}: ${t.to} did not answer in ${this.requestTimeoutMs(t.domain)} ms`,
    );
    await this.failed(t, 'timedOut');
  }

  private moveSoon(t: Transfer): void {
    this.move(t).catch(async (err: unknown) => {
      this.logger.error(`transfer ${t.transferId}: the move failed: ${String(err)}`);
      if (t.model.can('failed')) {
        t.model.transition('failed');
        await this.failed(t, 'failed', { reason: 'SIP_FAILED' }).catch(() => undefined);
      }
    });
  }

  /** Sends the customer to the target (accepted agent transfer, or queue transfer). */
  private async move(t: Transfer): Promise<void> {
    const source: AgentRef = { domain: t.domain, ipphone: t.from };
    const current = this.currentCallId(source, t.source.side);
    if (current !== t.source.callId) {
      t.model.transition('cancelled');
      await this.failed(t, 'cancelled');
      return;
    }
    const leg: TransferLeg = {
      transferId: t.transferId,
      customerCallId: t.customerCallId,
      from: t.from,
      targetUser: t.targetUser,
      ...(t.targetAgent === undefined ? {} : { targetAgent: t.targetAgent }),
      domain: t.domain,
    };
    this.ledger.expect(leg);
    if (t.targetAgent !== undefined)
      await this.announceLeg(leg, { domain: t.domain, ipphone: t.targetAgent });
    let outcome: MoveOutcome;
    const fixed = t.queue ?? t.survey;
    try {
      outcome = await this.movers[t.source.side].move({
        transferId: t.transferId,
        source,
        callId: t.source.callId,
        targetUser: t.targetUser,
        ...(fixed ? { fixedUri: fixed.uri } : {}),
      });
    } finally {
      this.forgetLater(t.transferId);
    }
    if (outcome.ok) {
      t.model.transition('succeeded');
      this.logger.log(`transfer ${t.transferId}: call ${t.source.callId} is now with ${t.to}`);
      const agent =
        t.targetAgent === undefined
          ? undefined
          : await this.summary({ domain: t.domain, ipphone: t.targetAgent });
      await this.deps.events.publish(
        source,
        'transfer.succeeded',
        {
          ...this.ids(t),
          callId: t.source.callId,
          ...(agent ? { agent } : {}),
          ...(t.queue ? { queueId: t.queue.id } : {}),
          ...(t.survey ? { surveyId: t.survey.id } : {}),
        },
        { callId: t.source.callId },
      );
      this.transfers.delete(t.transferId);
      await this.keeper.finish(t.transferId);
      return;
    }
    if (outcome.reason === 'CALL_ENDED') {
      t.model.transition('cancelled');
      await this.failed(t, 'cancelled');
      return;
    }
    t.model.transition('failed');
    this.logger.log(
      `transfer ${t.transferId}: moving call ${t.source.callId} to ${t.to} failed (${outcome.reason}${outcome.sipCode ? ` ${outcome.sipCode}` : ''})`,
    );
    await this.failed(t, 'failed', {
      reason: outcome.reason,
      ...(outcome.sipCode === undefined ? {} : { sipCode: outcome.sipCode }),
    });
  }

  /** Hands the move's ledger entry to the target's home instance, which receives its INVITE. */
  private async announceLeg(leg: TransferLeg, target: AgentRef): Promise<void> {
    const home = await this.homeOf(target);
    if (home === this.peers.instanceId) return;
    await this.peers.ask(home, 'transfers.expect', leg).catch((err: unknown) => {
      // The move still works; the target's events then lack the customer call's id.
      this.logger.warn(`transfer ${leg.transferId}: ${home} did not take the ledger entry: ${String(err)}`);
    });
  }

  private currentCallId(agent: AgentRef, side: SourceCall['side']): string | undefined {
    if (side === 'server') {
      const call = this.deps.lines.line(agent)?.call;
      return call && !call.model.ended ? call.callId : undefined;
    }
    return this.browser.snapshot(agent)?.callId;
  }

  /** Announces a failed end: to the source (and /events), and to the target's tabs when it was asked. */
  private async failed(
    t: Transfer,
    state: 'rejected' | 'timedOut' | 'cancelled' | 'failed',
    detail: { reason?: 'NOT_ANSWERED' | 'SIP_FAILED'; sipCode?: number } = {},
  ): Promise<void> {
    this.transfers.delete(t.transferId);
    await this.keeper.finish(t.transferId);
    const { error, reason } = transferFailure(
      state,
      detail.reason === 'NOT_ANSWERED' || detail.reason === 'SIP_FAILED' ? detail.reason : undefined,
    );
    const agent =
      t.targetAgent === undefined
        ? undefined
        : await this.summary({ domain: t.domain, ipphone: t.targetAgent });
    const data = transferFailedData({
      ...this.ids(t),
      error,
      reason,
      callId: t.source.callId,
      ...(agent ? { agent } : {}),
      ...(t.queue ? { queueId: t.queue.id } : {}),
      ...(t.survey ? { surveyId: t.survey.id } : {}),
      ...(detail.sipCode === undefined ? {} : { sipCode: detail.sipCode }),
    });
    await this.deps.events.publish({ domain: t.domain, ipphone: t.from }, 'transfer.failed', data, {
      callId: t.source.callId,
    });
    if (t.targetAgent !== undefined) {
      await this.deps.events.publish({ domain: t.domain, ipphone: t.targetAgent }, 'transfer.failed', data, {
        callId: t.source.callId,
        backends: false,
      });
    }
  }

  /** A transfer refused before it started: `transfer.failed` to the source (and /events). */
  private async announceRefusal(
    source: AgentRef,
    call: SourceCall,
    to: string,
    facts: Pick<TransferFailedFacts, 'reason' | 'agent' | 'queueId'>,
  ): Promise<void> {
    await this.deps.events.publish(
      source,
      'transfer.failed',
      transferFailedData({
        ...facts,
        callId: call.callId,
        customerCallId: call.customerCallId,
        from: source.ipphone,
        to,
      }),
      { callId: call.callId },
    );
  }

  /** An event of the transfer to the source (and /events), and a copy to the target agent's tabs. */
  private async publishBoth<T extends 'transfer.response'>(
    t: Transfer,
    type: T,
    data: EventDataMap[T],
  ): Promise<void> {
    await this.deps.events.publish({ domain: t.domain, ipphone: t.from }, type, data, {
      callId: t.source.callId,
    });
    if (t.targetAgent !== undefined) {
      await this.deps.events.publish({ domain: t.domain, ipphone: t.targetAgent }, type, data, {
        callId: t.source.callId,
        backends: false,
      });
    }
  }

  /** A target refusal: announced to the source (and /events) with the target's info, then thrown. */
  private async refuseTarget(
    source: AgentRef,
    call: SourceCall,
    target: AgentRef,
    reason: TransferFailureReason,
  ): Promise<never> {
    const agent = reason === 'TARGET_UNKNOWN' ? undefined : await this.summary(target);
    await this.announceRefusal(source, call, target.ipphone, { reason, ...(agent ? { agent } : {}) });
    throw new CallgateError(
      'TRANSFER_CALL_FAILED',
      `agent ${target.ipphone} cannot take the call: ${reason}`,
    );
  }

  private armLapse(t: Transfer, inMs: number): void {
    t.timer = setTimeout(() => {
      t.timer = undefined;
      this.lapse(t).catch((err: unknown) => this.logger.error(`transfer ${t.transferId}: ${String(err)}`));
    }, inMs);
  }

  // ---- Transfers that outlive their instance (the shared store's leases; see transfer-leases.ts) ----

  private leased(t: Transfer, state: LeasedTransfer['state']): LeasedTransfer {
    return {
      transferId: t.transferId,
      customerCallId: t.customerCallId,
      domain: t.domain,
      from: t.from,
      to: t.to,
      targetUser: t.targetUser,
      source: t.source,
      expiresAtMs: t.expiresAtMs ?? Date.now(),
      state,
    };
  }

  /**
   * Whether this instance finishes an orphan now. A server-side source's call died with the
   * orphan's home: anyone ends the transfer. A browser-mode source's call lives on in its voice
   * tab: the instance that tab now talks to adopts it (it can carry out the move); when no live
   * instance holds the source's voice, any instance does once the request has lapsed.
   */
  private async wantsOrphan(lt: LeasedTransfer): Promise<boolean> {
    if (lt.source.side === 'server') return true;
    const holder = await this.deps.location.voiceTab({ domain: lt.domain, ipphone: lt.from });
    if (holder?.instanceId === this.peers.instanceId) return true;
    if (holder && this.deps.location.liveInstances().includes(holder.instanceId)) return false;
    return Date.now() >= lt.expiresAtMs;
  }

  /** Finishes a transfer whose home died: as its state and the source's call say. */
  private async adoptOrphan(lt: LeasedTransfer): Promise<void> {
    const t: Transfer = {
      model: new TransferModel(lt.transferId, 'agent'),
      transferId: lt.transferId,
      customerCallId: lt.customerCallId,
      from: lt.from,
      to: lt.to,
      domain: lt.domain,
      source: lt.source,
      targetUser: lt.targetUser,
      targetAgent: lt.to,
      expiresAtMs: lt.expiresAtMs,
    };
    if (lt.state === 'accepted') t.model.transition('accepted');
    this.transfers.set(t.transferId, t);
    const source: AgentRef = { domain: lt.domain, ipphone: lt.from };
    if (lt.source.side === 'server') {
      // The source's line ran on the dead instance: the customer's call ended with it (INSTANCE_LOST).
      this.logger.log(
        `transfer ${t.transferId}: the source's call ${lt.source.callId} died with its instance`,
      );
      t.model.transition('cancelled');
      await this.failed(t, 'cancelled');
      return;
    }
    if (lt.state === 'accepted') {
      // The move's outcome went to the dead instance. The customer still with the source: it failed.
      if (this.currentCallId(source, 'browser') === lt.source.callId) {
        t.model.transition('failed');
        await this.failed(t, 'failed', { reason: 'SIP_FAILED' });
      } else {
        t.model.transition('cancelled');
        await this.failed(t, 'cancelled');
      }
      return;
    }
    // Still pending: the request runs on here, answered through any instance or lapsing on time.
    this.armLapse(t, Math.max(0, lt.expiresAtMs - Date.now()));
  }

  /** Another instance adopted a transfer this one ran (this one was frozen): it finishes it. */
  private dropLost(transferId: string): void {
    const t = this.transfers.get(transferId);
    if (!t) return;
    clearTimeout(t.timer);
    this.transfers.delete(transferId);
  }

  private ids(t: Transfer): TransferIds {
    return { transferId: t.transferId, customerCallId: t.customerCallId, from: t.from, to: t.to };
  }

  /** The target as `csTransferCallSuccess` / `csTransferCallError` show it. */
  private async summary(agent: AgentRef): Promise<AgentSummary> {
    const config = this.domains.agent(agent.domain, agent.ipphone);
    const [tabs, state] = await Promise.all([
      this.stores.presence.count(agent),
      this.stores.agents.get(agent, defaultAgentState(config)),
    ]);
    return {
      ipphone: agent.ipphone,
      name: config.name,
      online: tabs > 0,
      callStatus: state.callStatus,
      tabs,
    };
  }

  private forgetLater(transferId: string): void {
    const timer = setTimeout(() => {
      this.ledgerTimers.delete(timer);
      this.ledger.forget(transferId);
    }, LEDGER_GRACE_MS);
    timer.unref();
    this.ledgerTimers.add(timer);
  }
}
