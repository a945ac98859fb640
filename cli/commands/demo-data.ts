/**
 * Whether the demo's data already in ClickHouse is this run's. Same seed, same data: a second run sends the
 * same touchpoints again, and the processor and ClickHouse take them as repeats. But a ciclo version whose
 * simulator makes other journeys for the seed (session 6 moved the demo to Poisson purchase gaps) sends other
 * touchpoints under the same event ids: the processor drops those it already applied as repeats and folds the
 * rest, so the summary mixes two simulations. Pure: the caller reads ClickHouse.
 */
import type { Touchpoint } from '../../schemas/touchpoint';

/** A demo touchpoint as ClickHouse holds it: every distinct version of it, should there be several. */
export interface StoredDemoTouchpoint {
  readonly eventId: string;
  readonly type: string;
  readonly occurredAtMs: number;
}

/**
 * The first stored touchpoint that this run does not simulate alike (another type or time under its event
 * id, or an event id this run does not simulate), described; undefined when every stored one is this run's.
 */
export function earlierDemoConflict(
  stored: readonly StoredDemoTouchpoint[],
  simulated: readonly Touchpoint[],
): string | undefined {
  const byId = new Map(simulated.map((tp) => [tp.eventId, tp]));
  for (const s of stored) {
    const tp = byId.get(s.eventId);
    if (tp === undefined) return `${s.eventId} (${describe(s)}) is not simulated now`;
    if (tp.type !== s.type || tp.occurredAt !== s.occurredAtMs)
      return `${s.eventId} is ${describe(s)} in ClickHouse, ${describe({ type: tp.type, occurredAtMs: tp.occurredAt })} now`;
  }
  return undefined;
}

const describe = (t: { type: string; occurredAtMs: number }): string =>
  `${t.type} at ${new Date(t.occurredAtMs).toISOString()}`;
