import { checkDial, DEFAULT_DIAL_POLICY, type DialPolicy } from './dial-policy.js';

const policy = (over: Partial<DialPolicy> = {}): DialPolicy => ({ ...DEFAULT_DIAL_POLICY, ...over });

describe('checkDial', () => {
  it('allows domestic numbers and extensions by default', () => {
    expect(checkDial(DEFAULT_DIAL_POLICY, 'callout', '0912345678')).toEqual({ ok: true });
    expect(checkDial(DEFAULT_DIAL_POLICY, 'callout', '5001')).toEqual({ ok: true });
    expect(checkDial(DEFAULT_DIAL_POLICY, 'mobile', '0930000000')).toEqual({ ok: true });
  });

  it('refuses international numbers (+ and 00) unless allowed', () => {
    expect(checkDial(DEFAULT_DIAL_POLICY, 'mobile', '+882161234567')).toMatchObject({
      ok: false,
      refusal: 'international',
    });
    expect(checkDial(DEFAULT_DIAL_POLICY, 'callout', '00441234567')).toMatchObject({
      refusal: 'international',
    });
    expect(checkDial(policy({ allowInternational: true }), 'mobile', '+882161234567')).toEqual({ ok: true });
  });

  it('treats the domestic prefixes as domestic', () => {
    const vn = policy({ domesticPrefixes: ['+84', '0084'] });
    expect(checkDial(vn, 'mobile', '+84912345678')).toEqual({ ok: true });
    expect(checkDial(vn, 'mobile', '0084912345678')).toEqual({ ok: true });
    expect(checkDial(vn, 'mobile', '+85212345678')).toMatchObject({ refusal: 'international' });
  });

  it('refuses premium-rate numbers, in domestic and international form, unless allowed', () => {
    const vn = policy({ domesticPrefixes: ['+84'] });
    expect(checkDial(vn, 'callout', '19001234')).toMatchObject({ ok: false, refusal: 'premium' });
    expect(checkDial(vn, 'callout', '+8419001234')).toMatchObject({ ok: false, refusal: 'premium' });
    expect(checkDial(policy({ allowPremium: true }), 'callout', '19001234')).toEqual({ ok: true });
  });

  it('holds each purpose to its own allowed prefixes', () => {
    const strict = policy({ allow: { mobile: ['09', '03'], callout: ['0'] } });
    expect(checkDial(strict, 'mobile', '0912345678')).toEqual({ ok: true });
    expect(checkDial(strict, 'mobile', '0812345678')).toMatchObject({ refusal: 'not_allowed' });
    expect(checkDial(strict, 'callout', '5001')).toMatchObject({ refusal: 'not_allowed' });
    expect(checkDial(strict, 'transfer', '5001')).toEqual({ ok: true });
  });

  it('allows a named queue user, refuses a non-number elsewhere', () => {
    expect(checkDial(DEFAULT_DIAL_POLICY, 'queue', 'queue1')).toEqual({ ok: true });
    expect(checkDial(DEFAULT_DIAL_POLICY, 'queue', '+4412345')).toMatchObject({ refusal: 'international' });
    expect(checkDial(DEFAULT_DIAL_POLICY, 'callout', 'bob@evil')).toMatchObject({ refusal: 'not_a_number' });
  });
});
