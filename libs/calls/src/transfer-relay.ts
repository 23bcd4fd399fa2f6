import type { CallsLogger, SipLeg } from './ports.js';

export interface TransferRelayParts {
  /** the transferring agent's call, which ended TRANSFERRED */
  callId: string;
  /** the id the customer's call keeps across agents */
  customerCallId: string;
  customer: SipLeg;
  /** the leg to the transfer's target (an agent's extension, a queue, a survey IVR) */
  target: SipLeg;
  /** the call's media (a bridge, or the direct link), closed with the relay */
  media: { close(): void };
  logger: CallsLogger;
  /** the line's agent, `<domain>/<ipphone>`, for log lines */
  agentName: string;
}

/**
 * What a server-side transfer leaves behind: the customer's leg and the target's leg, bridged on
 * the source's line (bridged, or joined by direct media) after the source's call ended (TRANSFERRED). The line keeps it (see
 * `ServerLine.relays`), so a drain, a rebalance or a device change waits for it as for a call, and
 * it closes when either side hangs up.
 */
export class TransferRelay {
  private closing: Promise<void> | undefined;
  private readonly closedSignal: Promise<void>;
  private signalClosed!: () => void;

  constructor(private readonly parts: TransferRelayParts) {
    this.closedSignal = new Promise((resolve) => {
      this.signalClosed = resolve;
    });
    parts.target.once('ended', () => void this.close());
    parts.target.once('failed', () => void this.close());
    parts.customer.once('ended', () => void this.close());
    parts.customer.once('failed', () => void this.close());
  }

  get callId(): string {
    return this.parts.callId;
  }

  get customerCallId(): string {
    return this.parts.customerCallId;
  }

  /** Resolves once both legs are down and the media is closed. */
  get closed(): Promise<void> {
    return this.closedSignal;
  }

  /** Hangs both sides up and closes the media; idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.allSettled([this.parts.customer.hangup(), this.parts.target.hangup()]);
      this.parts.media.close();
      this.parts.logger.log(
        `${this.parts.agentName}: call ${this.parts.callId}: the transferred customer's call is over`,
      );
      this.signalClosed();
    })();
    return this.closing;
  }
}
