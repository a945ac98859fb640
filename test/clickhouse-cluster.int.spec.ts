/**
 * ciclo's migrations ON CLUSTER on real replicas (issue 23): every server of a one-shard ClickHouse cluster
 * with ZooKeeper, e.g. the two 18.16 replicas of `ciclo stack up --clickhouse-replicas 2`. A fresh database
 * migrated through the first server, then: the second knows it is migrated; every server has each table as a
 * Replicated local table and a Distributed table over it, every view, and a comment on every column an
 * analyst reads; rows written through the Distributed tables with the projector's settings are on every
 * replica once, and every server answers the reports alike; a person erased through one replica is gone
 * from all of them.
 *
 * It runs on the test cluster (test/support/cluster.ts), which it starts when it is not up.
 */
import { connectClickHouseServer, type ClickHouseEngine } from '../infra/clickhouse/engine';
import { STACK_CLICKHOUSE_CLUSTER } from '../infra/stack/shape';
import {
  loadMigrations,
  migrate,
  migrationLabel,
  pendingMigrations,
} from '../projections/migrations/migrate';
import { eraseFromClickHouse } from '../projections/privacy';
import { CLUSTER_WRITE_SETTINGS, withClickHouseSettings } from '../projections/projector/projector';
import {
  cacReport,
  churnReport,
  clvReport,
  funnelReport,
  npsReport,
  type ClvReport,
  type FunnelReport,
} from '../projections/reports/analytics';
import { cohortReport } from '../projections/reports/cohorts';
import { stringLiteral } from '../projections/sql';
import { startTestCluster } from './support/cluster';
import { eventually } from './support/services';
import { day, purchase } from './support/clickhouse-rows';

/** The tables of the migrations (and migrate's own), each a Distributed table over a Replicated `_local`. */
const TABLES = [
  'currency_rates',
  'customer_clv',
  'customer_state',
  'schema_migrations',
  'stage_changes',
  'touchpoints',
];

/** The views the files make, by name. */
const VIEWS = [
  ...new Set(
    loadMigrations('ciclo').flatMap((m) =>
      m.statements.flatMap((sql) => /^CREATE VIEW (?:IF NOT EXISTS )?\w+\.(\w+)/.exec(sql)?.[1] ?? []),
    ),
  ),
].sort();

