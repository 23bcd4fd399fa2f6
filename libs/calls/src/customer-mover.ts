import { transferTargetUri, withTransferHeader } from '@callgate/call-core';
import type { AgentLocationPort, AgentRef, VoiceTabPort } from './ports.js';
import type { HandOverResult, ServerCall } from './server-call.js';

/** Where a transfer sends the customer. */
export interface MoveRequest {
  transferId: string;
  source: AgentRef;
  /** the source agent's call whose customer moves */
  callId: string;
  /** the target agent's SIP user (its extension), for an agent transfer */
  targetUser: string;
  /** a queue's or a survey IVR's `sip:` URI, for a blind transfer to a fixed target */
  fixedUri?: string;
}

/** How a transfer moves the customer; `CALL_ENDED`: the source's call was gone before it could. */
export type MoveOutcome = HandOverResult;

/**
 * Moves a source's customer to a transfer's target. Two ways, by where the customer's leg is:
 * {@link ReBridgeMover} (the gateway holds it: modes 2, 3, 4, 6) and {@link ReferMover} (the voice
 * tab's in-page phone holds it: mode 1). Either way the INVITE carries the transfer's id.
 */
export interface CustomerMover {
  move(request: MoveRequest): Promise<MoveOutcome>;
}

/** SIP statuses of a move that mean the target did not answer, rather than a failure. */
export function notAnsweredStatus(sipCode: number | undefined): boolean {
  return sipCode === 408 || sipCode === 480 || sipCode === 487;
}

/**
 * Re-bridge: the source's line calls the target (presenting the customer's number) and, when it
 * answers, bridges the customer to it instead of the agent's device (`ServerCall.handOver`).
 */
export class ReBridgeMover implements CustomerMover {
  constructor(
    private readonly deps: {
      /** the source's current server-side call, on this instance */
      serverCall: (agent: AgentRef) => ServerCall | undefined;
      /** how long the target's leg may ring */
      timeoutMs: () => number;
    },
  ) {}

  move(request: MoveRequest): Promise<MoveOutcome> {
    const call = this.deps.serverCall(request.source);
    if (!call || call.callId !== request.callId || call.model.ended)
      return Promise.resolve({ ok: false, reason: 'CALL_ENDED' });
    return call.handOver({
      target: request.fixedUri ?? request.targetUser,
      transferId: request.transferId,
      timeoutMs: this.deps.timeoutMs(),
    });
  }
}

/** REFER: the source's voice tab asks its customer's phone to call the target (SIP REFER). */
export class ReferMover implements CustomerMover {
  constructor(
    private readonly deps: {
      location: AgentLocationPort;
      voiceTabs: VoiceTabPort;
      /** the SIP domain of an agent's PBX (an agent target's URI) */
      sipDomain: (domain: string) => string;
      /** how long the voice tab may take to report the REFER's outcome */
      timeoutMs: () => number;
    },
  ) {}

  async move(request: MoveRequest): Promise<MoveOutcome> {
    const holder = await this.deps.location.voiceTab(request.source);
    if (!holder) return { ok: false, reason: 'CALL_ENDED' };
    const target =
      request.fixedUri !== undefined
        ? withTransferHeader(request.fixedUri, request.transferId)
        : transferTargetUri(
            request.targetUser,
            this.deps.sipDomain(request.source.domain),
            request.transferId,
          );
    const answer = await this.deps.voiceTabs.transfer(
      holder.tabId,
      { callId: request.callId, target },
      this.deps.timeoutMs(),
    );
    if (answer.ok) return { ok: true };
    if (answer.code !== 'TRANSFER_CALL_FAILED') return { ok: false, reason: 'CALL_ENDED' };
    const sipCode = answer.sipCode;
    return {
      ok: false,
      reason: notAnsweredStatus(sipCode) ? 'NOT_ANSWERED' : 'SIP_FAILED',
      ...(sipCode === undefined ? {} : { sipCode }),
    };
  }
}
