/**
 * Long CPU-bound work (restoring a partition of a million customers takes seconds) that awaits only promises
 * never lets the event loop run: no timer fires and no socket is read meanwhile (the batch handlers'
 * heartbeats, infra/kafka/heartbeating.ts, are timers too; so are the other partitions' fetches and the
 * metrics endpoint). Such work awaits a breather often; the breather waits for the event loop once enough
 * time has passed.
 */

/** How long restoring works before it lets the event loop run. */
export const BREATHE_EVERY_MS = 50;

export interface BreatherOptions {
  /** Work this long between waits for the event loop. */
  readonly everyMs: number;
  /** Read the clock at every this many calls (a power of two): calls far cheaper than a clock read ask for many. */
  readonly checkEvery?: number;
  readonly now?: () => number;
}

/** A function to await often: it resolves at once, but after `everyMs` of work it waits for the event loop. */
export function eventLoopBreather(options: BreatherOptions): () => Promise<void> {
  const { everyMs, checkEvery = 1, now = performance.now.bind(performance) } = options;
  if (checkEvery < 1 || (checkEvery & (checkEvery - 1)) !== 0)
    throw new Error(`checkEvery must be a power of two, not ${checkEvery}`);
  const mask = checkEvery - 1;
  let since = now();
  let calls = 0;
  return async (): Promise<void> => {
    if ((++calls & mask) !== 0 || now() - since < everyMs) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    since = now();
  };
}
