/**
 * When to try the collector again. Exponential backoff with "equal jitter" (half the capped exponential
 * delay, plus a random share of the other half), after AWS's "Exponential Backoff And Jitter"
 * (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/): browsers that lost the
 * collector at the same moment spread their retries instead of returning together, and the delay still
 * grows with each failure. `Retry-After` (RFC 9110 section 10.2.3) is a floor, never shortened.
 * Pure: randomness and the clock are passed in.
 */
export interface RetryPolicy {
  /** Delay scale of the first retry, in ms. */
  readonly baseMs: number;
  /** No retry waits longer than this (except as long as a Retry-After asks, up to MAX_RETRY_AFTER_MS). */
  readonly maxMs: number;
}

/** A Retry-After beyond this is treated as this: a misconfigured server must not park events for a day. */
export const MAX_RETRY_AFTER_MS = 10 * 60_000;

/** The delay before retry number `attempt` (1 for the first retry); `random` returns a number in [0, 1). */
export function backoffDelay(attempt: number, random: () => number, policy: RetryPolicy): number {
  const capped = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(capped / 2 + random() * (capped / 2));
}

/** A Retry-After header (delay in seconds, or an HTTP date) in ms from `now`; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null | undefined, now: number): number | undefined {
  if (!header) return undefined;
  const text = header.trim();
  const ms = /^\d+$/.test(text) ? Number(text) * 1000 : Date.parse(text) - now;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms));
}

/** How long to wait before the next attempt: the backoff, or longer when the collector asked for longer. */
export function nextDelay(
  attempt: number,
  random: () => number,
  policy: RetryPolicy,
  retryAfter: number | undefined,
): number {
  return Math.max(backoffDelay(attempt, random, policy), retryAfter ?? 0);
}
