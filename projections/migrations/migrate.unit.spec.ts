/**
 * migrate on one server and on a cluster, with nothing running: embedded chdb (26.x) for one server, which
 * has no clusters, macros or ZooKeeper, so it only runs the migrations as written; and recording fakes for
 * what migrate sends to which server of a cluster. test/clickhouse-cluster.int.spec.ts runs them on two
 * 18.16 replicas.
 */
import { openEmbeddedClickHouse } from '../../infra/clickhouse/embedded';
import type { ClickHouseEngine } from '../../infra/clickhouse/engine';
import { dropDatabaseSql, loadMigrations, migrate, migrationLabel, pendingMigrations } from './migrate';

/** Records every statement and insert on the way to the engine it wraps. */
function recording(engine: ClickHouseEngine): ClickHouseEngine & { readonly sent: string[] } {
  const sent: string[] = [];
  return {
    name: engine.name,
    sent,
    command: (sql) => {
      sent.push(sql);
      return engine.command(sql);
    },
    insert: (table, rows) => {
      sent.push(`INSERT INTO ${table}`);
      return engine.insert(table, rows);
    },
    query: (sql) => engine.query(sql),
    close: () => engine.close(),
  };
}

describe('migrate on one server (chdb)', () => {
  const db = `unit_migrate_${Date.now()}`;
  let chdb: ClickHouseEngine;
  beforeAll(() => {
    chdb = openEmbeddedClickHouse();
  });
  afterAll(async () => {
    await chdb.command(`DROP DATABASE IF EXISTS ${db}`);
    await chdb.close();
  });

  it('refuses a cluster chdb does not have, before it changes anything', async () => {
    await expect(migrate(chdb, db, { cluster: 'ciclo' })).rejects.toThrow(
      /cannot migrate ON CLUSTER ciclo through chdb \(embedded\): the server has no cluster "ciclo"/,
    );
    expect(await chdb.query(`SELECT name FROM system.databases WHERE name = '${db}'`)).toEqual([]);
  });

  it('sends every statement of the files as written, once, and records each migration', async () => {
    const engine = recording(chdb);
    const all = loadMigrations(db);
    expect(await migrate(engine, db)).toEqual({ applied: all.map(migrationLabel), alreadyApplied: [] });
    expect(engine.sent).toEqual([
      `CREATE DATABASE IF NOT EXISTS ${db}`,
      expect.stringMatching(
        new RegExp(`^CREATE TABLE IF NOT EXISTS ${db}\\.schema_migrations .* ENGINE = MergeTree`),
      ),
      ...all.flatMap((m) => [...m.statements, `INSERT INTO ${db}.schema_migrations`]),
    ]);
    const tables = await chdb.query<{ name: string; engine: string }>(
      `SELECT name, engine FROM system.tables WHERE database = '${db}' AND engine NOT LIKE '%View' ORDER BY name`,
    );
    expect(tables.map((t) => `${t.name} ${t.engine}`)).toEqual([
      'currency_rates ReplacingMergeTree',
      'customer_clv ReplacingMergeTree',
      'customer_state ReplacingMergeTree',
      'schema_migrations MergeTree',
      'stage_changes ReplacingMergeTree',
      'touchpoints ReplacingMergeTree',
    ]);
  });

  it('runs nothing the second time', async () => {
    const engine = recording(chdb);
    const all = loadMigrations(db).map(migrationLabel);
    expect(await migrate(engine, db)).toEqual({ applied: [], alreadyApplied: all });
    expect(engine.sent.filter((s) => !s.includes('IF NOT EXISTS'))).toEqual([]);
    expect(await pendingMigrations(chdb, db)).toEqual([]);
  });

  it('refuses to go on ON CLUSTER with a database migrated on one server', async () => {
    await expect(pendingMigrations(chdb, db, { cluster: 'ciclo' })).rejects.toThrow(
      /migrated on one server \(its schema_migrations is MergeTree\), not ON CLUSTER ciclo/,
    );
  });
});

/**
 * A server of a two-replica cluster that answers migrate's questions: the cluster of system.clusters, its
 * macros, and the migrations recorded so far (shared by the servers, as the replicated table is).
 */
