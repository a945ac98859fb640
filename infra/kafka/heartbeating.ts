/**
 * kafkajs heartbeats between fetches, and from inside a batch's handler only when it calls `heartbeat()`. A
 * handler that waits long (for its partition's restore, which takes seconds per million customers) sends
 * none, and past the session timeout the coordinator drops the member ("The coordinator is not aware of this
 * member"): the group rebalances and the restore starts again. So a handler waits through this.
 */

/**
 * `work`'s outcome, with `heartbeat` called every `everyMs` until it settles. A heartbeat that fails (the
 * group is rebalancing) is not `work`'s failure: kafkajs learns of the rebalance again at its next heartbeat.
 */
export async function heartbeatingWhile<T>(
  work: Promise<T>,
  heartbeat: () => Promise<void>,
  everyMs: number,
): Promise<T> {
  const settled = work.then(
    () => true,
    () => true,
  );
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const tick = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), everyMs)));
    const done = await Promise.race([settled, tick]);
    clearTimeout(timer);
    if (done) return work;
    await heartbeat().catch(() => undefined);
  }
}
