import {
  type CallReport,
  type CallStatus,
  CallgateError,
  type CallCommandName,
  type CommandPayload,
  type CommandResult,
} from '@callgate/contracts';
import { CallModel, type CallSnapshot, type CallState, IllegalTransitionError } from '@callgate/call-core';
import type {
  AgentLocationPort,
  AgentPlace,
  AgentRef,
  CallEventsPort,
  CallsLogger,
  VoiceTabPort,
} from './ports.js';
import type { TransferLedger } from './transfer-ledger.js';

/**
 * A call first heard of in the middle: its model as it stands just before this report (the call
 * is taken as it is, with no history made up), so that the report moves it as it moved the phone.
 */
function adopt(report: CallReport): CallModel {
  const join = (state: CallState): CallModel =>
    CallModel.joined(report.callId, 'inbound', '', state, report.transactionId);
  switch (report.type) {
    case 'call.held':
    case 'call.muted':
    case 'call.unmuted':
      return join('active');
    case 'call.unheld':
      return join('held');
    case 'call.accepted':
    case 'call.customerAccepted':
    case 'callout.failed':
    case 'call.ended':
    case 'call.ringing':
    case 'callout.started':
    case 'callout.customerRinging':
      return join('ringing');
  }
}

const key = (agent: AgentRef): string => `${agent.domain}/${agent.ipphone}`;

/** How long a voice tab has to answer a command about a call this instance has not seen. */
const UNKNOWN_CALL_RELAY_TIMEOUT_MS = 2_000;
/** How many calls ended by the gateway itself are remembered (their late reports dropped). */
const ENDED_HERE_KEPT = 256;

/**
 * Calls of browser-mode agents (device 1): the voice tab's in-page phone carries them. Commands
 * from anywhere are checked here and relayed to the voice tab; the tab reports each call event,
 * which is checked against the same call-core state machine as server-side calls, then fanned out
 * to the agent's tabs and /events.
 */
/** What the browser-mode call books need. */
export interface BrowserCallsDeps {
  /** where agents' voice tabs are */
  location: AgentLocationPort;
  /** commands to a voice tab's phone */
  voiceTabs: VoiceTabPort;
  events: CallEventsPort;
  /** transfers under way: a reported transfer header is trusted only when listed */
  ledger: TransferLedger;
  logger: CallsLogger;
  /** an inbound call not answered by then is refused (RING_TIMEOUT_MS) */
  ringTimeoutMs: number;
  /** records the agent as not answering (3C `'No Answer'`) in the shared store */
  setNoAnswer: (agent: AgentRef) => Promise<void>;
}

export class BrowserCalls {
  private readonly current = new Map<string, CallModel>();
  /** told of every browser-mode call that ended (agent, call id) */
  private readonly endedListeners = new Set<(agent: AgentRef, callId: string) => void>();
  /** per agent, the customer call id of a call transferred to it (else the call's own id) */
  private readonly customerIds = new Map<string, { callId: string; customerCallId: string }>();
  /** per call id, the ring timer of an inbound call not answered yet (RING_TIMEOUT_MS) */
  private readonly ringTimers = new Map<string, NodeJS.Timeout>();
  /**
   * per call id, why the gateway had the voice tab's phone refuse the call: its `call.ended` is
   * published with this cause (the phone itself only knows that it rejected it).
   */
  private readonly refusals = new Map<string, 'off' | 'timeout'>();
  /**
   * The calls whose end the gateway published itself (the tab did not reject a refused call, or the
   * voice tab left), newest last: a report of such a call that comes late is dropped, so it neither
   * adopts the call again nor publishes a second `call.ended`.
   */
  private readonly endedHere = new Set<string>();

  constructor(private readonly deps: BrowserCallsDeps) {}

  private get logger(): CallsLogger {
    return this.deps.logger;
  }

  snapshot(agent: AgentRef): CallSnapshot | null {
    return this.current.get(key(agent))?.snapshot() ?? null;
  }

  /** Calls `listener` whenever a browser-mode call ends (reported, or its voice tab lost). */
  onCallEnded(listener: (agent: AgentRef, callId: string) => void): () => void {
    this.endedListeners.add(listener);
    return () => this.endedListeners.delete(listener);
  }

  private callEnded(agent: AgentRef, callId: string): void {
    for (const listener of this.endedListeners) {
      try {
        listener(agent, callId);
      } catch (err) {
        this.logger.error(`a call-ended listener failed: ${String(err)}`);
      }
    }
  }

