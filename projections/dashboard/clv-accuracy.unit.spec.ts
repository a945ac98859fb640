import type { ClickHouseEngine } from '../../infra/clickhouse/engine';
import type { PurchaseDayRow } from '../clv/refit';
import { clvAccuracy } from './clv-accuracy';

const engineWith = (rows: readonly PurchaseDayRow[]): ClickHouseEngine => ({
  name: 'fake',
  command: () => Promise.resolve(),
  insert: () => Promise.resolve(),
  query: <T>(): Promise<T[]> => Promise.resolve(rows as unknown as T[]),
  close: () => Promise.resolve(),
});

/** Customer i buys every (i % 5 + 1) * 7 days from day 19000 + i, for two years. */
const rows: PurchaseDayRow[] = Array.from({ length: 40 }, (_, i) => {
  const gap = ((i % 5) + 1) * 7;
  return Array.from({ length: Math.floor(730 / gap) }, (_, k) => ({
    customer_id: `c${i}`,
    day: 19000 + i + k * gap,
    amount_minor: 1000,
  }));
}).flat();

describe('clvAccuracy', () => {
  it('holds out the last 39 weeks of the purchases by default and compares forecast with what was bought', async () => {
    const lastDay = Math.max(...rows.map((r) => Number(r.day)));
    const accuracy = await clvAccuracy(engineWith(rows), 'ciclo');
    if (!accuracy.available) throw new Error(accuracy.reason);
    expect(accuracy.holdoutWeeks).toBe(39);
    expect(accuracy.holdoutEnd).toBe(new Date(lastDay * 86_400_000).toISOString().slice(0, 10));
    expect(accuracy.customers).toBe(40);
    const bought = rows.filter((r) => Number(r.day) > lastDay - 273).length;
    expect(accuracy.actualRepeatPurchases).toBe(bought);
    expect(accuracy.predictedRepeatPurchases).toBeGreaterThan(0);
  });

  it('says why there is nothing to show', async () => {
    expect(await clvAccuracy(engineWith([]), 'ciclo')).toEqual({
      available: false,
      reason: 'no purchases yet',
    });
    expect(
      await clvAccuracy(engineWith([{ customer_id: 'a', day: 19000, amount_minor: 1 }]), 'ciclo'),
    ).toEqual({
      available: false,
      reason: 'the purchases span too few days to hold any out',
    });
  });
});