function fakeServer(
  name: string,
  replica: string,
  recorded: { version: number; checksum: string }[],
): ClickHouseEngine & { readonly sent: string[] } {
  const sent: string[] = [];
  let migrated = false;
  return {
    name,
    sent,
    command(sql) {
      sent.push(sql);
      if (/schema_migrations ON CLUSTER/.test(sql)) migrated = true;
      return Promise.resolve();
    },
    insert(table, rows) {
      sent.push(`INSERT INTO ${table}`);
      recorded.push(...(rows as { version: number; checksum: string }[]));
      return Promise.resolve();
    },
    query<T>(sql: string): Promise<T[]> {
      const rows: unknown[] = sql.includes('FROM system.clusters')
        ? [1, 2].map((r) => ({ shard_num: 1, replica_num: r, host_name: 'h', port: 9000 + r }))
        : sql.includes('FROM system.macros')
          ? [
              { macro: 'shard', substitution: '01' },
              { macro: 'replica', substitution: replica },
            ]
          : sql.includes('FROM system.tables')
            ? migrated || recorded.length > 0
              ? [{ engine: 'Distributed', engine_full: 'Distributed(c, ciclo, schema_migrations_local)' }]
              : []
            : sql.includes('schema_migrations')
              ? recorded
              : [];
      return Promise.resolve(rows as T[]);
    },
    close: () => Promise.resolve(),
  };
}

describe('dropDatabaseSql', () => {
  it('drops from every server of the cluster, or from the one', () => {
    expect(dropDatabaseSql('run_1', 'ciclo')).toBe('DROP DATABASE IF EXISTS run_1 ON CLUSTER ciclo');
    expect(dropDatabaseSql('run_1', undefined)).toBe('DROP DATABASE IF EXISTS run_1');
  });
});

describe('migrate on a cluster (fakes of two replicas)', () => {
  it('runs ON CLUSTER statements through one server, comments and Distributed columns on each', async () => {
    const recorded: { version: number; checksum: string }[] = [];
    const r1 = fakeServer('r1', 'r1', recorded);
    const r2 = fakeServer('r2', 'r2', recorded);
    const report = await migrate(r1, 'ciclo', { cluster: 'c', servers: [r1, r2] });
    expect(report.applied).toEqual(loadMigrations('ciclo').map(migrationLabel));
    expect(r1.sent.filter((s) => / ON CLUSTER c\b/.test(s)).length).toBeGreaterThan(20);
    expect(r2.sent.filter((s) => / ON CLUSTER /.test(s))).toEqual([]);
    // What runs on each server, runs on both, in the same order.
    const perServer = r2.sent;
    expect(perServer[0]).toBe(
      "ALTER TABLE ciclo.customer_state ADD COLUMN merged_into String DEFAULT '' AFTER updated_at_ms",
    );
    expect(perServer.slice(1).every((s) => /^ALTER TABLE ciclo\.\w+\s+COMMENT COLUMN/.test(s))).toBe(true);
    expect(r1.sent.filter((s) => !/ ON CLUSTER /.test(s) && !s.startsWith('INSERT'))).toEqual(perServer);
    // Recorded once, in the replicated table, through the server migrate runs on.
    expect(r1.sent.filter((s) => s.startsWith('INSERT'))).toEqual(
      loadMigrations('ciclo').map(() => 'INSERT INTO ciclo.schema_migrations_local'),
    );
  });

  it('sees through either server what was applied through the other', async () => {
    const recorded: { version: number; checksum: string }[] = [];
    const r1 = fakeServer('r1', 'r1', recorded);
    const r2 = fakeServer('r2', 'r2', recorded);
    await migrate(r1, 'ciclo', { cluster: 'c', servers: [r1, r2] });
    const again = await migrate(r2, 'ciclo', { cluster: 'c', servers: [r2, r1] });
    expect(again.applied).toEqual([]);
    expect(await pendingMigrations(r2, 'ciclo', { cluster: 'c' })).toEqual([]);
    await expect(pendingMigrations(r2, 'ciclo')).rejects.toThrow(/migrated ON CLUSTER c: give that cluster/);
  });

  it('refuses to run with a connection to only one of the two servers', async () => {
    const r1 = fakeServer('r1', 'r1', []);
    await expect(migrate(r1, 'ciclo', { cluster: 'c' })).rejects.toThrow(
      /cluster c has 2 servers \(h:9001, h:9002\) and migrate reaches 1: give the URL of every server/,
    );
    expect(r1.sent).toEqual([]);
  });
});