  /** The id the customer's call keeps across agents, for the agent's current call. */
  customerCallId(agent: AgentRef): string | undefined {
    const call = this.current.get(key(agent));
    if (!call || call.ended) return undefined;
    const ids = this.customerIds.get(key(agent));
    return ids?.callId === call.callId ? ids.customerCallId : call.callId;
  }

  /** Relays a call command to the voice tab (`place`: where the agent was located, when known). */
  async command<K extends CallCommandName>(
    agent: AgentRef,
    name: K,
    payload: CommandPayload<K>,
    place?: AgentPlace,
  ): Promise<CommandResult<K>>;
  async command(
    agent: AgentRef,
    name: CallCommandName,
    payload: CommandPayload<CallCommandName>,
    place?: AgentPlace,
  ): Promise<CommandResult<CallCommandName>> {
    const call = this.current.get(key(agent));
    if (name === 'call.dial') {
      if (call && !call.ended)
        throw new CallgateError('CALLOUT_AGENT_BUSY', `agent ${agent.ipphone} is already in a call`);
    } else if (call && !call.ended) {
      const callId = (payload as { callId?: string }).callId;
      if (callId !== undefined && callId !== call.callId) {
        throw new CallgateError('COULD_NOT_GET_CALL_INFO', `call ${callId} is not the agent's current call`);
      }
    }
    const holder = place
      ? place.kind === 'voiceTab'
        ? place
        : null
      : await this.deps.location.voiceTab(agent);
    if (name !== 'call.dial' && (!call || call.ended) && !holder) {
      throw new CallgateError('NOT_IN_A_CALL', 'the agent is not in a call');
    }
    // A call this instance has not seen (it restarted while the call rang, or the voice tab came
    // over from another instance): the voice tab's phone knows its call, so the command goes to
    // it; it answers NOT_IN_A_CALL itself when idle, and its next report adopts the call here.
    if (!holder) {
      throw new CallgateError(
        'DEVICE_NOT_AVAILABLE',
        `agent ${agent.ipphone} is in browser mode and has no voice tab`,
      );
    }
    const known = name === 'call.dial' || (call !== undefined && !call.ended);
    let answer;
    try {
      answer = await this.deps.voiceTabs.command(
        holder.tabId,
        name,
        { ...payload, ...(call ? { callId: call.callId } : {}) },
        known ? undefined : UNKNOWN_CALL_RELAY_TIMEOUT_MS,
      );
    } catch (err) {
      // Asked about a call this instance never saw, a voice tab that does not answer has none.
      if (known || !(err instanceof CallgateError)) throw err;
      throw new CallgateError('NOT_IN_A_CALL', 'the agent is not in a call');
    }
    if (!answer.ok) throw new CallgateError(answer.code, answer.message);
    const { ok: _ok, ...result } = answer;
    return result;
  }

  /** Stops the ring timers (the gateway is shutting down). */
  close(): void {
    for (const timer of this.ringTimers.values()) clearTimeout(timer);
    this.ringTimers.clear();
  }

