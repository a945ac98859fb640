/**
 * What analysts read, on both engines ciclo supports (the server the run was given, e.g. Debian's 18.16, and
 * embedded ClickHouse 26.x), over the same facts:
 * - no column of any table or view of a migrated database lacks a comment (migrations 005, 006);
 * - the views of 006: one row per entity, merged profiles left out or resolved, NULL for the tables'
 *   sentinels, refunds per order, amounts per currency, a rate by purchase day and none without one;
 * - each view column selected alone gives what it gives in SELECT * (18.16 drops columns a view needs when
 *   the query does not name them: a lambda that reads one failed exactly so);
 * - every SQL block of docs/analytics.md runs and returns rows, and both engines return the same rows.
 */
import fs from 'node:fs';
import path from 'node:path';
import { openEmbeddedClickHouse } from '../infra/clickhouse/embedded';
import { connectClickHouseServer, type ClickHouseEngine } from '../infra/clickhouse/engine';
import { migrate } from '../projections/migrations/migrate';
import { testConfig } from './support/services';

const engines: [string, () => ClickHouseEngine][] = [
  ['server', () => connectClickHouseServer({ url: testConfig().endpoints.clickhouse.url })],
  ['chdb', () => openEmbeddedClickHouse()],
];

const DOC = path.resolve(__dirname, '..', 'docs', 'analytics.md');

/** The ```sql blocks of docs/analytics.md, in order. */
function docSqlBlocks(): string[] {
  return [...fs.readFileSync(DOC, 'utf8').matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]!.trim());
}

/** Rows as JSON values both engines agree on: 64-bit integers come as strings, so numbers are compared. */
function normalized(rows: readonly Record<string, unknown>[]): unknown[] {
  const value = (v: unknown): unknown =>
    typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : Array.isArray(v) ? v.map(value) : v;
  return rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, value(v)])));
}

const at = (d: string): string => (d.length === 10 ? `${d} 00:00:00` : d);

