import type { CommandName } from '@callgate/contracts';
import { parseCommand } from './commands.js';

const CALL_ID = 'c1';
const TRANSFER_ID = '0f8fad5b-d9cb-469f-a165-70867728950e';

/**
 * For every command with fields: a valid payload, then each field given the wrong JSON type. The
 * gateway test (test/strict-types.test.ts) sends the same mistakes over REST and sockets.
 */
const STRICT_CASES: readonly [CommandName, Record<string, unknown>, string, unknown][] = [
  ['call.dial', { number: '0909123456' }, 'number', 909123456],
  ['call.dial', { number: '0909123456', transactionId: 'T1' }, 'transactionId', 1],
  ['agent.setDevice', { type: 3, mobile: '0909123456' }, 'type', '3'],
  ['agent.setDevice', { type: 3, mobile: '0909123456' }, 'mobile', 909123456],
  ['call.answer', { callId: CALL_ID }, 'callId', 1],
  ['call.hangup', { callId: CALL_ID }, 'callId', 1],
  ['call.toggleHold', { callId: CALL_ID }, 'callId', 1],
  ['call.toggleMute', { callId: CALL_ID }, 'callId', 1],
  ['call.dtmf', { digits: '12' }, 'digits', 12],
  ['call.dtmf', { digits: '12', callId: CALL_ID }, 'callId', 1],
  ['transfer.toAgent', { ipphone: '5001' }, 'ipphone', 5001],
  ['transfer.toAgent', { ipphone: '5001', callId: CALL_ID }, 'callId', true],
  ['transfer.toQueue', { queueId: '1' }, 'queueId', 1],
  ['transfer.respond', { accept: true }, 'accept', 1],
  ['transfer.respond', { accept: false }, 'accept', 'false'],
  ['transfer.respond', { accept: true, transferId: TRANSFER_ID }, 'transferId', 7],
  ['voice.enable', { voiceFence: 3 }, 'voiceFence', '3'],
  ['call.report', { type: 'call.accepted', callId: CALL_ID }, 'callId', 5],
  ['call.report', { type: 'call.ringing', callId: CALL_ID, data: { phone: '0909' } }, 'data', { phone: 909 }],
];

describe('strict payload types', () => {
  it.each(STRICT_CASES)('%s accepts %j', (name, valid) => {
    expect(parseCommand(name, valid)).toMatchObject({ ok: true });
  });

  it.each(STRICT_CASES)(
    '%s with %j refuses %s of the wrong type (%j): INVALID_PAYLOAD',
    (name, valid, field, bad) => {
      expect(parseCommand(name, { ...valid, [field]: bad })).toMatchObject({
        ok: false,
        code: 'INVALID_PAYLOAD',
      });
    },
  );

  it('a JSON number is never dialled: {"number": 12345}', () => {
    expect(parseCommand('call.dial', JSON.parse('{"number": 12345}'))).toEqual({
      ok: false,
      code: 'INVALID_PAYLOAD',
      message: 'number must be a string, not a number',
    });
  });
});
