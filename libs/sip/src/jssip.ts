/**
 * A typed facade over the parts of JsSIP 3.13 that libs/sip uses. JsSIP's bundled
 * declarations lean on `any` and on the `debug` package's types; these interfaces
 * describe what the JavaScript actually does, and nothing outside libs/sip sees them.
 */
import jssipModule from 'jssip';
import jssipTransactions from 'jssip/lib/Transactions.js';
import type { JsSipUa, JsSipUaConfiguration } from './jssip-types.js';

export type * from './jssip-types.js';

export interface JsSipModule {
  readonly version: string;
  readonly UA: new (configuration: JsSipUaConfiguration) => JsSipUa;
}

/** The JsSIP module, seen through the facade. */
export const JsSip = jssipModule as unknown as JsSipModule;

interface InviteServerTransactionInternals {
  H?: ReturnType<typeof setTimeout>;
  timer_I: (this: InviteServerTransactionInternals) => void;
}

const timerHFixed = Symbol.for('callgate.sip.jssip-timer-h-fix');

/**
 * JsSIP 3.13 bug: when the ACK of a non-2xx final response (a rejected incoming call)
 * arrives, the INVITE server transaction is destroyed by Timer I but its Timer H (32 s)
 * is left running: a pending timer per rejected call, which keeps a process (or a test
 * run) alive for 32 s. Clearing H when Timer I fires fixes it; applied once on import.
 */
function fixInviteServerTimerH(): void {
  const proto = jssipTransactions.InviteServerTransaction.prototype as InviteServerTransactionInternals &
    Record<symbol, boolean>;
  if (proto[timerHFixed]) return;
  const timerI = proto.timer_I;
  proto.timer_I = function (this: InviteServerTransactionInternals): void {
    clearTimeout(this.H);
    timerI.call(this);
  };
  proto[timerHFixed] = true;
}
fixInviteServerTimerH();
