import {
  localTimeToInstant,
  parseLocalDateTime,
  timeZoneOffsetMs,
  type LocalDateTime,
} from './local-time.js';

function instant(text: string, timeZone: string): string {
  const time = parseLocalDateTime(text);
  if (time === undefined) throw new Error(`not a local time: ${text}`);
  return localTimeToInstant(time, timeZone).toISOString();
}

describe('parseLocalDateTime()', () => {
  it('reads "YYYY-MM-DD HH:mm:ss"', () => {
    expect(parseLocalDateTime('2026-12-31 23:59:59')).toEqual<LocalDateTime>({
      year: 2026,
      month: 12,
      day: 31,
      hour: 23,
      minute: 59,
      second: 59,
    });
  });

  it.each([
    '2026-13-01 00:00:00',
    '2026-02-29 00:00:00',
    '2026-04-31 00:00:00',
    '2026-01-01 24:00:00',
    '2026-01-01 00:60:00',
    '2026-01-01 00:00',
    ' 2026-01-01 00:00:00',
    '2026-1-1 0:0:0',
  ])('refuses %p', (text) => {
    expect(parseLocalDateTime(text)).toBeUndefined();
  });

  it('accepts 29 February in a leap year', () => {
    expect(parseLocalDateTime('2028-02-29 12:00:00')).toMatchObject({ month: 2, day: 29 });
  });
});

describe('localTimeToInstant()', () => {
  it('converts zones with whole, half and quarter hour offsets', () => {
    expect(instant('2026-12-31 23:59:59', 'Asia/Ho_Chi_Minh')).toBe('2026-12-31T16:59:59.000Z');
    expect(instant('2026-06-01 12:00:00', 'Asia/Kolkata')).toBe('2026-06-01T06:30:00.000Z');
    expect(instant('2026-06-01 12:00:00', 'Asia/Kathmandu')).toBe('2026-06-01T06:15:00.000Z');
    expect(instant('2026-06-01 12:00:00', 'UTC')).toBe('2026-06-01T12:00:00.000Z');
  });

  it('follows daylight saving time', () => {
    expect(instant('2026-01-15 12:00:00', 'America/New_York')).toBe('2026-01-15T17:00:00.000Z');
    expect(instant('2026-07-15 12:00:00', 'America/New_York')).toBe('2026-07-15T16:00:00.000Z');
    expect(instant('2026-07-15 12:00:00', 'Australia/Sydney')).toBe('2026-07-15T02:00:00.000Z');
    expect(instant('2026-01-15 12:00:00', 'Australia/Sydney')).toBe('2026-01-15T01:00:00.000Z');
  });

  it('reads a time that occurs twice (clocks turned back) as the earlier instant', () => {
    expect(instant('2026-11-01 01:30:00', 'America/New_York')).toBe('2026-11-01T05:30:00.000Z');
  });

  it('reads a time that never occurs (clocks turned forward) with the offset before the change', () => {
    expect(instant('2026-03-08 02:30:00', 'America/New_York')).toBe('2026-03-08T07:30:00.000Z');
  });

  it('does not move years before 100 into the 1900s', () => {
    expect(instant('0050-01-01 00:00:00', 'UTC')).toBe('0050-01-01T00:00:00.000Z');
  });

  it('timeZoneOffsetMs() gives the offset at an instant', () => {
    expect(timeZoneOffsetMs(Date.UTC(2026, 0, 1, 0, 0, 0, 500), 'Asia/Ho_Chi_Minh')).toBe(7 * 3_600_000);
    expect(timeZoneOffsetMs(Date.UTC(2026, 6, 1), 'America/New_York')).toBe(-4 * 3_600_000);
    expect(timeZoneOffsetMs(Date.UTC(2026, 6, 1), 'America/St_Johns')).toBe(-2.5 * 3_600_000);
    expect(timeZoneOffsetMs(Date.UTC(2026, 6, 1), 'UTC')).toBe(0);
  });

  it('timeZoneOffsetMs() agrees with the wall clock Intl shows, across zones and seasons', () => {
    const wallClock = (ms: number, timeZone: string): number => {
      const f = new Intl.DateTimeFormat('en-US', {
        timeZone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
      const p = Object.fromEntries(
        f.formatToParts(new Date(ms)).map((part) => [part.type, Number(part.value)]),
      );
      return Date.UTC(p['year'] ?? 0, (p['month'] ?? 1) - 1, p['day'], p['hour'], p['minute'], p['second']);
    };
    for (const timeZone of [
      'Asia/Ho_Chi_Minh',
      'Europe/London',
      'America/Sao_Paulo',
      'Pacific/Chatham',
      'Asia/Kolkata',
    ]) {
      for (let month = 0; month < 12; month += 1) {
        const ms = Date.UTC(2026, month, 15, 12, 34, 56);
        expect(ms + timeZoneOffsetMs(ms, timeZone)).toBe(wallClock(ms, timeZone));
      }
    }
  });
});
