import { FailureLimiter } from './failure-limiter.js';

describe('FailureLimiter', () => {
  it('blocks a key after `limit` failures until its window ends', () => {
    const limiter = new FailureLimiter({ limit: 3, windowMs: 1000 });
    expect(limiter.check('a', 0)).toEqual({ blocked: false });
    expect(limiter.fail('a', 0)).toBe(1);
    expect(limiter.fail('a', 100)).toBe(2);
    expect(limiter.check('a', 200)).toEqual({ blocked: false });
    expect(limiter.fail('a', 200)).toBe(3);
    expect(limiter.check('a', 300)).toEqual({ blocked: true, retryAfterMs: 700 });
    // another key is not affected
    expect(limiter.check('b', 300)).toEqual({ blocked: false });
    // the window started at the first failure: at 1000 it is over
    expect(limiter.check('a', 1000)).toEqual({ blocked: false });
    expect(limiter.fail('a', 1000)).toBe(1);
  });

  it('reset forgets a key', () => {
    const limiter = new FailureLimiter({ limit: 1, windowMs: 1000 });
    limiter.fail('a', 0);
    expect(limiter.check('a', 1).blocked).toBe(true);
    limiter.reset('a');
    expect(limiter.check('a', 2).blocked).toBe(false);
    expect(limiter.size).toBe(0);
  });

  it('keeps at most maxKeys keys: ended windows first, then the oldest', () => {
    const limiter = new FailureLimiter({ limit: 1, windowMs: 1000, maxKeys: 2 });
    limiter.fail('a', 0);
    limiter.fail('b', 500);
    limiter.fail('c', 1200); // a's window ended: a goes
    expect(limiter.size).toBe(2);
    expect(limiter.check('b', 1201).blocked).toBe(true);
    limiter.fail('d', 1300); // none ended: the oldest (b) goes
    expect(limiter.size).toBe(2);
    expect(limiter.check('b', 1301).blocked).toBe(false);
    expect(limiter.check('c', 1301).blocked).toBe(true);
    expect(limiter.check('d', 1301).blocked).toBe(true);
  });

  it('refuses nonsense options', () => {
    expect(() => new FailureLimiter({ limit: 0, windowMs: 1 })).toThrow(RangeError);
    expect(() => new FailureLimiter({ limit: 1, windowMs: 0 })).toThrow(RangeError);
  });
});
