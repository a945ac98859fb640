import type { StageChanged } from '../../schemas/outputs';
import type { Touchpoint } from '../../schemas/touchpoint';
import { TouchpointSchema } from '../../schemas/touchpoint';
import { toSnapshot, type CustomerState } from './customer';
import { loadModel, PRESET_IDS, parseModel } from './model';
import { PartitionLifecycle } from './partition';
import { canonicalOrder, replay } from './replay';

const DAY = 86_400_000;
const T0 = Date.UTC(2025, 0, 1);
let seq = 0;

/** Touchpoint builders: day offsets from T0, ids unique per test run. */
const tp = {
  visit: (
    who: { customerId?: string; anonymousId?: string },
    day: number,
    utmSource?: string,
  ): Touchpoint => ({
    eventId: `e${++seq}`,
    type: 'PageViewed',
    ...who,
    occurredAt: T0 + day * DAY,
    receivedAt: T0 + day * DAY,
    source: { kind: 'snippet', name: 'web' },
    ...(utmSource ? { context: { utmSource, utmCampaign: 'spring' } } : {}),
    payload: { path: '/' },
  }),
  identify: (customerId: string, anonymousId: string | undefined, day: number): Touchpoint => ({
    eventId: `e${++seq}`,
    type: 'Identified',
    customerId,
    ...(anonymousId ? { anonymousId } : {}),
    occurredAt: T0 + day * DAY,
    receivedAt: T0 + day * DAY,
    source: { kind: 'api', name: 'app' },
    payload: { email: 'x@example.com' },
  }),
  alias: (customerId: string, previousId: string, day: number): Touchpoint => ({
    eventId: `e${++seq}`,
    type: 'Aliased',
    customerId,
    occurredAt: T0 + day * DAY,
    receivedAt: T0 + day * DAY,
    source: { kind: 'api', name: 'app' },
    payload: { previousId },
  }),
  buy: (customerId: string, day: number, amountMinor = 2000): Touchpoint => ({
    eventId: `e${++seq}`,
    type: 'PurchaseCompleted',
    customerId,
    occurredAt: T0 + day * DAY,
    receivedAt: T0 + day * DAY,
    source: { kind: 'api', name: 'shop' },
    payload: { orderId: `o${seq}`, lineItems: [], amountMinor, currency: 'EUR' },
  }),
  refund: (customerId: string, day: number, amountMinor: number): Touchpoint => ({
    eventId: `e${++seq}`,
    type: 'RefundIssued',
    customerId,
    occurredAt: T0 + day * DAY,
    receivedAt: T0 + day * DAY,
    source: { kind: 'api', name: 'shop' },
    payload: { orderId: 'o', refundId: `r${seq}`, amountMinor, currency: 'EUR' },
  }),
  nps: (customerId: string, day: number, nps: number): Touchpoint => ({
    eventId: `e${++seq}`,
    type: 'SurveyAnswered',
    customerId,
    occurredAt: T0 + day * DAY,
    receivedAt: T0 + day * DAY,
    source: { kind: 'webhook', name: 'typeform' },
    payload: { surveyId: 's', nps },
  }),
  ticket: (customerId: string, day: number, ticketId = `t${seq}`): Touchpoint => ({
    eventId: `e${++seq}`,
    type: 'SupportTicketOpened',
    customerId,
    occurredAt: T0 + day * DAY,
    receivedAt: T0 + day * DAY,
    source: { kind: 'api', name: 'desk' },
    payload: { ticketId },
  }),
  clv: (customerId: string, day: number, probabilityAlive: number): Touchpoint => ({
    eventId: `e${++seq}`,
    type: 'ClvPredicted',
    customerId,
    occurredAt: T0 + day * DAY,
    receivedAt: T0 + day * DAY,
    source: { kind: 'model', name: 'clv-refit' },
    payload: { probabilityAlive, expectedPurchases12m: 0.4, predictedClvMinor: 900, currency: 'EUR' },
  }),
  refer: (customerId: string, day: number): Touchpoint => ({
    eventId: `e${++seq}`,
    type: 'ReferralMade',
    customerId,
    occurredAt: T0 + day * DAY,
    receivedAt: T0 + day * DAY,
    source: { kind: 'api', name: 'app' },
    payload: { referralId: `ref${seq}` },
  }),
};

