/**
 * Forgetting a person (forget.ts): what a forget marker erases on every partition, what it drops after, and
 * that every partition's replica of the identity table stays in agreement wherever the marker falls.
 */
import { pseudonymOf } from '../../schemas/pseudonym';
import type { Touchpoint } from '../../schemas/touchpoint';
import { denseLinks } from '../../test/support/journeys';
import { linkedIdOf } from '../../schemas/topics';
import { homePartitionOf } from './identity';
import { IdentityTable } from './identity-table';
import { presetModel } from './model';
import { PartitionLifecycle } from './partition';
import { canonicalOrder, replay, type ReplayOptions, type ReplayRecord } from './replay';

const DAY = 86_400_000;
const T0 = Date.UTC(2025, 0, 1);
const SECRET = Buffer.alloc(32, 21);
const pseudonym = (id: string): string => pseudonymOf(SECRET, id);
const PARTITIONS = 3;
let seq = 0;

const at = (day: number) => ({
  eventId: `ev${++seq}`,
  occurredAt: T0 + day * DAY,
  receivedAt: T0 + day * DAY,
});
const visit = (who: { customerId?: string; anonymousId?: string }, day: number): Touchpoint => ({
  ...at(day),
  type: 'PageViewed',
  ...who,
  source: { kind: 'snippet', name: 'web' },
  context: { utmSource: 'ads' },
  payload: { path: '/' },
});
const identify = (customerId: string, anonymousId: string, day: number): Touchpoint => ({
  ...at(day),
  type: 'Identified',
  customerId,
  anonymousId,
  source: { kind: 'api', name: 'app' },
  payload: { email: `${customerId}@example.com` },
});
const alias = (customerId: string, previousId: string, day: number): Touchpoint => ({
  ...at(day),
  type: 'Aliased',
  customerId,
  source: { kind: 'api', name: 'app' },
  payload: { previousId },
});
const buy = (customerId: string, day: number): Touchpoint => ({
  ...at(day),
  type: 'PurchaseCompleted',
  customerId,
  source: { kind: 'api', name: 'shop' },
  payload: { orderId: `o${seq}`, lineItems: [], amountMinor: 2500, currency: 'EUR' },
});
/** A forget marker for these ids, as `ciclo forget` writes it to every partition. */
const forget = (...ids: string[]): ReplayRecord => ({ forget: ids.map(pseudonym) });

/** The first of `prefix0`, `prefix1`, ... whose home differs from `other`'s. */
const livingApartFrom = (other: string, prefix: string): string => {
  for (let i = 0; ; i++)
    if (homePartitionOf(`${prefix}${i}`, PARTITIONS) !== homePartitionOf(other, PARTITIONS))
      return `${prefix}${i}`;
};

/** given these records on three partitions, when replayed, then what each partition holds. */
function given(records: ReplayRecord[], options: Partial<ReplayOptions> = {}) {
  const result = replay(records, presetModel('five-stage'), {
    partitions: PARTITIONS,
    gracePeriodMs: 0,
    pseudonymOf: pseudonym,
    ...options,
  });
  const { partitions } = result;
  /** Everything a partition holds, as JSON: its customers, its table, its checkpoint (buffers, held). */
  const held = (): string[] =>
    partitions.map((p) =>
      JSON.stringify({
        customers: [...p.customers.values()],
        table: p.identityEntries(),
        checkpoint: p.checkpoint(),
      }),
    );
  return {
    result,
    stateOf: (id: string) => partitions.map((p) => p.customers.get(id)).find(Boolean),
    held,
    /** Whether any partition holds the id anywhere. */
    holds: (id: string): boolean => held().some((json) => json.includes(JSON.stringify(id))),
    suppressed: result.counters.suppressed ?? 0,
  };
}

/** The replicas of the identity table, as each partition holds it. */
const tablesOf = (partitions: readonly { identityEntries(): [string, string][] }[]): string[] =>
  partitions.map((p) => JSON.stringify(p.identityEntries().sort()));

