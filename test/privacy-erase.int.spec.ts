/**
 * Erasing a person from ClickHouse (projections/privacy), on both engines ciclo supports (the server the run
 * was given, e.g. Debian's 18.16, and embedded ClickHouse 26.x): a fresh database with every migration, rows
 * of two people in every table that holds persons, then findPersonIds from one of Ana's merged ids and an
 * erase of what it found. Afterwards no String or Array(String) column of any table holds any of Ana's ids,
 * her email or her name (every column system.columns lists, so a new table or column is covered as soon as it
 * exists), every other row is as it was (Bob's referral of Ana without her id), and a second erase deletes
 * nothing.
 */
import { openEmbeddedClickHouse } from '../infra/clickhouse/embedded';
import { connectClickHouseServer, type ClickHouseEngine } from '../infra/clickhouse/engine';
import { migrate } from '../projections/migrations/migrate';
import { eraseFromClickHouse, findPersonIds, type PersonIds } from '../projections/privacy';
import { toRemovedCustomerRow, toTouchpointRow } from '../projections/projector/rows';
import { identifier, stringLiteral } from '../projections/sql';
import { emailAnonymousId } from '../schemas/pseudonym';
import type { TouchpointOf, TouchpointType } from '../schemas/touchpoint';
import { holders } from './support/clickhouse-scan';
import { testConfig } from './support/services';

const engines: [string, () => ClickHouseEngine][] = [
  ['server', () => connectClickHouseServer({ url: testConfig().endpoints.clickhouse.url })],
  ['chdb', () => openEmbeddedClickHouse()],
];

const secret = Buffer.alloc(32, 21);
const emailIdOf = (email: string): string => emailAnonymousId(secret, email);

const ANA_EMAIL = 'Ana.Lindqvist@Example.org';
const ANA_NAME = 'Ana Lindqvist';
const ANA_EMAIL_ID = emailIdOf(ANA_EMAIL);
const BOB_EMAIL = 'bob.marsh@example.net';
const BOB_NAME = 'Bob Marsh';
const BOB_EMAIL_ID = emailIdOf(BOB_EMAIL);

const day = (d: string): number => Date.parse(`${d}T10:00:00Z`);
const PROJECTED = day('2026-11-30');

function touch<T extends TouchpointType>(
  eventId: string,
  type: T,
  ids: { customerId?: string; anonymousId?: string },
  payload: TouchpointOf<T>['payload'],
  occurred: string,
  pageUrl?: string,
): TouchpointOf<T> {
  return {
    eventId,
    type,
    ...ids,
    occurredAt: day(occurred),
    receivedAt: day(occurred),
    source: { kind: 'snippet', name: 'web' },
    ...(pageUrl ? { context: { pageUrl } } : {}),
    payload,
  };
}

/** Touchpoints as the projector writes them (toTouchpointRow: the payload is the JSON it stores). */
const TOUCHPOINTS = [
  // Ana: a browser, identified with email and name; a second browser; an old customer id aliased in; a
  // guest browser only customer_state links (merged); email events under her email-derived id.
  touch(
    'ana-1',
    'PageViewed',
    { anonymousId: 'anon-ana-1' },
    { path: '/' },
    '2026-01-05',
    'https://shop.example/?email=ana.lindqvist@example.org',
  ),
  touch(
    'ana-2',
    'Identified',
    { customerId: 'cust-ana', anonymousId: 'anon-ana-1' },
    { email: ANA_EMAIL, name: ANA_NAME },
    '2026-01-05',
  ),
  touch(
    'ana-3',
    'Identified',
    { customerId: 'cust-ana', anonymousId: 'anon-ana-2' },
    { plan: 'pro' },
    '2026-02-10',
  ),
  touch('ana-4', 'Aliased', { customerId: 'cust-ana' }, { previousId: 'cust-ana-old' }, '2026-02-11'),
  touch(
    'ana-5',
    'PurchaseCompleted',
    { customerId: 'cust-ana-old' },
    { orderId: 'o-ana-1', lineItems: [], amountMinor: 1200, currency: 'EUR' },
    '2026-01-20',
  ),
  touch(
    'ana-6',
    'PurchaseCompleted',
    { customerId: 'cust-ana' },
    { orderId: 'o-ana-2', lineItems: [], amountMinor: 900, currency: 'EUR' },
    '2026-03-02',
  ),
  touch('ana-7', 'EmailOpened', { anonymousId: ANA_EMAIL_ID }, { campaignId: 'spring' }, '2026-03-04'),
  touch('ana-8', 'PageViewed', { anonymousId: 'anon-ana-3' }, { path: '/cart' }, '2026-03-05'),
  // Bob: a browser that identified, a purchase, email events, and a referral of Ana (his row, her id).
  touch('bob-1', 'PageViewed', { anonymousId: 'anon-bob-1' }, { path: '/' }, '2026-01-07'),
  touch(
    'bob-2',
    'Identified',
    { customerId: 'cust-bob', anonymousId: 'anon-bob-1' },
    { email: BOB_EMAIL, name: BOB_NAME },
    '2026-01-07',
  ),
  touch(
    'bob-3',
    'PurchaseCompleted',
    { customerId: 'cust-bob' },
    { orderId: 'o-bob-1', lineItems: [], amountMinor: 4000, currency: 'EUR' },
    '2026-02-01',
  ),
  touch(
    'bob-4',
    'ReferralMade',
    { customerId: 'cust-bob' },
    { referralId: 'ref-bob-1', refereeId: 'cust-ana' },
    '2026-02-03',
  ),
  touch(
    'bob-5',
    'EmailClicked',
    { anonymousId: BOB_EMAIL_ID },
    { campaignId: 'spring', url: 'https://shop.example/sale' },
    '2026-03-04',
  ),
].map((tp) => toTouchpointRow(tp, PROJECTED));

