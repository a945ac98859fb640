import { DEFAULT_START, simulate } from '../../producers/simulate/simulate';
import { earlierDemoConflict, type StoredDemoTouchpoint } from './demo-data';

describe("the demo's check of data an earlier run left", () => {
  const events = simulate({
    customers: 20,
    seed: 7,
    days: 60,
    start: DEFAULT_START,
    purchaseGaps: 'poisson',
  });
  const stored = (tps: typeof events): StoredDemoTouchpoint[] =>
    tps.map((tp) => ({ eventId: tp.eventId, type: tp.type, occurredAtMs: tp.occurredAt }));

  it('accepts nothing stored, the same run, and part of it (a run stopped half way)', () => {
    expect(earlierDemoConflict([], events)).toBeUndefined();
    expect(earlierDemoConflict(stored(events), events)).toBeUndefined();
    expect(earlierDemoConflict(stored(events.slice(0, 10)), events)).toBeUndefined();
  });

  it('names a touchpoint stored under an event id this run simulates otherwise, or not at all', () => {
    const [first] = stored(events);
    const moved = { ...first!, occurredAtMs: first!.occurredAtMs + 86_400_000 };
    expect(earlierDemoConflict([...stored(events), moved], events)).toBe(
      `${first!.eventId} is ${first!.type} at ${new Date(moved.occurredAtMs).toISOString()} in ClickHouse, ` +
        `${first!.type} at ${new Date(first!.occurredAtMs).toISOString()} now`,
    );
    const other = simulate({
      customers: 20,
      seed: 7,
      days: 60,
      start: DEFAULT_START,
      purchaseGaps: 'regular',
    });
    expect(earlierDemoConflict(stored(other), events)).toEqual(expect.stringContaining('sim-7-'));
    expect(earlierDemoConflict([{ eventId: 'other-1', type: 'PageViewed', occurredAtMs: 0 }], events)).toBe(
      'other-1 (PageViewed at 1970-01-01T00:00:00.000Z) is not simulated now',
    );
  });
});