describe('forgetting a person', () => {
  const zoe = 'zoe';
  const browser = livingApartFrom(zoe, 'zoe-browser-');
  const ann = livingApartFrom(zoe, 'ann-');
  /** Zoe browses anonymously, signs up and buys; Ann, on another partition, buys too. */
  const history = (): Touchpoint[] => [
    visit({ anonymousId: browser }, 0),
    visit({ customerId: ann }, 0),
    identify(zoe, browser, 1),
    buy(zoe, 2),
    buy(ann, 2),
  ];

  it.each([
    ['her customer id', zoe],
    ['her anonymous id, merged into her', browser],
  ])('a customer with an anonymous id merged in is forgotten by %s: both ids, everywhere', (_, id) => {
    const events = history();
    const before = given(events);
    expect(before.stateOf(zoe)).toMatchObject({ mergedIds: [browser], orders: 1, pageViews: 1 });

    const after = given([...events, forget(id)]);
    expect(after.stateOf(zoe)).toBeUndefined();
    expect(after.holds(zoe)).toBe(false);
    expect(after.holds(browser)).toBe(false);
    // Every partition remembers both ids (the marker's and the one its table adds), by pseudonym alone.
    for (const p of after.result.partitions)
      expect([...p.forgottenPseudonyms].sort()).toEqual([pseudonym(zoe), pseudonym(browser)].sort());
    expect(after.held().join()).not.toContain('example.com');
    // Ann is untouched, to the byte.
    expect(JSON.stringify(after.stateOf(ann))).toBe(JSON.stringify(before.stateOf(ann)));
    expect(tablesOf(after.result.partitions)).toEqual(Array(PARTITIONS).fill('[]'));
  });

  it('a merged id is forgotten with the customer it was merged into, and the ids merged before it', () => {
    // Zoe's browser, then an old account of hers aliased into her: forgetting the old account forgets Zoe.
    const old = livingApartFrom(zoe, 'zoe-old-');
    const j = given([...history(), buy(old, 3), alias(zoe, old, 4), forget(old)]);
    expect(j.stateOf(zoe)).toBeUndefined();
    for (const id of [zoe, old, browser]) expect(j.holds(id)).toBe(false);
    expect(j.stateOf(ann)).toMatchObject({ orders: 1 });
  });

  it('is forgotten while her touchpoints still wait in the reorder buffer: none is applied, each is counted', () => {
    const j = given([...history(), forget(zoe)], { gracePeriodMs: 30 * DAY });
    expect(j.stateOf(zoe)).toBeUndefined();
    expect(j.holds(zoe)).toBe(false);
    expect(j.holds(browser)).toBe(false);
    // Her anonymous visit, the identify (on every partition, as every link is) and the purchase.
    expect(j.suppressed).toBe(2 + PARTITIONS);
    expect(canonicalOrder(j.result.stageChanges).map((c) => c.customerId)).toEqual([ann, ann]);
  });

  it('a second forget of the same person finds nothing and changes nothing', () => {
    const events = history();
    const once = given([...events, forget(zoe)]);
    const twice = given([...events, forget(zoe), forget(zoe, browser)]);
    expect(twice.held()).toEqual(once.held());
    expect(twice.suppressed).toBe(once.suppressed);
    for (const p of twice.result.partitions)
      expect(p.forget([pseudonym(zoe)])).toEqual({ newlyForgotten: 0, customers: 0, ids: 0, items: 0 });
  });

  it('a forget of an id never seen erases nothing, and drops that id when it comes', () => {
    const stranger = 'stranger';
    const events = history();
    const before = given(events);
    const j = given([...events, forget(stranger), visit({ customerId: stranger }, 3)]);
    expect(j.held()).toEqual(before.held());
    expect(j.stateOf(stranger)).toBeUndefined();
    expect(j.suppressed).toBe(1);
    for (const p of j.result.partitions) expect(p.forgottenPseudonyms).toEqual([pseudonym(stranger)]);
  });

  it('what names her after the forget is dropped and counted: a visit, a purchase, a link from a new browser', () => {
    const laptop = livingApartFrom(zoe, 'zoe-laptop-');
    const events = history();
    // At the forget: her purchase, which waited for the browser's partition (her customer is fed from it).
    const atForget = given([...events, forget(zoe)]).suppressed;
    expect(atForget).toBe(1);
    const j = given([
      ...events,
      forget(zoe),
      visit({ anonymousId: browser }, 3),
      buy(zoe, 4),
      // A new browser identified as her: dropped on every partition; the browser keeps its own visit.
      visit({ anonymousId: laptop }, 5),
      identify(zoe, laptop, 6),
      visit({ anonymousId: laptop }, 7),
    ]);
    expect(j.suppressed - atForget).toBe(2 + PARTITIONS);
    expect(j.holds(zoe)).toBe(false);
    expect(j.holds(browser)).toBe(false);
    // Neither is Zoe brought back, nor the laptop pulled into her or anything.
    expect(j.stateOf(laptop)).toMatchObject({ mergedIds: [], pageViews: 2 });
    for (const p of j.result.partitions) expect(p.customerOf(laptop)).toBe(laptop);
  });

  it('a link between a forgotten id and another customer leaves that customer as it was', () => {
    const events = history();
    const later = buy(ann, 5);
    const before = given([...events, later]);
    const atForget = given([...events, forget(zoe)]).suppressed;
    const j = given([...events, forget(zoe), alias(ann, zoe, 4), alias(zoe, ann, 4.5), later]);
    expect(JSON.stringify(j.stateOf(ann))).toBe(JSON.stringify(before.stateOf(ann)));
    expect(j.holds(zoe)).toBe(false);
    expect(j.suppressed - atForget).toBe(2 * PARTITIONS);
  });

  it("a customer waiting for her browser's profile, and a profile that came before its link: both go", () => {
    // Two partitions, driven by hand: the customer's and her browser's.
    const model = presetModel('five-stage');
    const vic = 'vic';
    const anon = [...Array(20).keys()]
      .map((i) => `vic-browser-${i}`)
      .find((id) => homePartitionOf(id, 2) !== homePartitionOf(vic, 2))!;
    const options = (partition: number) => ({
      gracePeriodMs: 0,
      route: { partition, partitions: 2 },
      pseudonymOf: pseudonym,
    });
    const home = homePartitionOf(vic, 2);
    const progress = (handedUpTo: number) =>
      ({
        kind: 'progress',
        partition: 1 - home,
        to: home,
        upTo: T0 + 3 * DAY,
        newest: T0 + 3 * DAY,
        handedUpTo: T0 + handedUpTo * DAY,
      }) as const;
    const link = identify(vic, anon, 1);

    // Held: the link and a purchase queued, waiting for the browser's profile.
    const held = new PartitionLifecycle(model, options(home));
    held.ingest(link);
    held.ingest(buy(vic, 2));
    held.receive(progress(0));
    expect(held.heldCustomers).toBe(1);
    expect(held.forget([pseudonym(anon)])).toMatchObject({ customers: 0, items: 2 });
    expect(held.heldCustomers).toBe(0);
    expect(JSON.stringify(held.checkpoint())).not.toMatch(/vic/);
    expect(held.identityEntries()).toEqual([]);
    expect(held.takeOutput().erased).toEqual(new Set([vic, anon]));

    // Arrived: the browser's partition handed its profile over before this one applied the link.
    const source = new PartitionLifecycle(model, options(1 - home));
    source.ingest(visit({ anonymousId: anon }, 0));
    source.ingest(link);
    const handoff = source.takeOutput().messages.find((m) => m.kind === 'handoff')!;
    expect(handoff).toMatchObject({ from: anon, into: vic });
    const early = new PartitionLifecycle(model, options(home));
    early.receive(handoff);
    expect(early.checkpoint().arrived).toHaveLength(1);
    expect(early.forget([pseudonym(vic)])).toMatchObject({ items: 1 });
    expect(early.checkpoint().arrived).toBeUndefined();
    // The browser's partition drops its own copy of the person too, and the link when it comes again.
    expect(source.forget([pseudonym(vic)])).toMatchObject({ ids: 2 });
    expect(source.customers.size).toBe(0);
    expect(source.ingest(link)).toBe('suppressed');
  });

  // Each partition reads the marker at another point of its clock: with a grace period, a link before the
  // marker is applied on some and waits in the buffer on others. Dense links (aliases between customers,
  // conflicts, shared browsers), the marker anywhere, messages shuffled: at the end, every partition
  // remembers the same pseudonyms, none holds a forgotten id, and all hold the same table, but where a
  // conflict among the links before the marker moved an id between the person and another customer
  // (forget.ts, "Limits"; the next test).
  it.each([0, 1, 3])(
    'every partition keeps the same table and forgets the same ids, wherever the marker falls (grace %i days)',
    (graceDays) => {
      const failures: string[] = [];
      let limited = 0;
      for (let seed = 1; seed <= 300; seed++) {
        let x = seed;
        const rand = (): number => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32;
        const events = denseLinks(seed);
        const person = rand() < 0.5 ? `c${Math.floor(rand() * 3)}` : `a${Math.floor(rand() * 3)}`;
        const cut = 1 + Math.floor(rand() * (events.length - 13));
        const records: ReplayRecord[] = [...events.slice(0, cut), forget(person), ...events.slice(cut)];
        const ids = [...new Set(events.flatMap((tp) => [tp.customerId, tp.anonymousId, linkedIdOf(tp)]))];
        const { result, holds } = given(records, { gracePeriodMs: graceDays * DAY, shuffle: rand });
        const forgotten = result.partitions.map((p) => JSON.stringify([...p.forgottenPseudonyms].sort()));
        const isForgotten = (id: string): boolean => forgotten[0]!.includes(pseudonym(id));
        const tables = tablesOf(result.partitions);
        const kept = ids.filter((id): id is string => id !== undefined && isForgotten(id) && holds(id));
        const moved = conflictsBefore(events.slice(0, cut)).some(isForgotten);
        if (moved && new Set(tables).size > 1) limited += 1;
        if (new Set(forgotten).size > 1 || (!moved && new Set(tables).size > 1) || kept.length > 0)
          failures.push(`seed ${seed} (${person} at ${cut}): ${JSON.stringify({ forgotten, tables, kept })}`);
      }
      expect(failures).toEqual([]);
      expect(limited).toBeLessThan(3);
    },
  );

  it('a conflict that moved an id to the person, among links still waiting on some partitions: tables differ on the other ids', () => {
    // Seed 73 of the test above, less what does not matter. A grace of three days: at the marker, partition
    // 0, whose own input went to day 17, has applied the link of day 13 and not that of day 15; the others
    // have applied neither. c1 (merged into c3) is re-pointed to the person (c2) by the link of day 15; the
    // link of day 13 put a browser with c1's customer, c3. Where it was applied, the browser stays with c3;
    // where it waited, it is dropped, as it names c1, whom the person's table counts as theirs.
    const [c1, c2, c3] = ['c1', 'c2', 'c3'];
    const a0 = livingApartFrom(c1, 'a0-');
    const onFirst = Array.from({ length: 20 }, (_, i) => `first-${i}`).find(
      (id) => homePartitionOf(id, PARTITIONS) === 0,
    )!;
    const j = given(
      [
        buy(c1, 0),
        buy(c2, 1),
        buy(c3, 2),
        alias(c3, c1, 3),
        visit({ anonymousId: a0 }, 4),
        identify(c1, a0, 13), // a0 -> c3, through c1
        alias(c2, c1, 15), // c1 -> c2: a conflict
        visit({ customerId: onFirst }, 17),
        forget(c2),
      ],
      { gracePeriodMs: 3 * DAY },
    );
    for (const id of [c1, c2]) expect(j.holds(id)).toBe(false);
    expect(tablesOf(j.result.partitions)).toEqual([JSON.stringify([[a0, c3]]), '[]', '[]']);
  });
});

/** The ids that conflicts among these links re-pointed (identity-table.ts), in one table. */
function conflictsBefore(events: readonly Touchpoint[]): string[] {
  const table = new IdentityTable();
  const moved: string[] = [];
  for (const tp of events) {
    const key = tp.customerId ?? tp.anonymousId;
    const linked = linkedIdOf(tp);
    if (key === undefined || linked === undefined || linked === key) continue;
    const decision = table.link(linked, key);
    if (decision.kind === 'repoint') moved.push(decision.id);
  }
  return moved;
}