/** given a model and touchpoints, when they are replayed, then these are the stage changes. */
function given(modelId: string, touchpoints: Touchpoint[], gracePeriodMs = 0) {
  const model = loadModel(modelId);
  for (const t of touchpoints) expect(TouchpointSchema.safeParse(t).success).toBe(true);
  const result = replay(touchpoints, model, { partitions: 3, gracePeriodMs });
  const path = (customerId: string): string[] =>
    canonicalOrder(result.stageChanges)
      .filter((c) => c.customerId === customerId)
      .map((c) => `${c.toStage}:${c.ruleId}`);
  return {
    model,
    result,
    path,
    stateOf: (id: string): CustomerState | undefined =>
      result.partitions.map((p) => p.customers.get(id)).find(Boolean),
  };
}

describe('stage models', () => {
  it.each(PRESET_IDS)('preset %s loads and validates', (id) => {
    const model = loadModel(id);
    expect(model.id).toBe(id);
    expect(model.stages.map((s) => s.id)).toContain(model.initialStage);
  });

  it('a custom model with a rule to an unknown stage is refused, naming the rule', () => {
    const bad = { ...loadModel('four-stage'), rules: [{ id: 'oops', from: '*', to: 'nirvana', when: {} }] };
    expect(() => parseModel(bad, 'custom.json')).toThrow(
      'invalid stage model custom.json: rules.0.to: unknown stage "nirvana"',
    );
  });

  it('an unknown model id says what exists', () => {
    expect(() => loadModel('seven-stage')).toThrow('use one of five-stage, six-stage, four-stage');
  });
});

