import { createRateLimiter, fullBucket, takeTokens } from './rate-limit';

const limit = { callsPerSecond: 10, burst: 20 };
const t0 = Date.UTC(2026, 2, 14, 9, 30);

describe('a token bucket per write key', () => {
  it('lets a burst through, then the rate; a refused request takes nothing', () => {
    let bucket = fullBucket(limit, t0);
    const go = (cost: number, at: number) => {
      const d = takeTokens(bucket, cost, at, limit);
      bucket = d.bucket;
      return d.allowed ? 'ok' : `429 after ${d.retryAfterSeconds}s`;
    };
    expect(go(15, t0)).toBe('ok');
    expect(go(5, t0)).toBe('ok');
    expect(go(1, t0)).toBe('429 after 1s');
    expect(go(1, t0)).toBe('429 after 1s');
    // 0.5 s later the bucket holds 5 tokens.
    expect(go(5, t0 + 500)).toBe('ok');
    expect(bucket.tokens).toBe(0);
  });

  it('lets a batch larger than the burst through once, then holds the key until the debt is paid', () => {
    const big = takeTokens(fullBucket(limit, t0), 100, t0, limit);
    expect(big).toMatchObject({ allowed: true, bucket: { tokens: -80 } });
    // -80 tokens: at 10 a second one token is back after 8.1 s.
    expect(takeTokens(big.bucket, 1, t0, limit)).toMatchObject({ allowed: false, retryAfterSeconds: 9 });
    expect(takeTokens(big.bucket, 1, t0 + 8_050, limit).allowed).toBe(true);
  });

  it('refills up to the burst only, and ignores a clock that steps back', () => {
    const idle = takeTokens({ tokens: 0, at: t0 }, 0, t0 + 3_600_000, limit);
    expect(idle.bucket.tokens).toBe(20);
    const back = takeTokens({ tokens: 0, at: t0 }, 1, t0 - 60_000, limit);
    expect(back).toMatchObject({ allowed: false, bucket: { tokens: 0, at: t0 } });
  });

  it('keeps one bucket per key; no limit lets everything through', () => {
    const limiter = createRateLimiter(limit);
    expect(limiter.take('k1', 20, t0).allowed).toBe(true);
    expect(limiter.take('k1', 1, t0).allowed).toBe(false);
    expect(limiter.take('k2', 20, t0).allowed).toBe(true);
    const none = createRateLimiter(undefined);
    expect(none.take('k1', 1_000_000, t0).allowed).toBe(true);
  });
});
