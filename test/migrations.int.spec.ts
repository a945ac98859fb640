/**
 * Every migration on both engines ciclo supports (the server the run was given, e.g. Debian's 18.16, and
 * embedded ClickHouse 26.x), applied twice (the second run changes nothing), then the views queried
 * over the same facts with identical answers.
 */
import { openEmbeddedClickHouse } from '../infra/clickhouse/embedded';
import { connectClickHouseServer, type ClickHouseEngine } from '../infra/clickhouse/engine';
import {
  loadMigrations,
  migrate,
  migrationLabel,
  pendingMigrations,
} from '../projections/migrations/migrate';
import { cacReport, churnReport, clvReport, funnelReport, npsReport } from '../projections/reports/analytics';
import { cohortReport } from '../projections/reports/cohorts';
import { testConfig } from './support/services';
import { day, purchase } from './support/clickhouse-rows';

const engines: [string, () => ClickHouseEngine][] = [
  ['server', () => connectClickHouseServer({ url: testConfig().endpoints.clickhouse.url })],
  ['chdb', () => openEmbeddedClickHouse()],
];

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

  it('applies every migration once, tells which are pending; a second run changes nothing', async () => {
    const all = loadMigrations(db).map(migrationLabel);
    expect(all.length).toBeGreaterThanOrEqual(3);
    expect(await pendingMigrations(engine, db)).toEqual(all); // not even created yet
    await migrate(engine, db, { migrations: loadMigrations(db).slice(0, 2) });
    expect(await pendingMigrations(engine, db)).toEqual(all.slice(2));
    expect(await migrate(engine, db)).toEqual({ applied: all.slice(2), alreadyApplied: all.slice(0, 2) });
    expect(await pendingMigrations(engine, db)).toEqual([]);
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

  it('runs the NPS, churn, CAC/ROI, funnel and CLV reports with the same answers on every engine', async () => {
    const t = (
      id: string,
      type: string,
      customer: string,
      d: string,
      extra: Record<string, unknown> = {},
    ) => ({ event_id: id, type, customer_id: customer, occurred_at: day(d), ...extra });
    await engine.insert(`${db}.touchpoints`, [
      t('s1', 'SurveyAnswered', 'a', '1997-01-10', { nps: 10, csat: -1 }),
      t('s2', 'SurveyAnswered', 'b', '1997-01-11', { nps: 5, csat: 4 }),
      t('s3', 'SurveyAnswered', 'c', '1997-01-12', { nps: 8, csat: -1 }),
      t('s3', 'SurveyAnswered', 'c', '1997-01-12', { nps: 8, csat: -1 }), // redelivered
      t('sp1', 'MarketingSpendRecorded', '', '1997-01-31', {
        channel: 'ads',
        amount_minor: 10000,
        period_start: day('1997-01-01'),
      }),
      t('sp2', 'MarketingSpendRecorded', '', '1997-01-31', {
        channel: 'social',
        amount_minor: 5000,
        period_start: day('1997-01-01'),
      }),
    ]);
    await engine.insert(`${db}.stage_changes`, [
      {
        event_id: 'x1',
        customer_id: 'a',
        model_id: 'five-stage',
        from_stage: '',
        to_stage: 'conversion',
        rule_id: 'first-purchase',
        occurred_at: day('1997-01-03'),
        sequence: 1,
      },
      {
        event_id: 'x2',
        customer_id: 'a',
        model_id: 'five-stage',
        from_stage: 'conversion',
        to_stage: 'retention',
        rule_id: 'second-purchase',
        occurred_at: day('1997-03-10'),
        sequence: 2,
      },
      {
        event_id: 'x3',
        customer_id: 'b',
        model_id: 'five-stage',
        from_stage: 'conversion',
        to_stage: 'lapsed',
        rule_id: 'inactive-lapsed',
        occurred_at: day('1997-02-20'),
        sequence: 2,
      },
    ]);
    await engine.insert(`${db}.customer_state`, [
      {
        customer_id: 'a',
        model_id: 'five-stage',
        stage: 'retention',
        sequence: 2,
        acquisition_channel: 'ads',
        orders: 2,
        net_revenue_minor: 1500,
        first_purchase_at: day('1997-01-03'),
        last_seen_at: day('1997-03-10'),
      },
      {
        customer_id: 'b',
        model_id: 'five-stage',
        stage: 'lapsed',
        sequence: 2,
        acquisition_channel: 'ads',
        orders: 1,
        net_revenue_minor: 1700,
        first_purchase_at: day('1997-01-20'),
        last_seen_at: day('1997-01-20'),
      },
      {
        customer_id: 'c',
        model_id: 'five-stage',
        stage: 'conversion',
        sequence: 1,
        acquisition_channel: 'direct',
        orders: 1,
        net_revenue_minor: 700,
        first_purchase_at: day('1997-02-01'),
        last_seen_at: day('1997-02-01'),
      },
    ]);
    await engine.insert(`${db}.customer_clv`, [
      {
        customer_id: 'a',
        fitted_at: day('1997-04-01'),
        probability_alive: 0.9,
        predicted_clv_minor: 5000,
        historic_clv_minor: 1500,
      },
      {
        customer_id: 'b',
        fitted_at: day('1997-04-01'),
        probability_alive: 0.2,
        predicted_clv_minor: 100,
        historic_clv_minor: 1700,
      },
    ]);

    const nps = await npsReport(engine, db);
    expect(nps).toEqual([
      {
        month: '1997-01',
        responses: 3,
        promoters: 1,
        passives: 1,
        detractors: 1,
        nps: 0,
        csatResponses: 1,
        csatAverage: 4,
      },
    ]);

    const churn = await churnReport(engine, db);
    // Purchases: a in Jan and Mar; b and a in Jan; c in Feb. Active in Jan: a, b -> none bought in Feb.
    expect(churn.find((c) => c.month === '1997-02')).toEqual({
      month: '1997-02',
      activeLastMonth: 2,
      retained: 0,
      churnRate: 1,
      lapsed: 1,
    });

    const cac = await cacReport(engine, db, 'five-stage');
    expect(cac.find((c) => c.channel === 'ads')).toEqual({
      channel: 'ads',
      spend: 100,
      customers: 2,
      cac: 50,
      revenue: 32,
      roi: -0.68,
      clvToCac: 0.51,
      paybackMonths: 6.3,
    });
    expect(cac.find((c) => c.channel === 'social')).toMatchObject({
      spend: 50,
      customers: 0,
      cac: null,
      roi: -1,
    });

    // Merged profiles: anon-1 identified as c, old-id aliased into a. The projector writes each one's
    // removal row after its last snapshot, with the same sequence; only anon-2 is still a person of its own.
    await engine.insert(
      `${db}.customer_state`,
      ['anon-1', 'anon-2', 'old-id'].map((id) => ({
        customer_id: id,
        model_id: 'five-stage',
        stage: 'reach',
        sequence: 1,
      })),
    );
    await engine.insert(
      `${db}.customer_state`,
      [
        ['anon-1', 'c'],
        ['old-id', 'a'],
      ].map(([id, into]) => ({
        customer_id: id,
        model_id: 'five-stage',
        stage: '',
        sequence: 1,
        merged_into: into,
      })),
    );
    await engine.insert(
      `${db}.stage_changes`,
      ['anon-1', 'anon-2', 'old-id'].map((id) => ({
        event_id: `sc-${id}`,
        customer_id: id,
        model_id: 'five-stage',
        from_stage: '',
        to_stage: 'reach',
        sequence: 1,
        occurred_at: day('1997-01-05'),
      })),
    );
    const funnel = await funnelReport(engine, db, 'five-stage');
    expect(funnel.stages).toEqual(
      expect.arrayContaining([
        { stage: 'retention', customers: 1 },
        { stage: 'lapsed', customers: 1 },
        { stage: 'conversion', customers: 1 },
        { stage: 'reach', customers: 1 },
      ]),
    );
    expect(funnel.stages).toHaveLength(4);
    expect(funnel.flows).toContainEqual({ from: '(new)', to: 'reach', changes: 1 });
    expect(funnel.flows).toEqual(
      expect.arrayContaining([
        { from: '(new)', to: 'conversion', changes: 1 },
        { from: 'conversion', to: 'lapsed', changes: 1 },
      ]),
    );

    const clv = await clvReport(engine, db);
    expect(clv).toMatchObject({ customers: 2, meanPredicted: 25.5, likelyGone: 1 });
    expect(clv.topAtRisk).toEqual([
      { customerId: 'b', predictedClv: 1, probabilityAlive: 0.2, historicClv: 17 },
    ]);
    expect(clv.histogram.reduce((n, b) => n + b.customers, 0)).toBe(2);
  });
  it('counts revenue and cohorts per person: guest and merged ids under the customer they became', async () => {
    // A guest's purchase, then the same person's as a customer (the browser identified: a removal row); a
    // guest who never identified; an id merged into one that was merged again (a chain).
    await engine.insert(`${db}.touchpoints`, [
      { ...purchase('p1', '', 'po1', '1998-01-05', 100), anonymous_id: 'g-anon' },
      purchase('p2', 'g-cust', 'po2', '1998-03-01', 200),
      { ...purchase('p3', '', 'po3', '1998-01-07', 50), anonymous_id: 'g-guest' },
      purchase('p4', 'g-old', 'po4', '1998-02-01', 10),
    ]);
    await engine.insert(
      `${db}.customer_state`,
      [
        ['g-anon', 'g-cust'],
        ['g-old', 'g-mid'],
        ['g-mid', 'g-top'],
      ].map(([id, into]) => ({ customer_id: id, model_id: 'five-stage', sequence: 1, merged_into: into })),
    );
    const map = await engine.query<{ id: string; customer_id: string }>(
      `SELECT id, customer_id FROM ${db}.identity_map WHERE id LIKE 'g-%' ORDER BY id`,
    );
    expect(map).toEqual([
      { id: 'g-anon', customer_id: 'g-cust' },
      { id: 'g-mid', customer_id: 'g-top' },
      { id: 'g-old', customer_id: 'g-top' },
    ]);
    const cohorts = await engine.query<Record<string, unknown>>(
      `SELECT customer_id, toString(cohort_month) AS cohort FROM ${db}.customer_cohorts
       WHERE first_purchase_at >= toDateTime('1998-01-01 00:00:00') ORDER BY customer_id`,
    );
    expect(cohorts).toEqual([
      { customer_id: 'g-cust', cohort: '1998-01-01' },
      { customer_id: 'g-guest', cohort: '1998-01-01' },
      { customer_id: 'g-top', cohort: '1998-02-01' },
    ]);
    const revenue = await engine.query<Record<string, unknown>>(
      `SELECT customer_id, toString(sum(amount_minor)) AS minor FROM ${db}.revenue_events
       WHERE revenue_at >= toDateTime('1998-01-01 00:00:00') GROUP BY customer_id ORDER BY customer_id`,
    );
    expect(revenue).toEqual([
      { customer_id: 'g-cust', minor: '300' },
      { customer_id: 'g-guest', minor: '50' },
      { customer_id: 'g-top', minor: '10' },
    ]);
  });
});
