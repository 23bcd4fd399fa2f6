import type { CallStatus, DeviceType, ErrorCode, TransferFailureReason } from '@callgate/contracts';

/**
 * The life of one transfer.
 *
 * ```
 *  to an agent:  pending ──target accepts──▶ accepted ──target answers──▶ succeeded
 *                  │ │ └──target refuses──▶ rejected     │
 *                  │ └──no answer in time──▶ timedOut    └──the move fails──▶ failed
 *                  └────────the source's call ended───────────────────────▶ cancelled
 *  to a queue:   accepted (no consent) ──queue answers──▶ succeeded, or ──▶ failed / cancelled
 * ```
 * Every state but pending and accepted is final.
 */
export type TransferState =
  'pending' | 'accepted' | 'rejected' | 'timedOut' | 'succeeded' | 'failed' | 'cancelled';

const NEXT: Readonly<Record<TransferState, readonly TransferState[]>> = {
  pending: ['accepted', 'rejected', 'timedOut', 'cancelled'],
  accepted: ['succeeded', 'failed', 'cancelled'],
  rejected: [],
  timedOut: [],
  succeeded: [],
  failed: [],
  cancelled: [],
};

export class IllegalTransferTransitionError extends Error {
  override readonly name = 'IllegalTransferTransitionError';
  constructor(
    readonly from: TransferState,
    readonly to: TransferState,
  ) {
    super(`a transfer cannot go from ${from} to ${to}`);
  }
}

export type TransferKind = 'agent' | 'queue';

/** The SIP header that carries a transfer's id on the INVITE that brings the customer to the target. */
export const TRANSFER_HEADER = 'X-Callgate-Transfer';

/** Transfer ids are UUIDs: safe in a SIP header and in a URI header of a Refer-To. */
const TRANSFER_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isTransferId(value: unknown): value is string {
  return typeof value === 'string' && TRANSFER_ID.test(value);
}

/**
 * One transfer's state. `transition` refuses illegal moves (a late accept after the timeout, a
 * second answer) with IllegalTransferTransitionError.
 */
export class TransferModel {
  private current: TransferState;

  constructor(
    readonly transferId: string,
    readonly kind: TransferKind,
  ) {
    this.current = kind === 'agent' ? 'pending' : 'accepted';
  }

  get state(): TransferState {
    return this.current;
  }

  get final(): boolean {
    return NEXT[this.current].length === 0;
  }

  can(to: TransferState): boolean {
    return NEXT[this.current].includes(to);
  }

  transition(to: TransferState): void {
    if (!this.can(to)) throw new IllegalTransferTransitionError(this.current, to);
    this.current = to;
  }
}

/** The 3C code and the reason of a transfer that ended in a failed state. */
export function transferFailure(
  state: 'rejected' | 'timedOut' | 'cancelled' | 'failed',
  detail?: 'NOT_ANSWERED' | 'SIP_FAILED',
): { error: ErrorCode; reason: TransferFailureReason } {
  switch (state) {
    case 'rejected':
      return { error: 'TRANSFER_CALL_FAILED', reason: 'REJECTED' };
    case 'timedOut':
      return { error: 'TRANSFER_CALL_FAILED', reason: 'TIMEOUT' };
    case 'cancelled':
      return { error: 'NOT_IN_A_CALL', reason: 'CALL_ENDED' };
    case 'failed':
      return { error: 'TRANSFER_CALL_FAILED', reason: detail ?? 'SIP_FAILED' };
  }
}

/** What the gateway knows about a would-be target agent when a transfer is asked for. */
export interface TargetFacts {
  source: string;
  target: string;
  /** the target is an agent of the source's domain */
  known: boolean;
  /** live tabs of the target (it must see the request to consent) */
  tabs: number;
  callStatus: CallStatus;
  deviceType: DeviceType;
  /** the target's current call, if any (server-side or browser) */
  inCall: boolean;
  /** the target is already asked to take another transfer */
  pendingRequest: boolean;
  /** a user agent registers the target's extension: the gateway's line (modes 2-4), a voice tab (mode 1) */
  reachable: boolean;
}

/**
 * Whether an agent may be asked to take a call: known, not the source, online (a tab to consent
 * in), call status On (not Off nor No Answer), free, not already asked, and reachable on its device. The first failing
 * rule's reason, or undefined when the target qualifies.
 */
export function checkTransferTarget(facts: TargetFacts): TransferFailureReason | undefined {
  if (!facts.known) return 'TARGET_UNKNOWN';
  if (facts.target === facts.source) return 'TARGET_IS_SOURCE';
  if (facts.tabs === 0) return 'TARGET_OFFLINE';
  if (facts.callStatus !== 'on') return 'TARGET_OFF';
  if (facts.inCall || facts.pendingRequest) return 'TARGET_BUSY';
  if (!facts.reachable) return 'TARGET_UNAVAILABLE';
  return undefined;
}

/** The Refer-To / request URI that brings the customer to `user`, carrying the transfer's id. */
export function transferTargetUri(user: string, sipDomain: string, transferId: string): string {
  if (!isTransferId(transferId)) throw new Error(`not a transfer id: ${JSON.stringify(transferId)}`);
  return `sip:${user}@${sipDomain}?${TRANSFER_HEADER}=${transferId}`;
}

/** A queue URI from the domain config, with the transfer's id as a URI header. */
export function withTransferHeader(uri: string, transferId: string): string {
  if (!isTransferId(transferId)) throw new Error(`not a transfer id: ${JSON.stringify(transferId)}`);
  return `${uri}${uri.includes('?') ? '&' : '?'}${TRANSFER_HEADER}=${transferId}`;
}