  /**
   * A call event from the voice tab: checked (holder, state machine) and published. With
   * `callStatus` other than `'on'` (`'off'`, `'noAnswer'`) an inbound call (not a transfer) is refused as in desk-phone mode: it is
   * not announced, and the tab's phone is told to reject it (480). An inbound call that rings
   * longer than RING_TIMEOUT_MS is rejected the same way and ends with NO_ANSWER; a distributed
   * one (not a transfer) then marks the agent not-answering (3C `'No Answer'`).
   */
  async report(
    agent: AgentRef,
    tabId: string,
    report: CallReport,
    options: { callStatus?: CallStatus } = {},
  ): Promise<void> {
    const holder = await this.deps.location.voiceTab(agent);
    if (holder?.tabId !== tabId)
      throw new CallgateError('NOT_VOICE_HOLDER', 'only the voice tab reports calls');
    const k = key(agent);
    if (this.endedHere.has(report.callId)) {
      this.logger.debug(`${k}: ${report.type} of call ${report.callId}, which already ended here: dropped`);
      return;
    }
    let call = this.current.get(k);
    let rangOut = false;
    try {
      switch (report.type) {
        case 'call.ringing':
        case 'callout.started':
          if (call && !call.ended)
            throw new CallgateError('CALLOUT_AGENT_BUSY', 'a call is already in progress');
          call = new CallModel(
            report.callId,
            report.type === 'call.ringing' ? 'inbound' : 'outbound',
            report.type === 'call.ringing' ? report.data.phone : report.data.number,
            report.transactionId,
          );
          // In the browser the tab is the device: an outbound call goes straight to the customer.
          if (call.direction === 'outbound') call.transition('dialing');
          this.current.set(k, call);
          this.customerIds.delete(k);
          if (report.type === 'call.ringing') {
            // The tab read the INVITE's transfer header: honoured only for a transfer of ours to this agent.
            const { transferId, ...plain } = report.data;
            const leg = this.deps.ledger.lookupForAgent(transferId, agent.domain, agent.ipphone);
            report = {
              ...report,
              data: leg
                ? {
                    ...plain,
                    customerCallId: leg.customerCallId,
                    transferId: leg.transferId,
                    transferredFrom: leg.from,
                  }
                : plain,
            };
            if (leg) this.customerIds.set(k, { callId: report.callId, customerCallId: leg.customerCallId });
            // Off, or 'No Answer' (3C: marked after a call rang out), takes no calls until turned on
            if (!leg && options.callStatus !== undefined && options.callStatus !== 'on') {
              this.refuse(agent, tabId, report.callId, 'off');
              return;
            }
            this.startRingTimer(agent, tabId, report.callId);
          }
          break;
        default: {
          if (call && call.callId !== report.callId && !call.ended) {
            throw new CallgateError(
              'COULD_NOT_GET_CALL_INFO',
              `call ${report.callId} is not the agent's current call`,
            );
          }
          if (!call || call.callId !== report.callId) {
            // A call this instance has not seen start (the gateway restarted, or the voice tab moved
            // to this instance mid-call): the voice holder's word is taken, and the call adopted.
            call = adopt(report);
            this.current.set(k, call);
            this.logger.warn(`${k}: adopted call ${report.callId} from the voice tab (${report.type})`);
          }
          switch (report.type) {
            case 'call.accepted':
            case 'call.customerAccepted':
            case 'call.unheld':
              call.transition('active');
              break;
            case 'call.held':
              call.transition('held');
              break;
            case 'call.muted':
            case 'call.unmuted':
              call.setMuted(report.type === 'call.muted');
              break;
            case 'call.ended': {
              // A duration no longer than the gateway saw the call (from its first report).
              const seen = Math.ceil((Date.now() - call.startedAt) / 1000);
              if (report.data.duration !== undefined && report.data.duration > seen)
                report = { ...report, data: { ...report.data, duration: seen } };
              call.transition('ended');
              rangOut = this.rangOut(k, call.callId);
              this.current.delete(k);
              this.customerIds.delete(k);
              this.callEnded(agent, call.callId);
              const refusal = this.refusals.get(call.callId);
              this.refusals.delete(call.callId);
              if (refusal !== undefined) {
                report = {
                  ...report,
                  data: {
                    ...report.data,
                    cause: refusal === 'off' ? 'AGENT_REJECTED' : 'NO_ANSWER',
                    by: 'system',
                  },
                };
              }
              break;
            }
            case 'callout.failed':
            case 'callout.customerRinging':
              break;
          }
        }
      }
      if (report.type !== 'call.ringing') this.stopRingTimer(report.callId);
    } catch (err) {
      if (err instanceof IllegalTransitionError) {
        throw new CallgateError('INVALID_PAYLOAD', `${report.type} is not possible now: ${err.message}`);
      }
      throw err;
    }
    await this.deps.events.publish(agent, report.type, report.data, {
      callId: report.callId,
      ...(call.transactionId === undefined ? {} : { transactionId: call.transactionId }),
    });
    if (rangOut) await this.markNoAnswer(agent);
  }

  /**
   * Whether the agent's call `callId`, about to end, is a distributed call (not a transfer leg)
   * that the gateway gave up ringing (RING_TIMEOUT_MS): as on server-side devices, such a call
   * marks the agent not-answering.
   */
  private rangOut(k: string, callId: string): boolean {
    return (
      this.refusals.get(callId) === 'timeout' &&
      this.current.get(k)?.direction === 'inbound' &&
      this.customerIds.get(k)?.callId !== callId
    );
  }