describe('five-stage journeys', () => {
  it('an anonymous visitor signs up, buys, buys again and becomes a promoter', () => {
    const j = given('five-stage', [
      tp.visit({ anonymousId: 'anon1' }, 0, 'newsletter'),
      tp.identify('ana', 'anon1', 1),
      tp.buy('ana', 2),
      tp.buy('ana', 30),
      tp.buy('ana', 60),
      tp.nps('ana', 61, 10),
    ]);
    expect(j.path('ana')).toEqual([
      'reach:identity-merge',
      'acquisition:signed-up',
      'conversion:first-purchase',
      'retention:second-purchase',
      'loyalty:promoter-advocate',
    ]);
    const ana = j.stateOf('ana')!;
    expect(ana.mergedIds).toEqual(['anon1']);
    expect(ana.acquisitionChannel).toBe('newsletter');
    expect(j.path('anon1')).toEqual(['reach:first-touch']);
  });

  it('a lapsed customer who buys again is reactivated, and retained on the next purchase', () => {
    const j = given('five-stage', [
      tp.buy('bo', 0),
      tp.buy('bo', 30),
      tp.buy('bo', 60),
      tp.visit({ customerId: 'bo' }, 400),
      tp.buy('bo', 401),
      tp.buy('bo', 420),
    ]);
    expect(j.path('bo')).toEqual([
      'reach:first-touch',
      'conversion:first-purchase',
      'retention:second-purchase',
      'at_risk:inactive-at-risk',
      'lapsed:inactive-lapsed',
      'reactivated:reactivation',
      'retention:repeat-after-reactivation',
    ]);
    const atRisk = j.result.stageChanges.find((c) => c.customerId === 'bo' && c.toStage === 'at_risk')!;
    // Monthly buyer: at risk at 2x the 30-day cadence after the last purchase (day 60 + 60).
    expect(atRisk.occurredAt).toBe(T0 + 120 * DAY);
    expect(atRisk.reason).toBe('no purchase for 60 days (2x the usual 30-day cadence)');
    expect(atRisk.triggeringEventIds).toEqual([]);
  });

  it('inactivity is relative to cadence: a monthly buyer is at risk long before a yearly one', () => {
    const p = new PartitionLifecycle(loadModel('five-stage'), { gracePeriodMs: 0 });
    for (const t of [
      tp.buy('yearly', 0),
      tp.buy('monthly', 670),
      tp.buy('monthly', 700),
      tp.buy('yearly', 365),
      tp.buy('yearly', 730),
      tp.buy('monthly', 730),
    ].sort((a, b) => a.occurredAt - b.occurredAt))
      p.ingest(t);
    p.ingest(tp.visit({ customerId: 'someone-else' }, 900)); // stream time moves on to day 900
    p.flush();
    const changes = p.takeOutput().stageChanges;
    const atRisk = (id: string): number[] =>
      changes
        .filter((c) => c.customerId === id && c.toStage === 'at_risk')
        .map((c) => (c.occurredAt - T0) / DAY);
    expect(atRisk('monthly')).toEqual([790]); // 730 + 2 x 30-day cadence
    expect(atRisk('yearly').every((day) => day < 730)).toBe(true); // next deadline: 730 + 2 x 365
    expect(p.customers.get('yearly')!.stage).toBe('retention');
  });

  it('a detractor with an open ticket is at risk', () => {
    const j = given('five-stage', [tp.buy('cy', 0), tp.ticket('cy', 3), tp.nps('cy', 4, 3)]);
    expect(j.path('cy')).toEqual([
      'reach:first-touch',
      'conversion:first-purchase',
      'at_risk:detractor-with-open-ticket',
    ]);
  });

  it('a retained customer whose CLV fit says P(alive) < 0.3 is at risk; the score is not activity', () => {
    const j = given('five-stage', [
      tp.buy('di', 0),
      tp.buy('di', 30),
      tp.clv('di', 40, 0.8),
      tp.clv('di', 45, 0.2),
      tp.clv('nobody', 45, 0.1),
    ]);
    expect(j.path('di')).toEqual([
      'reach:first-touch',
      'conversion:first-purchase',
      'retention:second-purchase',
      'at_risk:low-probability-alive',
    ]);
    const atRisk = j.result.stageChanges.find((c) => c.toStage === 'at_risk')!;
    expect(atRisk.occurredAt).toBe(T0 + 45 * DAY);
    expect(j.stateOf('di')).toMatchObject({ probabilityAlive: 0.2, lastSeenAt: T0 + 30 * DAY });
    // A score for a customer the processor has never seen creates nobody.
    expect(j.stateOf('nobody')).toBeUndefined();
    expect(j.path('nobody')).toEqual([]);
  });

  it('two known customers merged by alias become one, with orders, revenue and ids combined', () => {
    const j = given('five-stage', [
      tp.buy('old-id', 0, 1000),
      tp.buy('new-id', 5, 2500),
      tp.refund('new-id', 6, 500),
      tp.alias('new-id', 'old-id', 10),
      tp.buy('old-id', 20, 700),
    ]);
    const merged = j.stateOf('new-id');
    // Both ids may sit on different partitions; when they share one, the merge happens.
    if (merged?.mergedIds.includes('old-id')) {
      expect(merged.orders).toBe(3);
      expect(merged.netRevenueMinor).toBe(1000 + 2500 - 500 + 700);
      expect(merged.purchaseDays).toHaveLength(3);
      expect(j.stateOf('old-id')).toBeUndefined();
    }
    const single = new PartitionLifecycle(loadModel('five-stage'), { gracePeriodMs: 0 });
    for (const t of [
      tp.buy('p', 0, 1000),
      tp.buy('q', 5, 2500),
      tp.alias('q', 'p', 10),
      tp.buy('p', 20, 700),
    ])
      single.ingest(t);
    single.flush();
    const q = single.customers.get('q')!;
    expect(single.customers.has('p')).toBe(false);
    expect(q.mergedIds).toEqual(['p']);
    expect(q.orders).toBe(3);
    expect(q.netRevenueMinor).toBe(4200);
    expect(toSnapshot(q, single.model)).toMatchObject({
      customerId: 'q',
      mergedIds: ['p'],
      orders: 3,
      netRevenueMinor: 4200,
    });
    expect(single.counters.merges).toBe(1);
  });
});

