import { retryDelayMs, signatureHeader, verifySignature } from './signature.js';

describe('webhook signatures', () => {
  const secret = 'whsec-0123456789abcdef';
  const body = '{"id":"1-0","type":"call.ringing"}';
  const now = 1_800_000_000;

  it('a header made by signatureHeader verifies against the same body and secret', () => {
    const header = signatureHeader(secret, body, now);
    expect(header).toMatch(/^t=1800000000,v1=[0-9a-f]{64}$/);
    expect(verifySignature(secret, body, header, now + 10)).toBe(true);
  });

  it('refuses another body, another secret, a stale timestamp, or a malformed header', () => {
    const header = signatureHeader(secret, body, now);
    expect(verifySignature(secret, `${body} `, header, now)).toBe(false);
    expect(verifySignature('another-secret-0123456', body, header, now)).toBe(false);
    expect(verifySignature(secret, body, header, now + 301)).toBe(false);
    expect(verifySignature(secret, body, header.replace(/t=\d+/, `t=${now + 1}`), now)).toBe(false);
    expect(verifySignature(secret, body, 'v1=abc', now)).toBe(false);
    expect(verifySignature(secret, body, '', now)).toBe(false);
  });

  it('retry delays double from the base, are capped, and jitter by at most 20 %', () => {
    const mid = (): number => 0.5;
    expect([1, 2, 3, 4].map((n) => retryDelayMs(n, 1000, 300_000, mid))).toEqual([1000, 2000, 4000, 8000]);
    expect(retryDelayMs(30, 1000, 300_000, mid)).toBe(300_000);
    expect(retryDelayMs(1, 1000, 300_000, () => 0)).toBe(800);
    expect(retryDelayMs(1, 1000, 300_000, () => 1)).toBe(1200);
  });
});
