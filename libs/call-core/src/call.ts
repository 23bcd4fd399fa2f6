import type { ErrorCode, EventType } from '@callgate/contracts';

/**
 * The life of one agent call, the same whether the gateway holds both legs (device modes 2, 3, 4)
 * or the voice tab is the phone (mode 1).
 *
 * ```
 *  inbound:   ringing ──answer──▶ active ◀──unhold── held
 *                │                 │  └────hold────▶  │
 *  outbound:  agentRinging ─▶ dialing ─customer answers─▶ active
 *                │               │                 │       │
 *                └───────────────┴──── hang-up / failure ──┴──▶ ended
 * ```
 * Mute is not a state: it is a flag of an active or held call.
 */
export type CallState = 'ringing' | 'agentRinging' | 'dialing' | 'active' | 'held' | 'ended';
export type CallDirection = 'inbound' | 'outbound';

const NEXT: Readonly<Record<CallState, readonly CallState[]>> = {
  ringing: ['active', 'ended'],
  agentRinging: ['dialing', 'ended'],
  dialing: ['active', 'ended'],
  active: ['held', 'ended'],
  held: ['active', 'ended'],
  ended: [],
};

export class IllegalTransitionError extends Error {
  override readonly name = 'IllegalTransitionError';
  constructor(
    readonly from: CallState,
    readonly to: CallState,
  ) {
    super(`a call cannot go from ${from} to ${to}`);
  }
}

/** Why a call ended, as `call.ended.cause` says it. */
export type EndCause =
  | 'NORMAL_CLEARING'
  | 'CUSTOMER_CANCELLED'
  | 'AGENT_REJECTED'
  | 'NO_ANSWER'
  | 'BUSY'
  | 'UNREACHABLE'
  | 'DEVICE_UNREACHABLE'
  | 'CALLOUT_FAILED'
  | 'MEDIA_FAILED'
  | 'TRANSFERRED'
  | 'INSTANCE_LOST'
  | 'SHUTDOWN'
  | 'ERROR';

export type EndedBy = 'customer' | 'agent' | 'system';

export interface CallSnapshot {
  callId: string;
  direction: CallDirection;
  /** the customer's number */
  phone: string;
  state: CallState;
  muted: boolean;
  transactionId?: string;
  startedAt: number;
  answeredAt?: number;
  endedAt?: number;
}

/**
 * One call's state. `transition` refuses illegal moves with IllegalTransitionError and returns the
 * event the move announces (if any), so every place that drives a call emits the same sequence.
 */
export class CallModel {
  private current: CallState;
  private mutedFlag = false;
  readonly startedAt: number;
  private answeredAtMs: number | undefined;
  private endedAtMs: number | undefined;

  constructor(
    readonly callId: string,
    readonly direction: CallDirection,
    readonly phone: string,
    readonly transactionId?: string,
    now: number = Date.now(),
  ) {
    this.current = direction === 'inbound' ? 'ringing' : 'agentRinging';
    this.startedAt = now;
  }

  /**
   * A call first heard of in the middle (its start was seen by another gateway instance, or
   * before a restart): its model in `state`, as it is now, with no history made up to get there.
   * An answered call counts as answered from now on.
   */
  static joined(
    callId: string,
    direction: CallDirection,
    phone: string,
    state: CallState,
    transactionId?: string,
    now: number = Date.now(),
  ): CallModel {
    const call = new CallModel(callId, direction, phone, transactionId, now);
    call.current = state;
    if (state === 'active' || state === 'held') call.answeredAtMs = now;
    if (state === 'ended') call.endedAtMs = now;
    return call;
  }

  get state(): CallState {
    return this.current;
  }

  get muted(): boolean {
    return this.mutedFlag;
  }

  get ended(): boolean {
    return this.current === 'ended';
  }

  /** Seconds between answer and end (0 when never answered). */
  get duration(): number {
    if (this.answeredAtMs === undefined) return 0;
    return Math.round(((this.endedAtMs ?? Date.now()) - this.answeredAtMs) / 1000);
  }

  can(to: CallState): boolean {
    return NEXT[this.current].includes(to);
  }

  transition(to: CallState, now: number = Date.now()): EventType | undefined {
    const from = this.current;
    if (!this.can(to)) throw new IllegalTransitionError(from, to);
    this.current = to;
    switch (to) {
      case 'active':
        if (from === 'held') return 'call.unheld';
        this.answeredAtMs = now;
        return from === 'dialing' ? 'call.customerAccepted' : 'call.accepted';
      case 'held':
        return 'call.held';
      case 'dialing':
        return undefined;
      case 'ended':
        this.endedAtMs = now;
        return 'call.ended';
      case 'ringing':
      case 'agentRinging':
        return undefined;
    }
  }

  /** Flips mute on an answered call; returns the event it announces. */
  toggleMute(): 'call.muted' | 'call.unmuted' {
    if (this.current !== 'active' && this.current !== 'held') {
      throw new IllegalTransitionError(this.current, this.current);
    }
    this.mutedFlag = !this.mutedFlag;
    return this.mutedFlag ? 'call.muted' : 'call.unmuted';
  }

  /** Sets mute on an answered call; returns the event it announces, or undefined when it was so already. */
  setMuted(muted: boolean): 'call.muted' | 'call.unmuted' | undefined {
    if (this.current !== 'active' && this.current !== 'held') {
      throw new IllegalTransitionError(this.current, this.current);
    }
    if (this.mutedFlag === muted) return undefined;
    this.mutedFlag = muted;
    return muted ? 'call.muted' : 'call.unmuted';
  }

  snapshot(): CallSnapshot {
    return {
      callId: this.callId,
      direction: this.direction,
      phone: this.phone,
      state: this.current,
      muted: this.mutedFlag,
      ...(this.transactionId === undefined ? {} : { transactionId: this.transactionId }),
      startedAt: this.startedAt,
      ...(this.answeredAtMs === undefined ? {} : { answeredAt: this.answeredAtMs }),
      ...(this.endedAtMs === undefined ? {} : { endedAt: this.endedAtMs }),
    };
  }
}

/** The cause of a failed leg, from its final SIP status. */
export function causeOfStatus(status: number | undefined): EndCause {
  switch (status) {
    case 486:
    case 600:
      return 'BUSY';
    case 408:
    case 480:
      return 'NO_ANSWER';
    case 404:
    case 410:
    case 484:
    case 604:
      return 'UNREACHABLE';
    case 487:
      return 'CUSTOMER_CANCELLED';
    case 603:
    case 403:
      return 'AGENT_REJECTED';
    default:
      return 'ERROR';
  }
}

/**
 * The 3C callout error for a failure at a stage: the agent's device never answered
 * (`IPCC_NOT_CONNECT_AGENT_ID`), the customer leg failed with a SIP code
 * (`IPCC_NOT_CONNECT_CUSTOMER` + that code), anything else (`ERROR_CALLOUT_CONNECT`).
 */
export function calloutError(
  stage: 'device' | 'customer' | 'other',
  sipCode?: number,
): { errorCode: ErrorCode; sipCode?: number } {
  if (stage === 'device') return { errorCode: 'IPCC_NOT_CONNECT_AGENT_ID' };
  if (stage === 'customer' && sipCode !== undefined && sipCode >= 300) {
    return { errorCode: 'IPCC_NOT_CONNECT_CUSTOMER', sipCode };
  }
  return { errorCode: 'ERROR_CALLOUT_CONNECT', ...(sipCode === undefined ? {} : { sipCode }) };
}
