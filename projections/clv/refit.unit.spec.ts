import fs from 'node:fs';
import path from 'node:path';
import { parseCdnow } from './cdnow';
import { parseIsoDay } from './dates';
import { refitCustomers, toHistories, type PurchaseDayRow } from './refit';

const SAMPLE = path.resolve(__dirname, '..', '..', '..', 'shared', 'datasets', 'cdnow', 'CDNOW_sample.txt');

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
});
