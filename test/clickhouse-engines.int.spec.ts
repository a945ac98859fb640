/**
 * The same SQL on both engines ciclo supports: Debian's ClickHouse server (18.16) or whichever server the
 * run was given, and embedded chdb (26.x). Later migrations and report queries join this matrix.
 */
import { openEmbeddedClickHouse } from '../infra/clickhouse/embedded';
import { connectClickHouseServer, type ClickHouseEngine } from '../infra/clickhouse/engine';
import { testConfig } from './support/services';

const engines: [string, () => ClickHouseEngine][] = [
  ['server', () => connectClickHouseServer({ url: testConfig().endpoints.clickhouse.url })],
  ['chdb', () => openEmbeddedClickHouse()],
];

describe.each(engines)('ClickHouse engine: %s', (_name, open) => {
  let engine: ClickHouseEngine;
  const db = `it_engines_${Date.now()}_${Math.random().toString(36).slice(2, 6)}`;
  beforeAll(() => {
    engine = open();
  });
  afterAll(async () => {
    await engine.command(`DROP DATABASE IF EXISTS ${db}`);
    await engine.close();
  });

  it('creates a table, inserts rows and aggregates them identically', async () => {
    const [version] = await engine.query<{ v: string }>('SELECT version() AS v');
    expect(version!.v).toMatch(/^\d+\.\d+/);
    await engine.command(`CREATE DATABASE IF NOT EXISTS ${db}`);
    await engine.command(
      `CREATE TABLE ${db}.purchases (customer_id String, day Date, amount_minor Int64) ENGINE = MergeTree ORDER BY (customer_id, day)`,
    );
    await engine.insert(`${db}.purchases`, [
      { customer_id: 'a', day: '1997-01-01', amount_minor: 1000 },
      { customer_id: 'a', day: '1997-02-03', amount_minor: 2550 },
      { customer_id: 'b', day: '1997-01-15', amount_minor: 999 },
    ]);
    const rows = await engine.query<{ month: string; customers: string; revenue: string }>(
      `SELECT toString(toStartOfMonth(day)) AS month, uniqExact(customer_id) AS customers, sum(amount_minor) AS revenue
       FROM ${db}.purchases GROUP BY month ORDER BY month`,
    );
    expect(rows.map((r) => [r.month, Number(r.customers), Number(r.revenue)])).toEqual([
      ['1997-01-01', 2, 1999],
      ['1997-02-01', 1, 2550],
    ]);
  });

  it('reads back every string, array and null exactly as inserted', async () => {
    await engine.command(`CREATE DATABASE IF NOT EXISTS ${db}`);
    await engine.command(
      `CREATE TABLE ${db}.texts (id UInt32, s String, ids Array(String), maybe Nullable(String), at DateTime) ENGINE = MergeTree ORDER BY id`,
    );
    const nasty = [
      'tab\there',
      'line\nbreak',
      'back\\slash',
      'cr\rlf',
      'nul\0byte',
      "it's",
      "['x']",
      'ünï©ødé 😀',
      '',
    ];
    const rows = nasty.map((s, id) => ({
      id,
      s,
      ids: [s, `${s}-2`],
      maybe: id % 2 === 0 ? null : s,
      at: '1997-01-01 12:34:56',
    }));
    await engine.insert(`${db}.texts`, rows);
    const back = await engine.query<{
      id: number;
      s: string;
      ids: string[];
      maybe: string | null;
      at: string;
    }>(`SELECT id, s, ids, maybe, toString(at) AS at FROM ${db}.texts ORDER BY id`);
    expect(back.map((r) => ({ ...r, id: Number(r.id) }))).toEqual(rows);
  });
});
