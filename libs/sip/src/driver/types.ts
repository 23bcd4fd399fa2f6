/** The vocabulary of a driven call, shared by {@link CallDriver} and SipCall (browser-safe). */
import type { SipEndCause, SipOriginator } from '../causes.js';

/**
 * The state of a call.
 *
 * ```
 *  outgoing:  Calling ──1xx──▶ Ringing ──2xx──▶ Established ──BYE──▶ Terminated
 *                └─────────────2xx────────────────▲
 *  incoming:  Ringing ──answer()──▶ Answering ──2xx sent──▶ Established
 *
 *  every state but Terminated ──reject / CANCEL / failure──▶ Terminated
 * ```
 */
export enum SipCallState {
  Calling = 'calling',
  Ringing = 'ringing',
  Answering = 'answering',
  Established = 'established',
  Terminated = 'terminated',
}

export type SipCallDirection = 'incoming' | 'outgoing';

/** The other party, from the From (incoming) or To (outgoing) header. */
export interface SipRemoteIdentity {
  /** The user part of the URI (e.g. "0901000001"); empty when the URI has none. */
  user: string;
  displayName: string | undefined;
  uri: string;
}

/** How a call ended (`ended`: it had been established) or failed (`failed`: it never was). */
export interface SipCallEnd {
  cause: SipEndCause;
  by: SipOriginator;
  /** The final SIP status when there was one: received, or sent by a local reject. */
  statusCode?: number;
}

export interface SipCallTermination extends SipCallEnd {
  /** True for `ended` (the call had been established), false for `failed`. */
  established: boolean;
}

export type SipReferResult =
  | { outcome: 'succeeded'; statusCode: number }
  | { outcome: 'failed'; stage: 'request' | 'notify' | 'callEnded'; statusCode?: number };

export type SipEmpty = Record<string, never>;

export interface SipDtmfOptions {
  /** Duration announced per digit (ms, 70..6000; default 100). */
  durationMs?: number;
  /** Pause after each digit's INFO was answered (ms; default 70). */
  gapMs?: number;
}
