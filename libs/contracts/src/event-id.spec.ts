import { parseEventId } from './event-id.js';

describe('parseEventId', () => {
  it('keeps a valid id and drops leading zeros', () => {
    expect(parseEventId('0-0')).toBe('0-0');
    expect(parseEventId('1733097600000-3')).toBe('1733097600000-3');
    expect(parseEventId('007-01')).toBe('7-1');
    expect(parseEventId('18446744073709551615-18446744073709551614')).toBe(
      '18446744073709551615-18446744073709551614',
    );
  });

  it('refuses a part past 64 bits (Redis refuses it in XRANGE)', () => {
    expect(parseEventId('99999999999999999999-0')).toBeUndefined();
    expect(parseEventId('0-18446744073709551616')).toBeUndefined();
  });

  it('refuses the largest id: nothing can follow it', () => {
    expect(parseEventId('18446744073709551615-18446744073709551615')).toBeUndefined();
  });

  it('refuses what is not an id string', () => {
    for (const raw of [
      undefined,
      null,
      5,
      ['1-0'],
      { id: '1-0' },
      '',
      '1',
      '1-',
      '-1',
      '1-0-0',
      ' 1-0',
      '1-0\n',
      '+1-0',
      '1.5-0',
      '123456789012345678901-0',
    ])
      expect(parseEventId(raw)).toBeUndefined();
  });
});