const stageChange = (
  customer: string,
  sequence: number,
  from: string,
  to: string,
  occurred: string,
  triggers: string[],
) => ({
  event_id: `five-stage:${customer}:${sequence}`,
  customer_id: customer,
  model_id: 'five-stage',
  model_version: 1,
  from_stage: from,
  to_stage: to,
  rule_id: `${to}-rule`,
  triggering_event_ids: triggers,
  occurred_at: `${occurred} 10:00:00`,
  occurred_at_ms: day(occurred),
  sequence,
  reason: '',
});

const STAGE_CHANGES = [
  stageChange('anon-ana-1', 1, '', 'reach', '2026-01-05', ['ana-1']),
  stageChange('cust-ana-old', 1, '', 'conversion', '2026-01-20', ['ana-5']),
  stageChange('cust-ana', 1, '', 'reach', '2026-01-05', ['ana-2']),
  stageChange('cust-ana', 2, 'reach', 'conversion', '2026-03-02', ['ana-6']),
  stageChange('anon-bob-1', 1, '', 'reach', '2026-01-07', ['bob-1']),
  stageChange('cust-bob', 1, '', 'conversion', '2026-02-01', ['bob-3']),
];

const live = (customer: string, sequence: number, orders: number) => ({
  customer_id: customer,
  model_id: 'five-stage',
  model_version: 1,
  stage: 'conversion',
  stage_entered_at: '2026-03-02 10:00:00',
  sequence,
  first_seen_at: '2026-01-05 10:00:00',
  last_seen_at: '2026-03-05 10:00:00',
  acquisition_channel: 'direct',
  orders,
  net_revenue_minor: 2100,
  currency: 'EUR',
  merged_into: '',
});
const merged = (customer: string, into: string) =>
  toRemovedCustomerRow(
    { modelId: 'five-stage', customerId: customer, sequence: 3, mergedInto: into },
    PROJECTED,
  );

const CUSTOMER_STATE = [
  live('cust-ana', 2, 2),
  merged('anon-ana-1', 'cust-ana'),
  merged('anon-ana-2', 'cust-ana'),
  merged('cust-ana-old', 'cust-ana'),
  merged('anon-ana-3', 'cust-ana'), // known only here: no touchpoint links this browser
  live('cust-bob', 1, 1),
  merged('anon-bob-1', 'cust-bob'),
];

const clv = (customer: string) => ({
  customer_id: customer,
  fitted_at: '2026-11-01 00:00:00',
  frequency: 1,
  recency_weeks: 4,
  age_weeks: 40,
  expected_purchases_12m: 1.2,
  probability_alive: 0.8,
  expected_spend_minor: 1500,
  predicted_clv_minor: 1800,
  historic_clv_minor: 2100,
});

const ANA_IDS = ['anon-ana-3', 'cust-ana', 'anon-ana-1', 'anon-ana-2', 'cust-ana-old', ANA_EMAIL_ID];

