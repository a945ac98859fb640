import { MAX_RETRY_AFTER_MS, backoffDelay, nextDelay, retryAfterMs } from './backoff';

const policy = { baseMs: 1000, maxMs: 30_000 };

describe('backoffDelay', () => {
  it('doubles with each attempt, between half and all of the capped delay', () => {
    expect(backoffDelay(1, () => 0, policy)).toBe(500);
    expect(backoffDelay(1, () => 0.999999, policy)).toBe(1000);
    expect(backoffDelay(2, () => 0, policy)).toBe(1000);
    expect(backoffDelay(3, () => 0.5, policy)).toBe(3000);
  });

  it('never waits longer than maxMs', () => {
    for (const attempt of [6, 10, 50, 2000]) {
      expect(backoffDelay(attempt, () => 0.999999, policy)).toBeLessThanOrEqual(30_000);
      expect(backoffDelay(attempt, () => 0, policy)).toBe(15_000);
    }
  });
});

describe('retryAfterMs', () => {
  const now = Date.parse('2026-03-14T09:30:00Z');

  it('reads seconds and HTTP dates', () => {
    expect(retryAfterMs('5', now)).toBe(5000);
    expect(retryAfterMs('Sat, 14 Mar 2026 09:30:20 GMT', now)).toBe(20_000);
  });

  it('ignores what it cannot read, clamps the past to now and the far future to a maximum', () => {
    expect(retryAfterMs(null, now)).toBeUndefined();
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs('Sat, 14 Mar 2026 09:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs('86400', now)).toBe(MAX_RETRY_AFTER_MS);
  });
});

describe('nextDelay', () => {
  it('waits at least as long as Retry-After asks', () => {
    expect(nextDelay(1, () => 0, policy, 20_000)).toBe(20_000);
    expect(nextDelay(5, () => 0, policy, 1000)).toBe(8000);
    expect(nextDelay(1, () => 0, policy, undefined)).toBe(500);
  });
});
