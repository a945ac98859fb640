/**
 * A gate for log lines about what anyone on the network can cause (requests with a wrong key), so that a
 * flood of them cannot flood the log: the first line goes out, then at most one per interval, which says
 * how many were held back since the last. The counters keep the full count. Pure: the time is passed in.
 */
/** Requests refused for their credentials (401s) are logged at most once per this interval. */
export const UNAUTHORIZED_LOG_INTERVAL_MS = 10_000;

export interface LogGate {
  /** Whether to log now and, if so, how many were held back since the last line. */
  pass(now: number): { readonly log: true; readonly suppressed: number } | { readonly log: false };
}

export function createLogGate(intervalMs: number): LogGate {
  let lastAt = -Infinity;
  let suppressed = 0;
  return {
    pass(now) {
      if (now - lastAt < intervalMs) {
        suppressed += 1;
        return { log: false };
      }
      const held = suppressed;
      lastAt = now;
      suppressed = 0;
      return { log: true, suppressed: held };
    },
  };
}
