import { parseCommand, parseDevice } from './commands.js';
import { checkDialledNumber, checkMobileNumber } from './numbers.js';

describe('checkDialledNumber', () => {
  it.each(['0901234567', '+84901234567', '*123#', '1'])('accepts %s', (n) => {
    expect(checkDialledNumber(n)).toEqual({ ok: true, value: n });
  });
  it.each([
    '123@evil.example',
    '123;transport=tcp',
    '1 2',
    '<sip:x>',
    'sip:123@host',
    '',
    '1'.repeat(200),
    '12\r\nX: y',
    '++1',
  ])('refuses %j before anything is sent', (n) => {
    expect(checkDialledNumber(n).ok).toBe(false);
  });
  it('refuses non-strings', () => {
    expect(checkDialledNumber({}).ok).toBe(false);
    expect(checkDialledNumber(undefined).ok).toBe(false);
  });
});

describe('checkMobileNumber', () => {
  it('accepts a Vietnamese mobile and an international one', () => {
    expect(checkMobileNumber('0930000000').ok).toBe(true);
    expect(checkMobileNumber('+84930000000').ok).toBe(true);
  });
  it.each(['09x; DROP', '123', '0930000000000000', 930000000])('refuses %j', (m) => {
    expect(checkMobileNumber(m).ok).toBe(false);
  });
});

describe('parseCommand', () => {
  it('refuses a non-object payload', () => {
    expect(parseCommand('voice.enable', 'x')).toMatchObject({ ok: false, code: 'INVALID_PAYLOAD' });
    expect(parseCommand('voice.enable', [1])).toMatchObject({ ok: false, code: 'INVALID_PAYLOAD' });
  });
  it('accepts an absent payload for commands without fields', () => {
    expect(parseCommand('agent.toggleCallStatus', undefined)).toEqual({ ok: true, value: {} });
  });
  it('refuses a non-integer voiceFence', () => {
    expect(parseCommand('voice.enable', { voiceFence: '3' })).toMatchObject({ code: 'INVALID_PAYLOAD' });
  });
  it('drops unknown fields', () => {
    expect(parseCommand('agent.resetDevice', { evil: 1 })).toEqual({ ok: true, value: {} });
  });
  it('validates the dialled number with INVALID_NUMBER', () => {
    expect(parseCommand('call.dial', { number: '123@evil.example' })).toMatchObject({
      code: 'INVALID_NUMBER',
    });
    expect(parseCommand('call.dial', { number: '0901', transactionId: 't-1' })).toEqual({
      ok: true,
      value: { number: '0901', transactionId: 't-1' },
    });
  });
  it('answers NOT_CHOOSE_TYPE_TRANSFER when no transfer target is given', () => {
    expect(parseCommand('transfer.toAgent', {})).toMatchObject({ code: 'NOT_CHOOSE_TYPE_TRANSFER' });
    expect(parseCommand('transfer.toQueue', { queueId: '' })).toMatchObject({
      code: 'NOT_CHOOSE_TYPE_TRANSFER',
    });
  });
  it('takes accept as a boolean only (the SDK maps responseTransferAgent(1|0))', () => {
    expect(parseCommand('transfer.respond', { accept: true })).toEqual({ ok: true, value: { accept: true } });
    expect(parseCommand('transfer.respond', { accept: 1 })).toMatchObject({ code: 'INVALID_PAYLOAD' });
    expect(parseCommand('transfer.respond', { accept: 'yes' })).toMatchObject({ code: 'INVALID_PAYLOAD' });
  });
  it('validates DTMF digits', () => {
    expect(parseCommand('call.dtmf', { digits: '12#' })).toEqual({ ok: true, value: { digits: '12#' } });
    expect(parseCommand('call.dtmf', { digits: '1;2' })).toMatchObject({ code: 'INVALID_PAYLOAD' });
  });
});

describe('transfer.toSurvey', () => {
  it('takes a survey id; refuses a page-given SIP URI, no id, or an id that is not one', () => {
    expect(parseCommand('transfer.toSurvey', { surveyId: 'csat' })).toEqual({
      ok: true,
      value: { surveyId: 'csat' },
    });
    for (const bad of [
      { surveyId: 'csat', sipurl: 'sip:evil@elsewhere' },
      { surveyId: 'csat', uri: 'sip:evil@elsewhere' },
      {},
      { surveyId: '' },
      { surveyId: 'sip:evil@elsewhere' },
      { surveyId: 'a b' },
      { surveyId: 'x'.repeat(65) },
    ])
      expect(parseCommand('transfer.toSurvey', bad)).toMatchObject({ ok: false, code: 'INVALID_PAYLOAD' });
  });
});

describe('parseDevice', () => {
  it('accepts types 1 to 4 and 6 (softphone), also as strings from 3C pages', () => {
    expect(parseDevice(4, undefined)).toEqual({ ok: true, value: { type: 4 } });
    expect(parseDevice('2', undefined)).toEqual({ ok: true, value: { type: 2 } });
    expect(parseDevice('6', undefined)).toEqual({ ok: true, value: { type: 6 } });
  });
  it('refuses device types 5, 7 and 8 (the vendor mobile app)', () => {
    for (const type of [5, 7, 8, '5', '8'])
      expect(parseDevice(type, undefined)).toMatchObject({ ok: false, code: 'INVALID_DEVICE_TYPE' });
  });
  it('refuses a mobile like 09x; DROP', () => {
    expect(parseDevice(3, '09x; DROP')).toMatchObject({ ok: false, code: 'INVALID_MOBILE' });
  });
});
