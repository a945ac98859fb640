/**
 * Every migration on both engines ciclo supports (the server the run was given, e.g. Debian's 18.16, and
 * embedded ClickHouse 26.x), applied twice (the second run changes nothing), then the views queried
 * over the same facts with identical answers.
 */
import { openEmbeddedClickHouse } from '../infra/clickhouse/embedded';
import { connectClickHouseServer, type ClickHouseEngine } from '../infra/clickhouse/engine';
import { loadMigrations, migrate } from '../projections/migrations/migrate';
import { cohortReport } from '../projections/reports/cohorts';
import { testConfig } from './support/services';

const engines: [string, () => ClickHouseEngine][] = [
  ['server', () => connectClickHouseServer({ url: testConfig().endpoints.clickhouse.url })],
  ['chdb', () => openEmbeddedClickHouse()],
];

const day = (d: string): string => `${d} 00:00:00`;
const purchase = (id: string, customer: string, order: string, d: string, amount: number) => ({
  event_id: id,
  type: 'PurchaseCompleted',
  customer_id: customer,
  order_id: order,
  occurred_at: day(d),
  amount_minor: amount,
  currency: 'USD',
});

describe.each(engines)('migrations on %s', (_name, open) => {
  const db = `it_mig_${Date.now()}_${Math.random().toString(36).slice(2, 6)}`;
  let engine: ClickHouseEngine;
  beforeAll(() => {
    engine = open();
  });
  afterAll(async () => {
    await engine.command(`DROP DATABASE IF EXISTS ${db}`);
    await engine.close();
  });

  it('applies every migration once; a second run changes nothing', async () => {
    const all = loadMigrations(db).map((m) => `${String(m.version).padStart(3, '0')}_${m.name}`);
    expect(all.length).toBeGreaterThanOrEqual(2);
    expect(await migrate(engine, db)).toEqual({ applied: all, alreadyApplied: [] });
    expect(await migrate(engine, db)).toEqual({ applied: [], alreadyApplied: all });
  });

  it('computes cohort retention with duplicates counted once and refunds restated to the order month', async () => {
    await engine.insert(`${db}.touchpoints`, [
      purchase('e1', 'a', 'o1', '1997-01-03', 1000),
      purchase('e1', 'a', 'o1', '1997-01-03', 1000), // redelivered
      purchase('e2', 'a', 'o2', '1997-03-10', 500),
      purchase('e3', 'b', 'o3', '1997-01-20', 2000),
      purchase('e4', 'c', 'o4', '1997-02-01', 700),
      {
        event_id: 'e5',
        type: 'RefundIssued',
        customer_id: 'b',
        order_id: 'o3',
        occurred_at: day('1997-04-02'),
        amount_minor: 300,
        currency: 'USD',
      },
    ]);
    const rows = await engine.query<Record<string, string | number>>(
      `SELECT toString(cohort_month) AS cohort, months_since, customers, active_customers, revenue_minor FROM ${db}.cohort_retention ORDER BY cohort, months_since`,
    );
    expect(
      rows.map((r) => [
        r.cohort,
        Number(r.months_since),
        Number(r.customers),
        Number(r.active_customers),
        Number(r.revenue_minor),
      ]),
    ).toEqual([
      ['1997-01-01', 0, 2, 2, 1000 + 2000 - 300],
      ['1997-01-01', 2, 2, 1, 500],
      ['1997-02-01', 0, 1, 1, 700],
    ]);
  });

  it('runs the cohort report query, with and without a range', async () => {
    expect(await cohortReport(engine, db, { from: '1997-02-01' })).toEqual([
      { cohort: '1997-02', monthsSince: 0, customers: 1, activeCustomers: 1, revenue: 7 },
    ]);
    expect((await cohortReport(engine, db)).map((c) => c.cohort)).toEqual(['1997-01', '1997-01', '1997-02']);
  });
});