describe('migrations ON CLUSTER on the test cluster', () => {
  const db = `it_cluster_${Date.now()}_${Math.random().toString(36).slice(2, 6)}`;
  const single = `${db}_single`;
  let servers: ClickHouseEngine[];
  let writer: ClickHouseEngine;
  let cluster: string;
  const all = (): string[] => loadMigrations(db).map(migrationLabel);

  beforeAll(async () => {
    const clickhouse = (await startTestCluster()).config.endpoints.clickhouse;
    cluster = clickhouse.cluster ?? STACK_CLICKHOUSE_CLUSTER;
    const replicaUrls = clickhouse.urls;
    servers = replicaUrls.map((url) => connectClickHouseServer({ url }));
    // As the projector connects on a cluster: every replica, with its write settings.
    const urls = replicaUrls.map((url) => withClickHouseSettings(url, CLUSTER_WRITE_SETTINGS));
    writer = connectClickHouseServer({ url: urls[0]!, urls });
  }, 300_000);

  afterAll(async () => {
    await servers[0]?.command(`DROP DATABASE IF EXISTS ${db} ON CLUSTER ${cluster}`);
    await servers[0]?.command(`DROP DATABASE IF EXISTS ${single}`);
    await Promise.all([...servers, writer].map((s) => s.close()));
  });

  it('refuses to migrate ON CLUSTER without a connection to every server', async () => {
    await expect(migrate(servers[0]!, db, { cluster, servers: servers.slice(0, 1) })).rejects.toThrow(
      new RegExp(`cluster ${cluster} has ${servers.length} servers .* and migrate reaches 1`),
    );
  });

  it('migrates ON CLUSTER through the first server; every other one knows it is migrated', async () => {
    expect(await migrate(servers[0]!, db, { cluster, servers })).toEqual({
      applied: all(),
      alreadyApplied: [],
    });
    for (const [i, server] of servers.entries()) {
      // schema_migrations is replicated: each server's copy catches up on its own.
      await eventually(
        async () => ((await pendingMigrations(server, db, { cluster })).length === 0 ? true : undefined),
        30_000,
        `server ${i + 1} seeing every migration applied`,
      );
      const others = [server, ...servers.filter((s) => s !== server)];
      expect(await migrate(server, db, { cluster, servers: others })).toEqual({
        applied: [],
        alreadyApplied: all(),
      });
    }
    await expect(pendingMigrations(servers[0]!, db)).rejects.toThrow(/migrated ON CLUSTER/);
  });

  it('gives every server each table as Replicated and Distributed, every view, and the comments', async () => {
    const shapes = await Promise.all(
      servers.map((server) =>
        server.query<{ name: string; engine: string }>(
          `SELECT name, engine FROM system.tables WHERE database = ${stringLiteral(db)} ORDER BY name`,
        ),
      ),
    );
    for (const tables of shapes) {
      const engineOf = (name: string): string | undefined => tables.find((t) => t.name === name)?.engine;
      for (const t of TABLES) {
        expect([t, engineOf(t)]).toEqual([t, 'Distributed']);
        expect([t, engineOf(`${t}_local`)]).toEqual([t, expect.stringMatching(/^Replicated\w*MergeTree$/)]);
      }
      expect(tables.filter((t) => t.engine === 'View').map((t) => t.name)).toEqual(VIEWS);
      expect(tables).toEqual(shapes[0]);
    }
    for (const server of servers)
      expect(
        await server.query(
          `SELECT table, name FROM system.columns WHERE database = ${stringLiteral(db)} AND comment = '' AND table NOT LIKE '%\\_local' ORDER BY table, name`,
        ),
      ).toEqual([]);
  });

  it('writes through the Distributed tables to every replica once; every server answers the reports', async () => {
    const [setting] = await writer.query<{ value: string }>(
      "SELECT value FROM system.settings WHERE name = 'insert_distributed_sync'",
    );
    expect(setting?.value).toBe('1');
    await writer.insert(`${db}.touchpoints`, [
      purchase('e1', 'a', 'o1', '1997-01-03', 1000),
      purchase('e1', 'a', 'o1', '1997-01-03', 1000), // redelivered
      purchase('e2', 'a', 'o2', '1997-03-10', 500),
      purchase('e3', 'b', 'o3', '1997-01-20', 2000),
      purchase('e4', 'c', 'o4', '1997-02-01', 700),
    ]);
    await writer.insert(`${db}.touchpoints`, [purchase('e5', 'gone', 'o5', '1997-02-03', 100)]);
    for (const [i, server] of servers.entries()) {
      await eventually(
        async () => {
          const [row] = await server.query<{ n: string }>(
            `SELECT count() AS n FROM ${db}.touchpoints_local FINAL`,
          );
          return Number(row?.n) === 5 ? true : undefined;
        },
        30_000,
        `replica ${i + 1} holding the 5 purchases`,
      );
      expect(
        (await cohortReport(server, db)).map((c) => [c.cohort, c.monthsSince, c.customers, c.revenue]),
      ).toEqual([
        ['1997-01', 0, 2, 30],
        ['1997-01', 2, 2, 5],
        ['1997-02', 0, 2, 8],
      ]);
    }
  });

  it('answers every view and report alike on every server', async () => {
    const change = (customer: string, sequence: number, to: string, d: string) => ({
      event_id: `sc-${customer}-${sequence}`,
      customer_id: customer,
      model_id: 'five-stage',
      from_stage: '',
      to_stage: to,
      rule_id: 'r',
      occurred_at: day(d),
      sequence,
    });
    await writer.insert(`${db}.stage_changes`, [
      change('a', 1, 'conversion', '1997-01-03'),
      change('a', 2, 'retention', '1997-03-10'),
      change('b', 1, 'conversion', '1997-01-20'),
      change('m', 1, 'reach', '1997-01-02'),
    ]);
    await writer.insert(`${db}.customer_state`, [
      { customer_id: 'a', model_id: 'five-stage', stage: 'retention', sequence: 2, orders: 2 },
      { customer_id: 'b', model_id: 'five-stage', stage: 'conversion', sequence: 1, orders: 1 },
      { customer_id: 'm', model_id: 'five-stage', stage: '', sequence: 1, merged_into: 'a' },
    ]);
    await writer.insert(`${db}.customer_clv`, [
      { customer_id: 'a', fitted_at: day('1997-04-01'), probability_alive: 0.9, predicted_clv_minor: 5000 },
    ]);
    const answers = async (server: ClickHouseEngine): Promise<string> => {
      const views = await Promise.all(
        VIEWS.map(async (v) => {
          const [row] = await server.query<{ n: string }>(`SELECT count() AS n FROM ${db}.${v}`);
          return `${v}=${row?.n}`;
        }),
      );
      return JSON.stringify({
        views,
        nps: await npsReport(server, db),
        churn: await churnReport(server, db),
        cac: await cacReport(server, db, 'five-stage'),
        funnel: await funnelReport(server, db, 'five-stage'),
        clv: await clvReport(server, db),
      });
    };
    const first = await eventually(
      async () => {
        const all = await Promise.all(servers.map(answers));
        return all.every((a) => a === all[0]) ? all[0] : undefined;
      },
      30_000,
      'the same answers from every server',
    );
    const answer = JSON.parse(first) as { views: string[]; funnel: FunnelReport; clv: ClvReport };
    expect(answer.views).toEqual(
      expect.arrayContaining(['customers=2', 'stage_history=3', 'identity_map=1']),
    );
    expect(answer.funnel.stages).toContainEqual({ stage: 'retention', customers: 1 });
    expect(answer.clv.customers).toBe(1);
  });

  it('erases a person through one replica from every replica', async () => {
    const last = servers[servers.length - 1]!;
    const erasure = await eraseFromClickHouse(last, db, ['gone'], { timeoutMs: 60_000 });
    expect(erasure.deleted).toMatchObject({ touchpoints_local: 1 });
    for (const [i, server] of servers.entries())
      await eventually(
        async () => {
          const [row] = await server.query<{ gone: string; kept: string }>(
            `SELECT countIf(customer_id = 'gone') AS gone, countIf(customer_id != 'gone') AS kept FROM ${db}.touchpoints_local FINAL`,
          );
          return Number(row?.gone) === 0 ? Number(row?.kept) : undefined;
        },
        60_000,
        `replica ${i + 1} without the erased person`,
      ).then((kept) => expect(kept).toBe(4));
  });

  it('migrates the same files on one server without a cluster, as plain tables', async () => {
    expect(await migrate(servers[0]!, single)).toEqual({ applied: all(), alreadyApplied: [] });
    const [table] = await servers[0]!.query<{ engine: string }>(
      `SELECT engine FROM system.tables WHERE database = ${stringLiteral(single)} AND name = 'touchpoints'`,
    );
    expect(table?.engine).toBe('ReplacingMergeTree');
    await expect(pendingMigrations(servers[0]!, single, { cluster })).rejects.toThrow(
      /migrated on one server/,
    );
  });
});
