import type { AgentSummary, ErrorCode, EventDataMap, TransferFailureReason } from '@callgate/contracts';

/** Everything a `transfer.failed` may say; built here only, whichever step refused or failed. */
export interface TransferFailedFacts {
  /** unset when the transfer was refused before it got an id */
  transferId?: string;
  callId: string;
  customerCallId: string;
  from: string;
  to: string;
  reason: TransferFailureReason;
  /** the 3C code; default `TRANSFER_CALL_FAILED` */
  error?: ErrorCode;
  agent?: AgentSummary;
  queueId?: string;
  surveyId?: string;
  sipCode?: number;
}

/** The data of a `transfer.failed` event. */
export function transferFailedData(facts: TransferFailedFacts): EventDataMap['transfer.failed'] {
  return {
    ...(facts.transferId === undefined ? {} : { transferId: facts.transferId }),
    customerCallId: facts.customerCallId,
    from: facts.from,
    to: facts.to,
    error: facts.error ?? 'TRANSFER_CALL_FAILED',
    reason: facts.reason,
    callId: facts.callId,
    ...(facts.agent ? { agent: facts.agent } : {}),
    ...(facts.queueId === undefined ? {} : { queueId: facts.queueId }),
    ...(facts.surveyId === undefined ? {} : { surveyId: facts.surveyId }),
    ...(facts.sipCode === undefined ? {} : { sipCode: facts.sipCode }),
  };
}
