import { TouchpointSchema } from '../../schemas/touchpoint';
import { fitBgNbd, probabilityAlive } from '../../projections/clv/bgnbd';
import { toHistories, type PurchaseDayRow } from '../../projections/clv/refit';
import { summarizeRfm } from '../../projections/clv/rfm';
import { DEFAULT_START, simulate } from './simulate';

const options = { customers: 500, seed: 7, days: 365, start: DEFAULT_START };

describe('journey simulator', () => {
  const events = simulate(options);

  it('is deterministic: the same seed gives the same events; another seed does not', () => {
    expect(JSON.stringify(simulate(options))).toBe(JSON.stringify(events));
    expect(JSON.stringify(simulate({ ...options, seed: 8 }))).not.toBe(JSON.stringify(events));
  });

  it('produces only valid touchpoints, in event-time order, with unique ids', () => {
    for (const e of events) expect(TouchpointSchema.safeParse(e).success).toBe(true);
    expect(events.every((e, i) => i === 0 || events[i - 1]!.occurredAt <= e.occurredAt)).toBe(true);
    expect(new Set(events.map((e) => e.eventId)).size).toBe(events.length);
  });

  it('has realistic shapes: repeat buyers, a few refunds, surveys, spend on paid channels only', () => {
    const purchases = events.filter((e) => e.type === 'PurchaseCompleted');
    const perCustomer = new Map<string, number>();
    for (const p of purchases) perCustomer.set(p.customerId!, (perCustomer.get(p.customerId!) ?? 0) + 1);
    const repeatShare = [...perCustomer.values()].filter((n) => n > 1).length / perCustomer.size;
    expect(repeatShare).toBeGreaterThan(0.2);
    expect(repeatShare).toBeLessThan(0.9);
    const refunds = events.filter((e) => e.type === 'RefundIssued').length / purchases.length;
    expect(refunds).toBeGreaterThan(0.005);
    expect(refunds).toBeLessThan(0.08);
    expect(events.some((e) => e.type === 'SurveyAnswered')).toBe(true);
    const spendChannels = new Set(
      events.flatMap((e) => (e.type === 'MarketingSpendRecorded' ? [e.payload.channel] : [])),
    );
    expect([...spendChannels].sort()).toEqual(['newsletter', 'paid-search', 'social']);
  });

  it('with Poisson purchase gaps, a BG/NBD fit finds the churn that regular gaps hide', () => {
    const fitOf = (purchaseGaps: 'regular' | 'poisson'): { p: number; doubtful: number } => {
      const sim = simulate({ customers: 2000, seed: 42, days: 365, start: DEFAULT_START, purchaseGaps });
      const days = new Map<string, Set<number>>(); // distinct purchase days per customer
      for (const e of sim)
        if (e.type === 'PurchaseCompleted') {
          const day = Math.floor(e.occurredAt / 86_400_000);
          days.set(e.customerId!, (days.get(e.customerId!) ?? new Set()).add(day));
        }
      const rows: PurchaseDayRow[] = [...days].flatMap(([customer_id, set]) =>
        [...set].sort((a, b) => a - b).map((day) => ({ customer_id, day, amount_minor: 1000 })),
      );
      const summaries = summarizeRfm(
        toHistories(rows),
        Math.floor((DEFAULT_START + 365 * 86_400_000) / 86_400_000),
      );
      const { params, converged } = fitBgNbd(summaries);
      expect(converged).toBe(true); // not crawling along the ridge to a, b -> infinity (bgnbd.ts ridgePenalty)
      return {
        p: params.a / (params.a + params.b),
        doubtful: summaries.filter((h) => probabilityAlive(params, h) < 0.5).length,
      };
    };
    const regular = fitOf('regular');
    expect(regular.p).toBeLessThan(0.001); // every quiet spell taken for a slow buyer
    expect(regular.doubtful).toBe(0);
    const poisson = fitOf('poisson');
    expect(poisson.p).toBeGreaterThan(0.02); // the simulator drops 4-25% of buyers after each purchase
    expect(poisson.p).toBeLessThan(0.3);
    expect(poisson.doubtful).toBeGreaterThan(10);
  });
});