/** Every row of every table (not view), as sorted JSON lines per table. */
async function everyRow(engine: ClickHouseEngine, db: string): Promise<Record<string, string[]>> {
  const tables = await engine.query<{ name: string }>(
    `SELECT name FROM system.tables WHERE database = ${stringLiteral(db)} AND engine NOT IN ('View', 'MaterializedView') ORDER BY name`,
  );
  const rows: Record<string, string[]> = {};
  for (const t of tables)
    rows[t.name] = (await engine.query(`SELECT * FROM ${identifier(db)}.${identifier(t.name)}`))
      .map((r) => JSON.stringify(r))
      .sort();
  return rows;
}

describe.each(engines)('erasing a person from ClickHouse on %s', (_name, open) => {
  const db = `it_privacy_${Date.now()}_${Math.random().toString(36).slice(2, 6)}`;
  let engine: ClickHouseEngine;
  let before: Record<string, string[]>;
  let ana: PersonIds;

  beforeAll(async () => {
    engine = open();
    await migrate(engine, db);
    await engine.insert(`${db}.touchpoints`, TOUCHPOINTS);
    await engine.insert(`${db}.stage_changes`, STAGE_CHANGES);
    await engine.insert(`${db}.customer_state`, CUSTOMER_STATE);
    await engine.insert(`${db}.customer_clv`, [clv('cust-ana'), clv('cust-bob')]);
    await engine.insert(`${db}.currency_rates`, [{ currency: 'EUR', valid_from: '1990-01-01', rate: 1.08 }]);
    before = await everyRow(engine, db);
  });
  afterAll(async () => {
    await engine.command(`DROP DATABASE IF EXISTS ${db}`);
    await engine.close();
  });

  it('finds every id of Ana from a merged id, with her email and name', async () => {
    ana = await findPersonIds(engine, db, 'anon-ana-3', emailIdOf);
    expect([...ana.ids].sort()).toEqual([...ANA_IDS].sort());
    expect(ana.ids[0]).toBe('anon-ana-3');
    expect(ana.emails).toEqual([ANA_EMAIL]);
    expect(ana.names).toEqual([ANA_NAME]);
    // Bob's are his own: his referral of Ana links no one.
    const bob = await findPersonIds(engine, db, 'cust-bob', emailIdOf);
    expect([...bob.ids].sort()).toEqual(['anon-bob-1', BOB_EMAIL_ID, 'cust-bob'].sort());
  });

  it('erases every row of hers from every table, and leaves every other row as it was', async () => {
    const needles = [...ana.ids, ...ana.emails, ...ana.names];
    expect(await holders(engine, db, needles)).not.toEqual([]);

    const erased = await eraseFromClickHouse(engine, db, ana.ids);

    expect(erased.deleted).toEqual({ customer_clv: 1, customer_state: 5, stage_changes: 4, touchpoints: 8 });
    expect(erased.scrubbed).toEqual({ touchpoints: 1 });
    // Every table that holds persons had rows of both here: a table a migration adds needs rows above.
    expect(Object.entries(erased.deleted).filter(([, rows]) => rows === 0)).toEqual([]);
    expect(await holders(engine, db, needles)).toEqual([]);

    const after = await everyRow(engine, db);
    const hers = (line: string): boolean => needles.some((n) => line.toLowerCase().includes(n.toLowerCase()));
    const referral = before.touchpoints!.find((line) => line.includes('ref-bob-1'))!;
    const scrubbed = JSON.stringify({
      ...(JSON.parse(referral) as Record<string, unknown>),
      payload: JSON.stringify({ referralId: 'ref-bob-1' }),
    });
    const expected = Object.fromEntries(
      Object.entries(before).map(([table, lines]) => [
        table,
        [...lines.filter((l) => !hers(l)), ...(table === 'touchpoints' ? [scrubbed] : [])].sort(),
      ]),
    );
    expect(after).toEqual(expected);
    for (const table of Object.keys(erased.deleted)) expect(after[table]!.length).toBeGreaterThan(0);
  });

  it('erases nothing the second time, and finds no link to her any more', async () => {
    expect(await eraseFromClickHouse(engine, db, ana.ids)).toEqual({
      deleted: { customer_clv: 0, customer_state: 0, stage_changes: 0, touchpoints: 0 },
      scrubbed: {},
      mutations: 0,
    });
    expect((await findPersonIds(engine, db, 'cust-ana', emailIdOf)).ids).toEqual(['cust-ana']);
  });
});