  /**
   * An inbound call rang out in the voice tab: the agent is marked not-answering (3C
   * `'No Answer'`) and gets no calls until it changes its call status (as on server-side devices).
   */
  private async markNoAnswer(agent: AgentRef): Promise<void> {
    try {
      await this.deps.setNoAnswer(agent);
      await this.deps.events.publish(agent, 'agent.callStatus', { status: 'noAnswer' });
      this.logger.log(`${key(agent)}: a call rang out in the voice tab, call status -> noAnswer`);
    } catch (err) {
      this.logger.warn(`${key(agent)}: marking noAnswer failed: ${(err as Error).message}`);
    }
  }

  private startRingTimer(agent: AgentRef, tabId: string, callId: string): void {
    this.stopRingTimer(callId);
    const timer = setTimeout(() => {
      this.ringTimers.delete(callId);
      const call = this.current.get(key(agent));
      if (call?.callId !== callId || call.state !== 'ringing') return;
      this.logger.log(`${key(agent)}: call ${callId} not answered in ${this.deps.ringTimeoutMs} ms`);
      this.refuse(agent, tabId, callId, 'timeout');
    }, this.deps.ringTimeoutMs);
    timer.unref();
    this.ringTimers.set(callId, timer);
  }

  private stopRingTimer(callId: string): void {
    clearTimeout(this.ringTimers.get(callId));
    this.ringTimers.delete(callId);
  }

  /**
   * Has the voice tab's phone reject a ringing call (JsSIP answers 480 to an unanswered INVITE it
   * terminates); the tab then reports its end, published with the refusal's cause. A tab that
   * does not carry this out is answered here: the call ends as far as the gateway knows.
   */
  private refuse(agent: AgentRef, tabId: string, callId: string, why: 'off' | 'timeout'): void {
    this.refusals.set(callId, why);
    if (why === 'off') this.logger.log(`${key(agent)}: call status off, call ${callId} refused (480)`);
    void this.deps.voiceTabs
      .command(tabId, 'call.hangup', { callId })
      .then(async (answer) => {
        if (answer.ok) return;
        this.logger.warn(`${key(agent)}: the voice tab did not reject call ${callId}: ${answer.code}`);
        await this.endLocally(agent, callId, why);
      })
      .catch((err: unknown) => {
        this.logger.error(`${key(agent)}: refusing call ${callId} failed: ${String(err)}`);
      });
  }

  /** The gateway ends the call itself: remembered, so that the tab's late reports of it are dropped. */
  private endHere(call: CallModel): void {
    call.transition('ended');
    this.endedHere.add(call.callId);
    if (this.endedHere.size > ENDED_HERE_KEPT) {
      const oldest = this.endedHere.values().next();
      if (!oldest.done) this.endedHere.delete(oldest.value);
    }
  }

  private async endLocally(agent: AgentRef, callId: string, why: 'off' | 'timeout'): Promise<void> {
    const k = key(agent);
    const call = this.current.get(k);
    const rangOut = this.rangOut(k, callId);
    this.refusals.delete(callId);
    if (call?.callId !== callId || call.ended) return;
    this.endHere(call);
    this.current.delete(k);
    this.customerIds.delete(k);
    this.callEnded(agent, callId);
    await this.deps.events.publish(
      agent,
      'call.ended',
      { cause: why === 'off' ? 'AGENT_REJECTED' : 'NO_ANSWER', by: 'system', duration: call.duration },
      { callId, ...(call.transactionId === undefined ? {} : { transactionId: call.transactionId }) },
    );
    if (rangOut) await this.markNoAnswer(agent);
  }

  /** The voice tab is gone: a call it carried cannot go on. */
  async voiceTabLost(agent: AgentRef): Promise<void> {
    const k = key(agent);
    const call = this.current.get(k);
    if (!call || call.ended) return;
    this.endHere(call);
    this.current.delete(k);
    this.customerIds.delete(k);
    this.stopRingTimer(call.callId);
    this.refusals.delete(call.callId);
    this.callEnded(agent, call.callId);
    this.logger.warn(`${k}: the voice tab left during call ${call.callId}`);
    await this.deps.events.publish(
      agent,
      'call.ended',
      { cause: 'MEDIA_FAILED', by: 'system', duration: call.duration },
      {
        callId: call.callId,
        ...(call.transactionId === undefined ? {} : { transactionId: call.transactionId }),
      },
    );
  }
}
