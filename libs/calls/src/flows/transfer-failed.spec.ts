// transfer.failed is built in one place (transferFailedData): what each refusal and failure says.
import { transferFailure } from '@callgate/call-core';
import { transferFailedData } from '../transfer-events.js';

const IDS = { callId: 'c-1', customerCallId: 'c-0', from: '1001', to: '1002' };

describe('transfer.failed data', () => {
  it('is TRANSFER_CALL_FAILED with the ids and the reason, and nothing it was not told', () => {
    expect(transferFailedData({ ...IDS, reason: 'TARGET_BUSY' })).toEqual({
      ...IDS,
      error: 'TRANSFER_CALL_FAILED',
      reason: 'TARGET_BUSY',
    });
  });

  it('carries the transfer id, the target summary, the queue or survey and the SIP code when told', () => {
    const agent = { ipphone: '1002', name: 'Agent 1002', online: true, callStatus: 'on' as const, tabs: 1 };
    expect(
      transferFailedData({
        ...IDS,
        transferId: 't-1',
        reason: 'SIP_FAILED',
        agent,
        queueId: 'sales',
        surveyId: 'csat',
        sipCode: 486,
      }),
    ).toEqual({
      ...IDS,
      transferId: 't-1',
      error: 'TRANSFER_CALL_FAILED',
      reason: 'SIP_FAILED',
      agent,
      queueId: 'sales',
      surveyId: 'csat',
      sipCode: 486,
    });
  });

  it.each([
    ['rejected', undefined, 'TRANSFER_CALL_FAILED', 'REJECTED'],
    ['timedOut', undefined, 'TRANSFER_CALL_FAILED', 'TIMEOUT'],
    ['cancelled', undefined, 'NOT_IN_A_CALL', 'CALL_ENDED'],
    ['failed', 'NOT_ANSWERED', 'TRANSFER_CALL_FAILED', 'NOT_ANSWERED'],
    ['failed', 'SIP_FAILED', 'TRANSFER_CALL_FAILED', 'SIP_FAILED'],
    ['failed', undefined, 'TRANSFER_CALL_FAILED', 'SIP_FAILED'],
  ] as const)('a transfer %s (%s) fails %s / %s', (state, detail, error, reason) => {
    const failure = transferFailure(state, detail);
    expect(transferFailedData({ ...IDS, transferId: 't-1', ...failure })).toEqual({
      ...IDS,
      transferId: 't-1',
      error,
      reason,
    });
  });
});
