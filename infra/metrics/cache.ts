/**
 * A value loaded at most once per `ttlMs`: scrapes (several Prometheis, a dashboard refreshing) share one
 * load instead of each asking the broker. Callers that come while a load is in flight wait for it; a failed
 * load is not kept, so the next caller tries again.
 */
export function cachedFor<T>(
  ttlMs: number,
  load: () => Promise<T>,
  now: () => number = Date.now,
): () => Promise<T> {
  let last: { at: number; value: Promise<T> } | undefined;
  return () => {
    const t = now();
    if (last === undefined || t - last.at >= ttlMs) {
      const entry = { at: t, value: load() };
      last = entry;
      entry.value.catch(() => {
        if (last === entry) last = undefined;
      });
    }
    return last.value;
  };
}
