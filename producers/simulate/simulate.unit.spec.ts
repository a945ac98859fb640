import { TouchpointSchema } from '../../schemas/touchpoint';
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
});
