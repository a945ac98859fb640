/**
 * The rule the processor is built to: whatever order touchpoints arrive in, the stage changes are the truth,
 * `replay` on one partition of the set as one import run (sorted by event time); where they cannot be, the
 * difference is counted as late. Each scenario here is what reaches the touchpoint topic: live traffic (in
 * order, or shuffled within the grace period), import runs in their lanes (which `ciclo import` sorts, from
 * a file in customer or random order), both interleaved, and history imported next to live traffic of a
 * later period.
 */
import { DEFAULT_START, seededRandom, simulate } from '../../producers/simulate/simulate';
import type { StageChanged } from '../../schemas/outputs';
import type { Touchpoint } from '../../schemas/touchpoint';
import { clockVisits, interleaved } from '../../test/support/journeys';
import { homePartitionOf } from './identity';
import { PRESET_IDS, type StageModel, presetModel } from './model';
import { PartitionLifecycle } from './partition';
import { asImportRun, canonicalOrder, replay, type ReplayRecord } from './replay';

const DAY = 86_400_000;
const PARTITION_COUNTS = [1, 2, 3, 6, 12] as const;
const GRACE_PERIODS = [0, 2 * DAY] as const;

const keyOf = (tp: Touchpoint): string => tp.customerId ?? tp.anonymousId ?? 'business';

function truthOf(set: readonly Touchpoint[], model: StageModel): StageChanged[] {
  return canonicalOrder(
    replay(asImportRun('truth', set), model, { partitions: 1, gracePeriodMs: 0 }).stageChanges,
  );
}

function sorted(set: readonly Touchpoint[]): Touchpoint[] {
  return [...set].sort((a, b) => a.occurredAt - b.occurredAt || (a.eventId < b.eventId ? -1 : 1));
}

function byCustomer(set: readonly Touchpoint[]): Touchpoint[] {
  return [...set].sort((a, b) =>
    keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : a.occurredAt - b.occurredAt,
  );
}

