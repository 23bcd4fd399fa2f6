import {
  checkTransferTarget,
  IllegalTransferTransitionError,
  isTransferId,
  type TargetFacts,
  TransferModel,
  transferFailure,
  transferTargetUri,
  withTransferHeader,
} from './transfer.js';
import { parseCommand } from './commands.js';

const ID = '0f8fad5b-d9cb-469f-a165-70867728950e';

const free: TargetFacts = {
  source: '5000',
  target: '5001',
  known: true,
  tabs: 1,
  callStatus: 'on',
  deviceType: 2,
  inCall: false,
  pendingRequest: false,
  reachable: true,
};

describe('transfer rules', () => {
  it('an agent transfer waits for consent: pending, then accepted, then succeeded', () => {
    const t = new TransferModel(ID, 'agent');
    expect(t.state).toBe('pending');
    t.transition('accepted');
    t.transition('succeeded');
    expect(t.final).toBe(true);
  });

  it('a queue transfer needs no consent: it starts accepted', () => {
    const t = new TransferModel(ID, 'queue');
    expect(t.state).toBe('accepted');
    expect(t.can('rejected')).toBe(false);
  });

  it('an answer after the timeout, or a second answer, is an illegal move', () => {
    const late = new TransferModel(ID, 'agent');
    late.transition('timedOut');
    expect(() => late.transition('accepted')).toThrow(IllegalTransferTransitionError);
    const twice = new TransferModel(ID, 'agent');
    twice.transition('rejected');
    expect(() => twice.transition('rejected')).toThrow('a transfer cannot go from rejected to rejected');
  });

  it('the source call ending cancels a pending or accepted transfer, not a finished one', () => {
    for (const path of [[], ['accepted']] as const) {
      const t = new TransferModel(ID, 'agent');
      for (const step of path) t.transition(step);
      t.transition('cancelled');
      expect(t.state).toBe('cancelled');
    }
    const done = new TransferModel(ID, 'queue');
    done.transition('succeeded');
    expect(done.can('cancelled')).toBe(false);
  });

  it('maps each failed end to a 3C code and a reason', () => {
    expect(transferFailure('rejected')).toEqual({ error: 'TRANSFER_CALL_FAILED', reason: 'REJECTED' });
    expect(transferFailure('timedOut')).toEqual({ error: 'TRANSFER_CALL_FAILED', reason: 'TIMEOUT' });
    expect(transferFailure('cancelled')).toEqual({ error: 'NOT_IN_A_CALL', reason: 'CALL_ENDED' });
    expect(transferFailure('failed', 'NOT_ANSWERED')).toEqual({
      error: 'TRANSFER_CALL_FAILED',
      reason: 'NOT_ANSWERED',
    });
    expect(transferFailure('failed')).toEqual({ error: 'TRANSFER_CALL_FAILED', reason: 'SIP_FAILED' });
  });

  it('a free, online, reachable colleague qualifies as a target', () => {
    expect(checkTransferTarget(free)).toBeUndefined();
  });

  it('refuses a target that is unknown, the source itself, offline, Off, busy, asked already or unreachable', () => {
    expect(checkTransferTarget({ ...free, known: false })).toBe('TARGET_UNKNOWN');
    expect(checkTransferTarget({ ...free, target: '5000' })).toBe('TARGET_IS_SOURCE');
    expect(checkTransferTarget({ ...free, tabs: 0 })).toBe('TARGET_OFFLINE');
    expect(checkTransferTarget({ ...free, callStatus: 'off' })).toBe('TARGET_OFF');
    expect(checkTransferTarget({ ...free, inCall: true })).toBe('TARGET_BUSY');
    expect(checkTransferTarget({ ...free, pendingRequest: true })).toBe('TARGET_BUSY');
    expect(checkTransferTarget({ ...free, reachable: false })).toBe('TARGET_UNAVAILABLE');
  });

  it('builds target URIs that carry the transfer id as a URI header, and refuses anything but an id', () => {
    expect(transferTargetUri('5001', '127.0.0.1', ID)).toBe(`sip:5001@127.0.0.1?X-Callgate-Transfer=${ID}`);
    expect(withTransferHeader('sip:queue1@127.0.0.1', ID)).toBe(
      `sip:queue1@127.0.0.1?X-Callgate-Transfer=${ID}`,
    );
    expect(withTransferHeader('sip:q@h?A=b', ID)).toBe(`sip:q@h?A=b&X-Callgate-Transfer=${ID}`);
    expect(() => transferTargetUri('5001', 'h', 'x>;evil')).toThrow('not a transfer id');
    expect(isTransferId(ID)).toBe(true);
    expect(isTransferId('abc')).toBe(false);
  });

  it('parses transfer commands: an optional callId, an optional transferId on the answer', () => {
    expect(parseCommand('transfer.toAgent', { ipphone: '5001', callId: 'c1' })).toEqual({
      ok: true,
      value: { ipphone: '5001', callId: 'c1' },
    });
    expect(parseCommand('transfer.toQueue', { queueId: '1' })).toEqual({ ok: true, value: { queueId: '1' } });
    expect(parseCommand('transfer.respond', { accept: true, transferId: ID })).toEqual({
      ok: true,
      value: { accept: true, transferId: ID },
    });
    expect(parseCommand('transfer.respond', { accept: true, transferId: 'nope' })).toMatchObject({
      ok: false,
      code: 'INVALID_PAYLOAD',
    });
  });

  it('takes a target agent id as the domains file allows it (401_202) and refuses one unsafe in a SIP URI', () => {
    expect(parseCommand('transfer.toAgent', { ipphone: '401_202' })).toEqual({
      ok: true,
      value: { ipphone: '401_202' },
    });
    for (const ipphone of ['5001@evil.example', '5001;transport=tcp', 'a b', 'x'.repeat(65)])
      expect(parseCommand('transfer.toAgent', { ipphone })).toMatchObject({
        ok: false,
        code: 'INVALID_PAYLOAD',
      });
  });

  it('keeps a well-formed transfer id on a reported ringing call and drops a malformed one', () => {
    const report = (transferId: unknown): unknown =>
      parseCommand('call.report', {
        type: 'call.ringing',
        callId: 'c1',
        data: { phone: '0901000001', transferId },
      });
    expect(report(ID)).toMatchObject({ ok: true, value: { data: { phone: '0901000001', transferId: ID } } });
    expect(report('<script>')).toEqual({
      ok: true,
      value: { type: 'call.ringing', callId: 'c1', data: { phone: '0901000001' } },
    });
  });
});
