import { logText, normaliseCallerId } from './untrusted.js';

describe('logText', () => {
  it('escapes CR, LF, NUL, ESC and bidi overrides', () => {
    expect(logText('a\r\nb\u0000c\u001b[31m\u202e')).toBe('a\\x0d\\x0ab\\x00c\\x1b[31m\\u202e');
  });

  it('bounds a 60,000-character value and says how much was left out', () => {
    const line = logText('d'.repeat(60_000));
    expect(line.length).toBeLessThan(160);
    expect(line.endsWith('…(+59880 chars)')).toBe(true);
  });

  it('keeps ordinary text as it is', () => {
    expect(logText('demo/5000')).toBe('demo/5000');
    expect(logText(42)).toBe('42');
  });
});

describe('normaliseCallerId', () => {
  it('keeps digits and a leading +, dropping separators', () => {
    expect(normaliseCallerId('+84 912 345-678')).toEqual({
      number: '+84912345678',
      display: '+84 912 345-678',
    });
    expect(normaliseCallerId('0912345678')).toEqual({ number: '0912345678' });
    expect(normaliseCallerId(5001)).toEqual({ number: '5001' });
  });

  it('keeps the named ids as words, whatever their case', () => {
    expect(normaliseCallerId('anonymous')).toEqual({ number: 'anonymous' });
    expect(normaliseCallerId('Anonymous')).toEqual({ number: 'anonymous', display: 'Anonymous' });
    expect(normaliseCallerId(' restricted ')).toEqual({ number: 'restricted' });
  });

  it('turns markup and CRLF into unknown, the raw text escaped in display', () => {
    expect(normaliseCallerId('<img src=x onerror=alert(1)>')).toEqual({
      number: 'unknown',
      display: '<img src=x onerror=alert(1)>',
    });
    const crlf = normaliseCallerId('100\r\nX-Evil: 1');
    expect(crlf.number).toBe('unknown');
    expect(crlf.display).toBe('100\\x0d\\x0aX-Evil: 1');
  });

  it('bounds a long display and refuses an over-long number', () => {
    const long = normaliseCallerId('9'.repeat(200));
    expect(long.number).toBe('unknown');
    expect(long.display?.startsWith('9'.repeat(64))).toBe(true);
    expect(normaliseCallerId('')).toEqual({ number: 'unknown' });
    expect(normaliseCallerId(undefined)).toEqual({ number: 'unknown' });
  });
});