describe('six-stage and four-stage journeys', () => {
  it('six-stage: engagement is optional; experience and bonding follow purchase', () => {
    const j = given('six-stage', [
      tp.visit({ customerId: 'dee' }, 0),
      tp.visit({ customerId: 'dee' }, 1),
      tp.visit({ customerId: 'dee' }, 2),
      tp.identify('dee', undefined, 3),
      tp.buy('dee', 4),
      tp.buy('dee', 40),
      tp.refer('dee', 41),
      tp.buy('eve', 0),
    ]);
    expect(j.path('dee')).toEqual([
      'awareness:first-touch',
      'engagement:engaged',
      'evaluation:evaluating',
      'purchase:first-purchase',
      'experience:using-the-product',
      'bonding:bonded-referrer',
    ]);
    expect(j.path('eve')).toEqual(['awareness:first-touch', 'purchase:first-purchase']);
  });

  it('four-stage: acquisition, activation, retention, loyalty by referral, then at risk and reactivation', () => {
    const j = given('four-stage', [
      tp.buy('fay', 0),
      tp.buy('fay', 20),
      tp.refer('fay', 21),
      tp.visit({ customerId: 'fay' }, 300),
      tp.buy('fay', 301),
    ]);
    expect(j.path('fay')).toEqual([
      'acquisition:first-touch',
      'activation:first-purchase',
      'retention:second-purchase',
      'loyalty:referrer',
      'at_risk:inactive-at-risk',
      'lapsed:inactive-lapsed',
      'activation:reactivation',
    ]);
  });
});

