/**
 * A token bucket per write key: each key's bucket holds up to `burst` tokens and refills at `callsPerSecond`;
 * a request takes one token per call it carries. A request is let through while the bucket holds any token
 * at all, and may take it below zero: a batch larger than the burst still goes through once, and the debt
 * then holds the key back until it is paid (a "debt" bucket, as GCRA with cost behaves). Refused requests
 * take nothing. The answer to a refused request is 429 with Retry-After: when the bucket will hold a token
 * again. Pure: the time is passed in.
 */
import type { RateLimit } from './config';

export interface Bucket {
  readonly tokens: number;
  /** When `tokens` was last brought up to date (ms since the epoch). */
  readonly at: number;
}

export type RateDecision =
  | { readonly allowed: true; readonly bucket: Bucket }
  | { readonly allowed: false; readonly bucket: Bucket; readonly retryAfterSeconds: number };

/** A full bucket: a key that has sent nothing yet may send a burst. */
export function fullBucket(limit: RateLimit, now: number): Bucket {
  return { tokens: limit.burst, at: now };
}

/** Whether a request of `cost` calls may go now, and the bucket after it. */
export function takeTokens(bucket: Bucket, cost: number, now: number, limit: RateLimit): RateDecision {
  // A clock that steps back refills nothing, and takes nothing either.
  const elapsedMs = Math.max(0, now - bucket.at);
  const tokens = Math.min(limit.burst, bucket.tokens + (elapsedMs * limit.callsPerSecond) / 1000);
  const refilled = { tokens, at: Math.max(now, bucket.at) };
  if (tokens > 0) return { allowed: true, bucket: { ...refilled, tokens: tokens - cost } };
  // At least one token is needed to go; it comes after -tokens / rate seconds, rounded up to a second.
  const retryAfterSeconds = Math.max(1, Math.ceil((1 - tokens) / limit.callsPerSecond));
  return { allowed: false, bucket: refilled, retryAfterSeconds };
}

/**
 * The buckets of every write key, for one collector. Only configured keys reach it (an unknown key is
 * answered 401 first), so it holds at most one bucket per configured key.
 */
export interface RateLimiter {
  take(writeKey: string, cost: number, now: number): RateDecision;
}

export function createRateLimiter(limit: RateLimit | undefined): RateLimiter {
  if (!limit) return { take: (_key, _cost, now) => ({ allowed: true, bucket: { tokens: 0, at: now } }) };
  const buckets = new Map<string, Bucket>();
  return {
    take(writeKey, cost, now) {
      const decision = takeTokens(buckets.get(writeKey) ?? fullBucket(limit, now), cost, now, limit);
      buckets.set(writeKey, decision.bucket);
      return decision;
    },
  };
}
