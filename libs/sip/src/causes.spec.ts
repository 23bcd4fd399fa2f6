import { isRejectStatus, translateCause, translateOriginator } from './causes.js';

describe('translateCause()', () => {
  it.each([
    ['Terminated', 'bye'],
    ['Busy', 'busy'],
    ['Not Found', 'notFound'],
    ['Unavailable', 'unavailable'],
    ['Rejected', 'rejected'],
    ['Canceled', 'canceled'],
    ['RTP Timeout', 'rtpTimeout'],
    ['Connection Error', 'connectionError'],
  ])("maps JsSIP's '%s' to '%s'", (jssip, ours) => {
    expect(translateCause(jssip)).toBe(ours);
  });

  it('maps unknown and missing causes to other', () => {
    expect(translateCause('Something New')).toBe('other');
    expect(translateCause(undefined)).toBe('other');
    expect(translateCause('toString')).toBe('other');
  });
});

describe('translateOriginator()', () => {
  it('keeps local and remote, and counts anything else as system', () => {
    expect(translateOriginator('local')).toBe('local');
    expect(translateOriginator('remote')).toBe('remote');
    expect(translateOriginator('system')).toBe('system');
    expect(translateOriginator(null)).toBe('system');
  });
});

describe('isRejectStatus()', () => {
  it('accepts final non-2xx codes only', () => {
    expect([404, 486, 480, 408, 403, 487, 603].every(isRejectStatus)).toBe(true);
    expect([180, 200, 700, 486.5].some(isRejectStatus)).toBe(false);
  });
});