function shuffled<T>(items: readonly T[], rand: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Live arrival: in event-time order, each touchpoint up to `jitterMs` late. */
function liveArrival(set: readonly Touchpoint[], jitterMs: number, rand: () => number): Touchpoint[] {
  return set
    .map((tp) => ({ tp, key: tp.occurredAt + rand() * jitterMs }))
    .sort((a, b) => a.key - b.key)
    .map(({ tp }) => tp);
}

interface Scenario {
  readonly name: string;
  readonly records: ReplayRecord[];
}

/** The set (with its clocks), and the ways it can reach the topic. */
function scenarios(seed: number, graceMs: number): { set: Touchpoint[]; scenarios: Scenario[] } {
  const rand = seededRandom(seed * 7 + graceMs);
  const year = simulate({ customers: 120, seed, days: 365, start: DEFAULT_START });
  // A second simulated year of other customers, half a year later: it overlaps the first by six months.
  const later = simulate({ customers: 120, seed: seed + 1000, days: 365, start: DEFAULT_START + 182 * DAY });
  const end = Math.max(...[...year, ...later].map((tp) => tp.occurredAt)) + DAY;
  const set = [...year, ...later, ...clockVisits(end)];
  const live = (items: readonly Touchpoint[]): Touchpoint[] => liveArrival(items, graceMs, rand);
  const half = (tp: Touchpoint): boolean => homePartitionOf(keyOf(tp), 2) === 0;
  const yearLive = live(year);
  return {
    set,
    scenarios: [
      { name: 'live, in order or shuffled within the grace period', records: live(set) },
      { name: 'one import, from a file in customer order', records: asImportRun('a', byCustomer(set)) },
      { name: 'one import, from a file in random order', records: asImportRun('a', shuffled(set, rand)) },
      {
        name: 'live traffic and an import in customer order, interleaved',
        records: interleaved(
          live([...set.filter(half)]),
          asImportRun('a', byCustomer(set.filter((tp) => !half(tp)))),
          rand,
        ),
      },
      {
        name: 'two imports at once, one in customer order, one in random order',
        records: interleaved(
          asImportRun('a', byCustomer(year)),
          asImportRun('b', shuffled([...later, ...clockVisits(end)], rand)),
          rand,
        ),
      },
      {
        name: 'a year live, then an overlapping year imported while the live one is three quarters through',
        records: interleaved(
          [...yearLive, ...clockVisits(end)],
          asImportRun('b', byCustomer(later)),
          rand,
          Math.floor(yearLive.length * 0.75),
        ),
      },
      {
        name: 'a year imported, then an overlapping year imported after it closed',
        records: [
          ...asImportRun('a', byCustomer(year)),
          ...asImportRun('b', shuffled([...later, ...clockVisits(end)], rand)),
        ],
      },
    ],
  };
}

describe('event time: the stage changes are the truth, whatever the order of arrival', () => {
  PRESET_IDS.forEach((preset, p) => {
    for (const graceMs of GRACE_PERIODS) {
      const { set, scenarios: cases } = scenarios(31 + p, graceMs);
      const model = presetModel(preset);
      const truth = truthOf(set, model);
      for (const scenario of cases)
        it(`${preset}, grace ${graceMs / DAY} d: ${scenario.name}, on 1, 2, 3, 6 and 12 partitions`, () => {
          expect(truth.length).toBeGreaterThan(500);
          expect(truth.some((c) => c.toStage === 'at_risk' || c.ruleId.includes('inactiv'))).toBe(true);
          for (const partitions of PARTITION_COUNTS) {
            const result = replay(scenario.records, model, { partitions, gracePeriodMs: graceMs });
            expect({ partitions, late: result.counters.late }).toEqual({ partitions, late: 0 });
            expect(canonicalOrder(result.stageChanges)).toEqual(truth);
          }
        });
    }
  });

  it('live traffic out of order beyond the grace period differs only where it counts touchpoints as late', () => {
    const model = presetModel('five-stage');
    const set = simulate({ customers: 200, seed: 5, days: 365, start: DEFAULT_START });
    const truth = truthOf(set, model);
    const rand = seededRandom(9);
    const asArrived = replay(byCustomer(set), model, { partitions: 3, gracePeriodMs: 0 });
    expect(canonicalOrder(asArrived.stageChanges)).not.toEqual(truth);
    expect(asArrived.counters.late).toBeGreaterThan(0);
    expect(asArrived.counters.late).toBe(
      asArrived.counters.lateBehindCustomer + asArrived.counters.lateBehindInactivity,
    );
    // Shuffled within the grace period it is exact again, and nothing is late.
    const graceMs = 3 * DAY;
    const exact = replay(liveArrival(set, graceMs, rand), model, { partitions: 3, gracePeriodMs: graceMs });
    expect(exact.counters.late).toBe(0);
  });

  it('a clock years ahead is bounded by its receivedAt and counted, and moves no one else', () => {
    const model = presetModel('five-stage');
    const set = simulate({ customers: 200, seed: 6, days: 365, start: DEFAULT_START });
    // The last touchpoint's customer, sending a view with its clock three years ahead.
    const last = sorted(set)
      .filter((tp) => keyOf(tp) !== 'business')
      .at(-1)!;
    const ahead: Touchpoint = {
      eventId: 'ahead',
      type: 'PageViewed',
      ...(last.customerId !== undefined
        ? { customerId: last.customerId }
        : { anonymousId: last.anonymousId! }),
      occurredAt: last.receivedAt + 3 * 365 * DAY,
      receivedAt: last.receivedAt,
      source: { kind: 'snippet', name: 'web' },
      payload: { path: '/' },
    };
    const asReceived: Touchpoint = { ...ahead, occurredAt: ahead.receivedAt };
    for (const records of [[...sorted(set), ahead], asImportRun('a', [ahead, ...set])]) {
      const result = replay(records, model, { partitions: 3, gracePeriodMs: 0 });
      expect(result.counters.clamped).toBe(1);
      expect(canonicalOrder(result.stageChanges)).toEqual(
        canonicalOrder(
          replay(sorted([...set, asReceived]), model, { partitions: 3, gracePeriodMs: 0 }).stageChanges,
        ),
      );
    }
  });

  it('the same event id with another event time is a duplicate (a retry that got a new receivedAt)', () => {
    const model = presetModel('five-stage');
    const set = sorted(simulate({ customers: 50, seed: 8, days: 200, start: DEFAULT_START }));
    const purchase = set.find((tp) => tp.type === 'PurchaseCompleted')!;
    const retried: Touchpoint = {
      ...purchase,
      occurredAt: purchase.occurredAt + 1500,
      receivedAt: purchase.receivedAt + 1500,
    };
    const once = replay(set, model, { partitions: 2, gracePeriodMs: 0 });
    const twice = replay(sorted([...set, retried]), model, { partitions: 2, gracePeriodMs: 0 });
    expect(twice.counters.duplicates).toBe(once.counters.duplicates + 1);
    expect(canonicalOrder(twice.stageChanges)).toEqual(canonicalOrder(once.stageChanges));
    const states = (r: typeof once) =>
      r.partitions.flatMap((p) => [...p.customers.values()].map((s) => [s.id, s.orders]));
    expect(states(twice)).toEqual(states(once));
  });

  it('an open import holds live traffic back until it passes it, and its close lets it through', () => {
    const model = presetModel('five-stage');
    const live = sorted(simulate({ customers: 30, seed: 12, days: 100, start: DEFAULT_START + 50 * DAY }));
    const history = sorted(simulate({ customers: 30, seed: 13, days: 100, start: DEFAULT_START }));
    const p = new PartitionLifecycle(model, { gracePeriodMs: 0 });
    p.mark({ kind: 'open', lane: 'h', startsAt: history[0]!.occurredAt });
    for (const tp of live) p.ingest(tp); // live traffic before any of the import's records
    // Nothing is applied past the import's start: live touchpoints all wait, no deadline fires.
    expect(p.bufferedItems).toBe(live.filter((tp) => tp.customerId ?? tp.anonymousId).length);
    const changes = [...p.takeOutput().stageChanges];
    expect(changes).toEqual([]);
    for (const tp of history) p.ingest(tp, { lane: 'h' });
    changes.push(...p.takeOutput().stageChanges);
    // The import passed the live traffic's start: what is older than its newest record went through.
    expect(p.bufferedItems).toBeLessThan(live.length);
    p.mark({ kind: 'close', lane: 'h' });
    expect(p.bufferedItems).toBe(0);
    p.flush({ endOfInput: true });
    changes.push(...p.takeOutput().stageChanges);
    expect(p.counters.late).toBe(0);
    expect(canonicalOrder(changes)).toEqual(truthOf([...live, ...history], model));
  });

  it('an import that died without closing its lane holds the clock for its lease, then is closed and counted', () => {
    const model = presetModel('five-stage');
    const MIN = 60_000;
    const t0 = Date.UTC(2026, 0, 1);
    const visit = (id: string, customerId: string, at: number): Touchpoint => ({
      eventId: id,
      type: 'PageViewed',
      customerId,
      occurredAt: at,
      receivedAt: at,
      source: { kind: 'api', name: 'test' },
      payload: { path: '/' },
    });
    const p = new PartitionLifecycle(model, { gracePeriodMs: 0, laneLeaseMs: 10 * MIN });
    p.mark({ kind: 'open', lane: 'dies', startsAt: t0 - 30 * DAY }, t0);
    p.ingest(visit('h1', 'old', t0 - 30 * DAY), { lane: 'dies', recordTimestamp: t0 + MIN });
    // Live traffic keeps coming; the import writes nothing more: its lane still holds the clock.
    for (let m = 2; m <= 10; m++)
      p.ingest(visit(`l${m}`, `live-${m}`, t0 + m * MIN), { recordTimestamp: t0 + m * MIN });
    expect(p.bufferedItems).toBe(9);
    expect(p.openLanes).toBe(1);
    // A checkpoint keeps when the lane was last seen.
    const restored = new PartitionLifecycle(
      model,
      { gracePeriodMs: 0, laneLeaseMs: 10 * MIN },
      {
        checkpoint: p.checkpoint(),
        customers: p.customers.values(),
      },
    );
    for (const q of [p, restored]) {
      q.ingest(visit('l12', 'live-12', t0 + 12 * MIN), { recordTimestamp: t0 + 12 * MIN });
      expect(q.counters.lanesExpired).toBe(1);
      expect(q.openLanes).toBe(0);
      expect(q.bufferedItems).toBe(0);
      // A record of the lane that comes after all is taken as live traffic, and counted.
      q.ingest(visit('h2', 'old', t0 - 29 * DAY), { lane: 'dies', recordTimestamp: t0 + 13 * MIN });
      expect(q.counters.unopenedLane).toBe(1);
    }
  });

  it('an import that keeps writing keeps its lane, however long it runs', () => {
    const model = presetModel('five-stage');
    const MIN = 60_000;
    const t0 = Date.UTC(2026, 0, 1);
    const p = new PartitionLifecycle(model, { gracePeriodMs: 0, laneLeaseMs: 10 * MIN });
    p.mark({ kind: 'open', lane: 'slow', startsAt: t0 - 100 * DAY }, t0);
    for (let m = 1; m <= 60; m++) {
      const at = t0 + m * MIN;
      p.ingest(
        {
          eventId: `h${m}`,
          type: 'PageViewed',
          customerId: `c${m % 5}`,
          occurredAt: t0 - 100 * DAY + m * DAY,
          receivedAt: at,
          source: { kind: 'api', name: 'test' },
          payload: { path: '/' },
        },
        { lane: 'slow', recordTimestamp: at },
      );
      p.ingest(
        {
          eventId: `l${m}`,
          type: 'PageViewed',
          customerId: `live-${m}`,
          occurredAt: at,
          receivedAt: at,
          source: { kind: 'api', name: 'test' },
          payload: { path: '/' },
        },
        { recordTimestamp: at },
      );
    }
    expect(p.counters.lanesExpired).toBe(0);
    expect(p.openLanes).toBe(1);
  });
});