describe('event time, order and exactly-once semantics', () => {
  function journeyMix(): Touchpoint[] {
    const events: Touchpoint[] = [];
    for (let c = 0; c < 40; c++) {
      const id = `c${c}`;
      events.push(
        tp.visit({ anonymousId: `a${c}` }, c % 7, c % 2 ? 'ads' : undefined),
        tp.identify(id, `a${c}`, 1 + (c % 7)),
      );
      for (let k = 0; k < (c % 5) + 1; k++) events.push(tp.buy(id, 2 + c + k * (10 + (c % 30))));
      if (c % 4 === 0) events.push(tp.ticket(id, 50 + c), tp.nps(id, 51 + c, c % 11));
      if (c % 6 === 0) events.push(tp.refer(id, 60 + c));
    }
    return events.sort((a, b) => a.occurredAt - b.occurredAt || (a.eventId < b.eventId ? -1 : 1));
  }

  /** Moves each event back by up to `maxShiftMs` of event time in arrival order (a seeded shuffle). */
  function shuffleWithin(events: Touchpoint[], maxShiftMs: number, seed: number): Touchpoint[] {
    let x = seed;
    const rand = (): number => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32;
    return events
      .map((e) => ({ e, arrival: e.occurredAt + rand() * maxShiftMs }))
      .sort((a, b) => a.arrival - b.arrival)
      .map((a) => a.e);
  }

  it('input shuffled within the grace period gives exactly the same stage changes and state', () => {
    const model = loadModel('five-stage');
    const ordered = journeyMix();
    const expected = replay(ordered, model, { partitions: 3, gracePeriodMs: 5 * DAY });
    expect(expected.stageChanges.length).toBeGreaterThan(100);
    for (const seed of [1, 2, 3, 42]) {
      const shuffled = shuffleWithin(ordered, 4 * DAY, seed);
      expect(shuffled.map((e) => e.eventId)).not.toEqual(ordered.map((e) => e.eventId));
      const got = replay(shuffled, model, { partitions: 3, gracePeriodMs: 5 * DAY });
      expect(canonicalOrder(got.stageChanges)).toEqual(canonicalOrder(expected.stageChanges));
      expect(got.counters.late).toBe(0);
    }
  });

  it('events later than the grace period are applied deterministically and counted as late', () => {
    const model = loadModel('five-stage');
    const p = new PartitionLifecycle(model, { gracePeriodMs: DAY });
    p.ingest(tp.buy('g', 0));
    p.ingest(tp.buy('g', 30));
    p.ingest(tp.buy('g', 40)); // applies day 30: stream time is 40 days, grace 1 day
    p.ingest(tp.buy('g', 10)); // older than what was applied: late beyond grace
    p.flush();
    expect(p.counters.late).toBe(1);
    expect(p.customers.get('g')!.purchaseDays).toHaveLength(4);
  });

  it('a repeated event id is a no-op, buffered or already applied', () => {
    const p = new PartitionLifecycle(loadModel('five-stage'), { gracePeriodMs: 2 * DAY });
    const buy = tp.buy('h', 0);
    expect(p.ingest(buy)).toBe('accepted');
    expect(p.ingest(buy)).toBe('duplicate'); // still buffered
    p.flush();
    expect(p.ingest(buy)).toBe('duplicate'); // applied
    expect(p.customers.get('h')!.orders).toBe(1);
    expect(p.takeOutput().stageChanges.map((c) => c.toStage)).toEqual(['reach', 'conversion']);
  });

  it('a checkpoint and restore mid-stream gives the same result as an uninterrupted run', () => {
    const model = loadModel('five-stage');
    const events = journeyMix().filter((e) => e.customerId !== undefined || e.anonymousId !== undefined);
    const whole = new PartitionLifecycle(model, { gracePeriodMs: 3 * DAY });
    const wholeChanges: StageChanged[] = [];
    for (const e of events) {
      whole.ingest(e);
      wholeChanges.push(...whole.takeOutput().stageChanges);
    }
    whole.flush();
    wholeChanges.push(...whole.takeOutput().stageChanges);

    const first = new PartitionLifecycle(model, { gracePeriodMs: 3 * DAY });
    const changes: StageChanged[] = [];
    const half = Math.floor(events.length / 2);
    for (const e of events.slice(0, half)) {
      first.ingest(e);
      changes.push(...first.takeOutput().stageChanges);
    }
    // What the runtime writes to the changelog, through JSON as it would be stored.
    const stored = JSON.parse(
      JSON.stringify({ checkpoint: first.checkpoint(), customers: [...first.customers.values()] }),
    ) as { checkpoint: never; customers: CustomerState[] };
    const second = new PartitionLifecycle(model, { gracePeriodMs: 3 * DAY }, stored);
    for (const e of events.slice(half)) {
      second.ingest(e);
      changes.push(...second.takeOutput().stageChanges);
    }
    second.flush();
    changes.push(...second.takeOutput().stageChanges);
    expect(changes).toEqual(wholeChanges);
  });

  it('stage changes explain themselves and number each customer 1, 2, 3 without gaps', () => {
    const { result } = given('five-stage', journeyMix());
    const byCustomer = new Map<string, number[]>();
    for (const c of result.stageChanges)
      byCustomer.set(c.customerId, [...(byCustomer.get(c.customerId) ?? []), c.sequence]);
    for (const seqs of byCustomer.values()) expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    for (const c of result.stageChanges) {
      expect(c.modelId).toBe('five-stage');
      expect(c.ruleId).not.toBe('');
      expect(c.eventId).toBe(`five-stage:${c.customerId}:${c.sequence}`);
    }
  });

  it('marketing spend has no customer and is ignored by the fold', () => {
    const p = new PartitionLifecycle(loadModel('five-stage'), { gracePeriodMs: 0 });
    expect(
      p.ingest({
        eventId: 'sp1',
        type: 'MarketingSpendRecorded',
        occurredAt: T0,
        receivedAt: T0,
        source: { kind: 'import', name: 'ads' },
        payload: { channel: 'ads', amountMinor: 100, currency: 'EUR', periodStart: T0, periodEnd: T0 },
      }),
    ).toBe('ignored');
  });
});