const tp = (
  event_id: string,
  type: string,
  customer_id: string,
  occurred: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> => ({
  event_id,
  type,
  customer_id,
  occurred_at: at(occurred),
  channel: 'direct',
  ...extra,
});
const purchase = (id: string, customer: string, order: string, d: string, minor: number, currency: string) =>
  tp(id, 'PurchaseCompleted', customer, d, { order_id: order, amount_minor: minor, currency });

const TOUCHPOINTS = [
  { ...purchase('p-a1', 'a', 'oa1', '1997-01-03 10:00:00', 1000, 'USD'), channel: 'ads', campaign: 'spring' },
  { ...purchase('p-a1', 'a', 'oa1', '1997-01-03 10:00:00', 1000, 'USD'), channel: 'ads', campaign: 'spring' }, // redelivered
  purchase('p-a2', 'a', 'oa2', '1997-03-10 10:00:00', 500, 'USD'),
  purchase('p-b1', 'b', 'ob1', '1997-01-20 10:00:00', 2000, 'EUR'),
  purchase('p-b2', 'b', 'ob2', '1997-03-05 10:00:00', 1000, 'EUR'),
  tp('r-b1', 'RefundIssued', 'b', '1997-04-02 10:00:00', {
    order_id: 'ob1',
    amount_minor: 300,
    currency: 'EUR',
  }),
  purchase('p-c1', 'c', 'oc1', '1997-02-01 10:00:00', 70000, 'JPY'),
  // A guest's purchase: its browser identified as c later (anon-1's removal row below).
  { ...purchase('p-g1', '', 'og1', '1997-01-05 10:00:00', 100, 'USD'), anonymous_id: 'anon-1' },
  purchase('p-d1', 'd', 'od1', '1997-02-15 10:00:00', 1500, 'GBP'), // no rate for GBP
  tp('sp1', 'MarketingSpendRecorded', '', '1997-01-31', {
    channel: 'ads',
    campaign: 'spring',
    amount_minor: 10000,
    currency: 'USD',
    period_start: at('1997-01-01'),
    period_end: at('1997-01-31 23:59:59'),
  }),
  tp('sp2', 'MarketingSpendRecorded', '', '1997-01-31', {
    channel: 'social',
    amount_minor: 5000,
    currency: 'USD',
    period_start: at('1997-01-01'),
    period_end: at('1997-01-31 23:59:59'),
  }),
  tp('s-a', 'SurveyAnswered', 'a', '1997-03-12', { nps: 10, csat: -1 }),
];

const state = (
  customer_id: string,
  stage: string,
  sequence: number,
  extra: Record<string, unknown>,
): Record<string, unknown> => ({
  customer_id,
  model_id: 'five-stage',
  model_version: 1,
  stage,
  sequence,
  latest_nps: -1,
  latest_csat: -1,
  ...extra,
});
const bought = (first: string, last: string, orders: number, minor: number, currency: string) => ({
  first_seen_at: at(first),
  last_seen_at: at(last),
  first_purchase_at: at(first),
  last_purchase_at: at(last),
  orders,
  net_revenue_minor: minor,
  currency,
});

const CUSTOMER_STATE = [
  state('a', 'retention', 2, {
    ...bought('1997-01-03 10:00:00', '1997-03-10 10:00:00', 2, 1500, 'USD'),
    stage_entered_at: at('1997-03-10 10:00:00'),
    acquisition_channel: 'ads',
    purchase_cadence_days: 66,
    latest_nps: 10,
  }),
  state('b', 'lapsed', 2, {
    ...bought('1997-01-20 10:00:00', '1997-03-05 10:00:00', 2, 2700, 'EUR'),
    stage_entered_at: at('1997-06-20 10:00:00'),
    acquisition_channel: 'ads',
    purchase_cadence_days: 44,
    latest_nps: 3,
    latest_csat: 2,
  }),
  state('c', 'conversion', 1, {
    ...bought('1997-01-05 10:00:00', '1997-02-01 10:00:00', 2, 70000, 'JPY'),
    acquisition_channel: 'social',
  }),
  state('d', 'conversion', 1, {
    ...bought('1997-02-15 10:00:00', '1997-02-15 10:00:00', 1, 1500, 'GBP'),
    acquisition_channel: 'social',
  }),
  // A prospect: no purchase, no channel, no answers (the tables' sentinels).
  state('e', 'reach', 1, { first_seen_at: at('1997-03-01'), last_seen_at: at('1997-03-01') }),
  { ...state('a', 'repeat', 2, { acquisition_channel: 'ads' }), model_id: 'six-stage' },
  // The guest's profile, then (same sequence, inserted after it) its removal row: merged into c.
  state('anon-1', 'conversion', 2, bought('1997-01-05 10:00:00', '1997-01-05 10:00:00', 1, 100, 'USD')),
];
const REMOVALS = [
  { customer_id: 'anon-1', model_id: 'five-stage', stage: '', sequence: 2, merged_into: 'c' },
];

const change = (customer: string, sequence: number, from: string, to: string, rule: string, d: string) => ({
  event_id: `five-stage:${customer}:${sequence}`,
  customer_id: customer,
  model_id: 'five-stage',
  model_version: 1,
  from_stage: from,
  to_stage: to,
  rule_id: rule,
  occurred_at: at(d),
  sequence,
});
const STAGE_CHANGES = [
  change('a', 1, '', 'conversion', 'first-purchase', '1997-01-03 10:00:00'),
  change('a', 2, 'conversion', 'retention', 'second-purchase', '1997-03-10 10:00:00'),
  change('b', 1, '', 'conversion', 'first-purchase', '1997-01-20 10:00:00'),
  change('b', 2, 'conversion', 'lapsed', 'inactive-lapsed', '1997-06-20 10:00:00'),
  change('c', 1, '', 'conversion', 'first-purchase', '1997-01-05 10:00:00'),
  change('d', 1, '', 'conversion', 'first-purchase', '1997-02-15 10:00:00'),
  change('e', 1, '', 'reach', 'first-touch', '1997-03-01'),
  change('anon-1', 1, '', 'reach', 'first-touch', '1997-01-04'),
  change('anon-1', 2, 'reach', 'conversion', 'first-purchase', '1997-01-05 10:00:00'),
];

const CUSTOMER_CLV = [
  { customer_id: 'a', fitted_at: at('1997-04-01'), probability_alive: 0.5, predicted_clv_minor: 100 },
  { customer_id: 'a', fitted_at: at('1997-05-01'), probability_alive: 0.9, predicted_clv_minor: 5000 },
  { customer_id: 'b', fitted_at: at('1997-05-01'), probability_alive: 0.2, predicted_clv_minor: 100 },
];

const RATES = [
  { currency: 'USD', valid_from: '1990-01-01', rate: 1 },
  { currency: 'EUR', valid_from: '1990-01-01', rate: 1.1 },
  { currency: 'EUR', valid_from: '1997-03-01', rate: 1.2 },
  { currency: 'JPY', valid_from: '1990-01-01', rate: 0.0082 },
];

/** Each engine's rows for each SQL block of the doc, compared once both have run. */
const docRows = new Map<string, unknown[][]>();

describe.each(engines)('analyst views on %s', (name, open) => {
  const db = `it_analytics_${Date.now()}_${Math.random().toString(36).slice(2, 6)}`;
  let engine: ClickHouseEngine;
  const rows = (sql: string) => engine.query<Record<string, unknown>>(sql);

  beforeAll(async () => {
    engine = open();
    await migrate(engine, db);
    await engine.insert(`${db}.touchpoints`, TOUCHPOINTS);
    await engine.insert(`${db}.customer_state`, CUSTOMER_STATE);
    await engine.insert(`${db}.customer_state`, REMOVALS);
    await engine.insert(`${db}.stage_changes`, STAGE_CHANGES);
    await engine.insert(`${db}.customer_clv`, CUSTOMER_CLV);
    await engine.insert(`${db}.currency_rates`, RATES);
  });
  afterAll(async () => {
    await engine.command(`DROP DATABASE IF EXISTS ${db}`);
    await engine.close();
  });

  it('has a comment on every column of every table and view', async () => {
    const columns = await rows(
      `SELECT table, name, comment FROM system.columns WHERE database = '${db}' ORDER BY table, name`,
    );
    expect(new Set(columns.map((c) => c.table))).toEqual(
      new Set([
        'schema_migrations',
        'touchpoints',
        'stage_changes',
        'customer_state',
        'customer_clv',
        'currency_rates',
        'identity_map',
        'revenue_events',
        'customer_cohorts',
        'cohort_retention',
        'customers',
        'stage_history',
        'purchases',
        'purchases_in_reporting_currency',
        'marketing_spend',
      ]),
    );
    expect(
      columns.filter((c) => c.comment === '').map((c) => `${String(c.table)}.${String(c.name)}`),
    ).toEqual([]);
  });

  it('customers: one row per current customer and model, merged profiles left out, NULL for sentinels', async () => {
    const [counts] = await rows(
      `SELECT count() AS n, uniqExact(customer_id) AS ids FROM ${db}.customers WHERE model_id = 'five-stage'`,
    );
    expect(normalized([counts!])).toEqual([{ n: 5, ids: 5 }]);
    const customers = normalized(
      await rows(
        `SELECT customer_id, stage, acquisition_channel, toString(first_purchase_at) AS first_purchase, currency,
                purchase_cadence_days, latest_nps, latest_csat, probability_alive
         FROM ${db}.customers WHERE model_id = 'five-stage' ORDER BY customer_id`,
      ),
    );
    expect(customers).toEqual([
      {
        customer_id: 'a',
        stage: 'retention',
        acquisition_channel: 'ads',
        first_purchase: '1997-01-03 10:00:00',
        currency: 'USD',
        purchase_cadence_days: 66,
        latest_nps: 10,
        latest_csat: null,
        probability_alive: 0.9, // the newest fit
      },
      expect.objectContaining({ customer_id: 'b', latest_nps: 3, latest_csat: 2, probability_alive: 0.2 }),
      expect.objectContaining({ customer_id: 'c', stage: 'conversion', probability_alive: null }),
      expect.objectContaining({ customer_id: 'd', currency: 'GBP' }),
      {
        customer_id: 'e',
        stage: 'reach',
        acquisition_channel: null,
        first_purchase: null,
        currency: null,
        purchase_cadence_days: null,
        latest_nps: null,
        latest_csat: null,
        probability_alive: null,
      },
    ]);
    expect(await rows(`SELECT customer_id, stage FROM ${db}.customers WHERE model_id = 'six-stage'`)).toEqual(
      [{ customer_id: 'a', stage: 'repeat' }],
    );
  });

  it('stage_history: each stage entered, when it was left, merged profiles left out', async () => {
    const history = normalized(
      await rows(
        `SELECT customer_id, sequence, from_stage, stage, toString(entered_at) AS entered, toString(left_at) AS left,
                is_current
         FROM ${db}.stage_history WHERE model_id = 'five-stage' ORDER BY customer_id, sequence`,
      ),
    );
    expect(history.map((h) => (h as { customer_id: string }).customer_id)).toEqual([
      'a',
      'a',
      'b',
      'b',
      'c',
      'd',
      'e',
    ]);
    expect(history.slice(0, 2)).toEqual([
      {
        customer_id: 'a',
        sequence: 1,
        from_stage: null,
        stage: 'conversion',
        entered: '1997-01-03 10:00:00',
        left: '1997-03-10 10:00:00',
        is_current: 0,
      },
      {
        customer_id: 'a',
        sequence: 2,
        from_stage: 'conversion',
        stage: 'retention',
        entered: '1997-03-10 10:00:00',
        left: null,
        is_current: 1,
      },
    ]);
  });

  it('purchases: one row per purchase under the customer it is now, refunds by order, amounts per currency', async () => {
    const purchases = normalized(
      await rows(
        `SELECT event_id, customer_id, purchased_as, currency, minor_digits, amount_minor, refunded_minor,
                net_amount_minor, amount, net_amount, campaign
         FROM ${db}.purchases ORDER BY event_id`,
      ),
    );
    expect(purchases.map((p) => (p as { event_id: string }).event_id)).toEqual([
      'p-a1',
      'p-a2',
      'p-b1',
      'p-b2',
      'p-c1',
      'p-d1',
      'p-g1',
    ]);
    expect(purchases).toContainEqual({
      event_id: 'p-b1',
      customer_id: 'b',
      purchased_as: 'b',
      currency: 'EUR',
      minor_digits: 2,
      amount_minor: 2000,
      refunded_minor: 300,
      net_amount_minor: 1700,
      amount: 20,
      net_amount: 17,
      campaign: null,
    });
    expect(purchases).toContainEqual(
      expect.objectContaining({ event_id: 'p-c1', minor_digits: 0, amount: 70000 }),
    );
    expect(purchases).toContainEqual(
      expect.objectContaining({ event_id: 'p-g1', customer_id: 'c', purchased_as: 'anon-1' }),
    );
    expect(purchases).toContainEqual(expect.objectContaining({ event_id: 'p-a1', campaign: 'spring' }));
  });

  it('purchases_in_reporting_currency: the rate in effect on the purchase day; NULL without one', async () => {
    const converted = normalized(
      await rows(
        `SELECT event_id, rate, toString(rate_valid_from) AS valid_from, round(reporting_amount, 4) AS reporting,
                round(reporting_net_amount, 4) AS reporting_net
         FROM ${db}.purchases_in_reporting_currency ORDER BY event_id`,
      ),
    );
    expect(converted).toEqual([
      { event_id: 'p-a1', rate: 1, valid_from: '1990-01-01', reporting: 10, reporting_net: 10 },
      { event_id: 'p-a2', rate: 1, valid_from: '1990-01-01', reporting: 5, reporting_net: 5 },
      { event_id: 'p-b1', rate: 1.1, valid_from: '1990-01-01', reporting: 22, reporting_net: 18.7 },
      { event_id: 'p-b2', rate: 1.2, valid_from: '1997-03-01', reporting: 12, reporting_net: 12 },
      { event_id: 'p-c1', rate: 0.0082, valid_from: '1990-01-01', reporting: 574, reporting_net: 574 },
      { event_id: 'p-d1', rate: null, valid_from: null, reporting: null, reporting_net: null },
      { event_id: 'p-g1', rate: 1, valid_from: '1990-01-01', reporting: 1, reporting_net: 1 },
    ]);
  });

  it('marketing_spend: one row per spend record, in major units', async () => {
    expect(
      normalized(
        await rows(`SELECT event_id, channel, campaign, amount FROM ${db}.marketing_spend ORDER BY event_id`),
      ),
    ).toEqual([
      { event_id: 'sp1', channel: 'ads', campaign: 'spring', amount: 100 },
      { event_id: 'sp2', channel: 'social', campaign: null, amount: 50 },
    ]);
  });

  it('gives each view column alone what it gives in SELECT *', async () => {
    const views = await rows(
      `SELECT name FROM system.tables WHERE database = '${db}' AND engine = 'View' ORDER BY name`,
    );
    expect(views.length).toBeGreaterThanOrEqual(9);
    const sorted = (values: unknown[]) => values.map((v) => JSON.stringify(v)).sort();
    for (const { name: view } of views) {
      const all = await rows(`SELECT * FROM ${db}.${String(view)}`);
      expect(all.length).toBeGreaterThan(0);
      for (const column of Object.keys(all[0]!)) {
        const alone = await rows(`SELECT ${column} FROM ${db}.${String(view)}`);
        expect({ view, column, values: sorted(alone.map((r) => r[column])) }).toEqual({
          view,
          column,
          values: sorted(all.map((r) => r[column])),
        });
      }
    }
  });

  it('runs every SQL block of docs/analytics.md, and each query returns rows', async () => {
    const blocks = docSqlBlocks();
    expect(blocks.length).toBeGreaterThanOrEqual(11);
    const results: unknown[][] = [];
    for (const block of blocks) {
      const sql = block.replace(/\bciclo\./g, `${db}.`);
      if (/^SELECT\b/i.test(sql)) {
        const got = normalized(await rows(sql));
        expect({ block, rows: got.length > 0 }).toEqual({ block, rows: true });
        results.push(got);
      } else {
        await engine.command(sql);
        results.push([]);
      }
    }
    docRows.set(name, results);
  });
});

describe('docs/analytics.md', () => {
  it('gives the same rows on both engines', () => {
    const [server, chdb] = [docRows.get('server'), docRows.get('chdb')];
    expect(server).toBeDefined();
    expect(chdb).toBeDefined();
    docSqlBlocks().forEach((block, i) => {
      expect({ block, rows: server![i] }).toEqual({ block, rows: chdb![i] });
    });
  });
});
