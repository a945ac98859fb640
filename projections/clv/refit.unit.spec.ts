import fs from 'node:fs';
import path from 'node:path';
import { parseCdnow } from './cdnow';
import { parseIsoDay } from './dates';
import { TouchpointSchema } from '../../schemas/touchpoint';
import { clvPredictions, refitCustomers, toHistories, type PurchaseDayRow } from './refit';

const SAMPLE = path.resolve(__dirname, '..', '..', 'test', 'data', 'cdnow', 'CDNOW_sample.txt');

describe('clv refit (pure part)', () => {
  it('turns ClickHouse purchase-day rows back into histories and reproduces the published CDNOW fit', () => {
    const parsed = parseCdnow(fs.readFileSync(SAMPLE, 'utf8'));
    if (!parsed.ok) throw new Error(parsed.reason);
    // What the refit query returns: one row per customer and purchase day, amounts in cents.
    const rows: PurchaseDayRow[] = parsed.customers.flatMap((c) =>
      c.days.map((d) => ({
        customer_id: c.customerId,
        day: d.day,
        amount_minor: Math.round(d.dollars * 100),
      })),
    );
    const result = refitCustomers(toHistories(rows), parseIsoDay('1997-09-30')!);
    expect(result.bgNbd.params.r).toBeCloseTo(0.243, 2);
    expect(result.bgNbd.params.alpha).toBeCloseTo(4.414, 1);
    expect(result.gammaGamma.params.p).toBeCloseTo(6.25, 1);
    expect(result.customers).toHaveLength(2357);
    for (const c of result.customers) {
      expect(c.probabilityAlive).toBeGreaterThanOrEqual(0);
      expect(c.probabilityAlive).toBeLessThanOrEqual(1);
      expect(c.predictedClvMinor).toBeGreaterThanOrEqual(0);
    }
    // BG/NBD: customers drop out only right after a purchase, so no repeat purchase means P(alive) = 1.
    expect(result.customers.filter((c) => c.frequency === 0).every((c) => c.probabilityAlive === 1)).toBe(
      true,
    );
    // The most valuable customers are repeat buyers who are still likely alive.
    const top = [...result.customers].sort((a, b) => b.predictedClvMinor - a.predictedClvMinor).slice(0, 10);
    expect(top.every((c) => c.frequency > 0 && c.probabilityAlive > 0.5)).toBe(true);
  });

  it('becomes one valid ClvPredicted touchpoint per customer at the end of the as-of day, with stable ids', () => {
    const asOf = parseIsoDay('1997-09-30')!;
    const rows: PurchaseDayRow[] = [
      { customer_id: 'a', day: asOf - 200, amount_minor: 1500 },
      { customer_id: 'a', day: asOf - 100, amount_minor: 2500 },
      { customer_id: 'b', day: asOf - 50, amount_minor: 900 },
      { customer_id: 'b', day: asOf - 10, amount_minor: 1100 },
      { customer_id: 'c', day: asOf, amount_minor: 700 },
    ];
    const result = refitCustomers(toHistories(rows), asOf);
    const once = clvPredictions(result, new Map([['a', 'EUR']]), Date.UTC(1997, 9, 1));
    const again = clvPredictions(result, new Map([['a', 'EUR']]), Date.UTC(1997, 9, 2));
    expect(once.map((t) => t.eventId)).toEqual(again.map((t) => t.eventId));
    expect(once.map((t) => t.eventId)).toEqual(['clv:a:1997-09-30', 'clv:b:1997-09-30', 'clv:c:1997-09-30']);
    for (const t of once) {
      expect(TouchpointSchema.safeParse(t).success).toBe(true);
      expect(t.occurredAt).toBe(Date.UTC(1997, 8, 30, 23, 59, 59));
    }
    expect(once[0]).toMatchObject({
      customerId: 'a',
      source: { kind: 'model' },
      payload: { currency: 'EUR' },
    });
    const a = result.customers.find((c) => c.customerId === 'a')!;
    expect(once[0]!.payload).toMatchObject({ probabilityAlive: a.probabilityAlive });
  });
});
