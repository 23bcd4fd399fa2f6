/** What the gateway knows about a transfer whose INVITE is on its way to the target. */
export interface TransferLeg {
  transferId: string;
  /** the id the customer's call keeps across agents */
  customerCallId: string;
  /** the transferring agent's extension */
  from: string;
  /** the SIP user the INVITE goes to: the target agent's extension, or the queue's user */
  targetUser: string;
  /** the target agent's extension (ipphone); unset for a queue */
  targetAgent?: string;
  /** the domain of both agents: a leg is never matched from another domain (same SIP user names) */
  domain?: string;
}

/**
 * Transfers whose move is under way, by id, so the side that receives the customer can trust the
 * `X-Callgate-Transfer` header of an INVITE: a header naming no transfer this process started, or
 * reaching another user than the transfer's target, is ignored (anyone can put a header on an
 * INVITE). One per gateway, made by the composition and handed to the lines (which receive the
 * INVITE) and to the transfers (which start it), so neither depends on the other.
 */
export class TransferLedger {
  private readonly legs = new Map<string, TransferLeg>();

  expect(leg: TransferLeg): void {
    this.legs.set(leg.transferId, leg);
  }

  forget(transferId: string): void {
    this.legs.delete(transferId);
  }

  /** The transfer named by an INVITE's header, when it is one of ours and goes to `user`. */
  lookup(transferId: string | undefined, domain: string, user: string): TransferLeg | undefined {
    if (transferId === undefined) return undefined;
    const leg = this.legs.get(transferId);
    return leg?.targetUser === user && leg.domain === domain ? leg : undefined;
  }

  /** The same, for a browser-mode target that reports the header's value: it must be `ipphone`'s transfer. */
  lookupForAgent(transferId: string | undefined, domain: string, ipphone: string): TransferLeg | undefined {
    if (transferId === undefined) return undefined;
    const leg = this.legs.get(transferId);
    return leg?.targetAgent === ipphone && leg.domain === domain ? leg : undefined;
  }
}
