/**
 * The placement of ciclo's migrations on a cluster, over the real files in ./sql: every statement placed,
 * tables made Replicated with a Distributed table over them, everything ON CLUSTER but what 18.16 refuses
 * there, and the SQL untouched without a cluster. test/clickhouse-cluster.int.spec.ts runs the result on two
 * 18.16 replicas.
 */
import { CicloError } from '../../infra/errors';
import {
  clusterProblems,
  distributedArgsOf,
  migrationsTableProblem,
  placeOnCluster,
  placeStatements,
  type ClusterMemberRow,
  type ClusterTarget,
  type PlacedStatement,
  type ServerMacros,
} from './cluster';
import { loadMigrations, migrationLabel } from './migrate';

const target: ClusterTarget = { database: 'ciclo', cluster: 'ciclo_cluster' };
const migrations = loadMigrations('ciclo');
const placedAll = migrations.flatMap((m) => placeStatements(m.statements, target));
const oneLine = (sql: string): string => sql.replace(/\s+/g, ' ').trim();
const onCluster = (p: PlacedStatement): boolean => / ON CLUSTER ciclo_cluster\b/.test(p.sql);

/** Tables the files create (CREATE TABLE), in order. */
const TABLES = ['touchpoints', 'stage_changes', 'customer_state', 'customer_clv', 'currency_rates'];

describe('placeStatements without a cluster', () => {
  it('runs every statement of every file once, exactly as written', () => {
    for (const m of migrations)
      expect(placeStatements(m.statements, undefined)).toEqual(
        m.statements.map((sql) => ({ sql, on: 'once' })),
      );
  });
});

describe('placeStatements on a cluster, over the migration files', () => {
  it('places every statement of every file', () => {
    for (const m of migrations) {
      const placed = placeStatements(m.statements, target);
      expect([migrationLabel(m), placed.length >= m.statements.length]).toEqual([migrationLabel(m), true]);
    }
  });

  it('makes each table a Replicated local table and a Distributed table over it, both ON CLUSTER', () => {
    const created = placedAll.filter((p) => p.sql.startsWith('CREATE TABLE'));
    expect(
      created.map((p) => /^CREATE TABLE IF NOT EXISTS ciclo\.(\w+) ON CLUSTER/.exec(p.sql)?.[1]),
    ).toEqual(TABLES.flatMap((t) => [`${t}_local`, t]));
    expect(created.every((p) => p.on === 'once')).toBe(true);
    const engineOf = (table: string): string =>
      oneLine(created.find((p) => p.sql.includes(`ciclo.${table} ON CLUSTER`))!.sql).replace(
        /^.*\) ENGINE = /,
        '',
      );
    expect(engineOf('touchpoints_local')).toBe(
      "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/ciclo/touchpoints_local', '{replica}') " +
        'PARTITION BY toYYYYMM(occurred_at) ORDER BY (type, customer_id, event_id)',
    );
    expect(engineOf('customer_state_local')).toBe(
      "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/ciclo/customer_state_local', '{replica}', sequence) " +
        'ORDER BY (model_id, customer_id)',
    );
    expect(engineOf('customer_clv_local')).toContain("'{replica}', fitted_at) ORDER BY customer_id");
    expect(engineOf('currency_rates_local')).toContain(
      "'{replica}', entered_at) ORDER BY (currency, valid_from)",
    );
    for (const t of TABLES) expect(engineOf(t)).toBe(`Distributed(ciclo_cluster, ciclo, ${t}_local)`);
  });

  it('gives the Distributed table the columns as written and the local table the same without comments', () => {
    const sqlOf = (table: string): string =>
      oneLine(placedAll.find((p) => p.sql.includes(`ciclo.${table} ON CLUSTER`))!.sql);
    expect(sqlOf('currency_rates')).toContain(
      "note String DEFAULT '' COMMENT 'Free text, e.g. where the rate comes from', entered_at DateTime DEFAULT now() COMMENT",
    );
    expect(sqlOf('currency_rates_local')).toContain(
      "( currency String, valid_from Date, rate Float64, note String DEFAULT '', entered_at DateTime DEFAULT now() ) ENGINE",
    );
    expect(sqlOf('touchpoints_local')).not.toContain('COMMENT');
    const columnsOf = (sql: string): string => sql.slice(sql.indexOf('('), sql.indexOf(') ENGINE'));
    expect(columnsOf(sqlOf('touchpoints_local'))).toBe(columnsOf(sqlOf('touchpoints')));
  });

  it('makes views ON CLUSTER, IF NOT EXISTS, over the Distributed names', () => {
    const views = placedAll.filter((p) => p.sql.startsWith('CREATE VIEW'));
    expect(views.length).toBeGreaterThanOrEqual(10);
    for (const v of views) {
      expect(v).toMatchObject({ on: 'once' });
      expect(v.sql).toMatch(/^CREATE VIEW IF NOT EXISTS ciclo\.\w+ ON CLUSTER ciclo_cluster AS\s/);
      expect(v.sql).not.toMatch(/_local\b/);
    }
    // 004's views made again after their DROP had no IF NOT EXISTS: on a cluster they get it, so a run that
    // stopped half-way can run again.
    expect(
      views.map((v) => /ciclo\.(\w+) ON CLUSTER/.exec(v.sql)![1]).filter((n) => n === 'revenue_events'),
    ).toHaveLength(2);
  });

  it('drops a view or a table ON CLUSTER, and the local table a table would have', () => {
    const m004 = migrations.find((m) => m.version === 4)!;
    const drops = placeStatements(m004.statements, target).filter((p) => p.sql.startsWith('DROP'));
    expect(drops).toEqual([
      { sql: 'DROP TABLE IF EXISTS ciclo.customer_cohorts ON CLUSTER ciclo_cluster', on: 'once' },
      { sql: 'DROP TABLE IF EXISTS ciclo.customer_cohorts_local ON CLUSTER ciclo_cluster', on: 'once' },
      { sql: 'DROP TABLE IF EXISTS ciclo.revenue_events ON CLUSTER ciclo_cluster', on: 'once' },
      { sql: 'DROP TABLE IF EXISTS ciclo.revenue_events_local ON CLUSTER ciclo_cluster', on: 'once' },
    ]);
  });

  it('adds a column to the local table ON CLUSTER, then to the Distributed table on each server', () => {
    const m003 = migrations.find((m) => m.version === 3)!;
    expect(placeStatements(m003.statements, target)).toEqual([
      {
        sql: "ALTER TABLE ciclo.customer_state_local ON CLUSTER ciclo_cluster ADD COLUMN merged_into String DEFAULT '' AFTER updated_at_ms",
        on: 'once',
      },
      {
        sql: "ALTER TABLE ciclo.customer_state ADD COLUMN merged_into String DEFAULT '' AFTER updated_at_ms",
        on: 'each-server',
      },
    ]);
  });

  it('sets column comments on each server, on the Distributed tables and views as written', () => {
    const comments = migrations.flatMap((m) => m.statements.filter((s) => /COMMENT COLUMN/.test(s)));
    expect(comments.length).toBeGreaterThanOrEqual(10);
    for (const sql of comments) expect(placeOnCluster(sql, target)).toEqual([{ sql, on: 'each-server' }]);
    expect(placedAll.filter((p) => p.on === 'each-server' && /_local\b/.test(p.sql))).toEqual([]);
  });

  it('runs everything else ON CLUSTER, and makes the database ON CLUSTER', () => {
    expect(placedAll.filter((p) => p.on === 'once' && !onCluster(p))).toEqual([]);
    expect(placedAll.filter((p) => p.on === 'each-server' && onCluster(p))).toEqual([]);
    expect(placeOnCluster('CREATE DATABASE IF NOT EXISTS ciclo', target)).toEqual([
      { sql: 'CREATE DATABASE IF NOT EXISTS ciclo ON CLUSTER ciclo_cluster', on: 'once' },
    ]);
  });

  it('places what migrate makes first: schema_migrations, replicated like every table', () => {
    expect(
      placeOnCluster(
        'CREATE TABLE IF NOT EXISTS ciclo.schema_migrations (version UInt32, name String, checksum String, applied_at DateTime) ENGINE = MergeTree ORDER BY version',
        target,
      ).map((p) => oneLine(p.sql)),
    ).toEqual([
      'CREATE TABLE IF NOT EXISTS ciclo.schema_migrations_local ON CLUSTER ciclo_cluster ( version UInt32, name String, checksum String, applied_at DateTime ) ' +
        "ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/ciclo/schema_migrations_local', '{replica}') ORDER BY version",
      'CREATE TABLE IF NOT EXISTS ciclo.schema_migrations ON CLUSTER ciclo_cluster ( version UInt32, name String, checksum String, applied_at DateTime ) ' +
        'ENGINE = Distributed(ciclo_cluster, ciclo, schema_migrations_local)',
    ]);
  });
});

describe('placeOnCluster refuses what it cannot place, naming the statement', () => {
  it.each([
    ['INSERT INTO ciclo.currency_rates VALUES (1)', /not one of the statements/],
    ['CREATE MATERIALIZED VIEW ciclo.mv TO ciclo.t AS SELECT 1', /not one of the statements/],
    ['CREATE TABLE ciclo.m (a String) ENGINE = Memory', /engine Memory has no Replicated form/],
    ['CREATE TABLE ciclo.m (a String) ENGINE = ReplicatedMergeTree ORDER BY a', /no Replicated form/],
    ['CREATE TABLE other.m (a String) ENGINE = MergeTree ORDER BY a', /database other, not ciclo/],
    ['CREATE TABLE ciclo.m ON CLUSTER x (a String) ENGINE = MergeTree ORDER BY a', /already says ON CLUSTER/],
    [
      'CREATE TABLE ciclo.m (a String, b String MATERIALIZED a) ENGINE = MergeTree ORDER BY a',
      /b has MATERIALIZED/,
    ],
    [
      'CREATE TABLE ciclo.m (a String, INDEX i a TYPE minmax GRANULARITY 1) ENGINE = MergeTree ORDER BY a',
      /INDEX/,
    ],
    ['ALTER TABLE ciclo.t DROP COLUMN a', /ALTER \.\.\. DROP COLUMN is not placed/],
    ['ALTER TABLE ciclo.t ADD COLUMN b String ALIAS a', /column b has ALIAS/],
    ['ALTER TABLE ciclo.t DELETE WHERE a = 1', /ALTER \.\.\. DELETE WHERE is not placed/],
    ["ALTER TABLE ciclo.t ADD COLUMN a String, COMMENT COLUMN a 'x'", /mixes ADD COLUMN and COMMENT COLUMN/],
    ['DROP DATABASE ciclo', /not one of the statements/],
    ['CREATE DATABASE other', /creates database other/],
    ["CREATE TABLE ciclo.m (a String COMMENT 'open) ENGINE = MergeTree ORDER BY a", /unterminated ' quote/],
  ])('%s', (sql, why) => {
    expect(() => placeOnCluster(sql, target)).toThrow(why);
    expect(() => placeOnCluster(sql, target)).toThrow(CicloError);
    expect(() => placeOnCluster(sql, target)).toThrow(/^cannot place ".+" on cluster ciclo_cluster/);
  });

  it('refuses a cluster name that is not a plain name', () => {
    expect(() => placeOnCluster('CREATE DATABASE ciclo', { database: 'ciclo', cluster: 'a-b' })).toThrow(
      /plain name/,
    );
  });

  it('keeps strings, brackets and comments of a statement whole', () => {
    const [local, distributed] = placeOnCluster(
      `CREATE TABLE ciclo.m (
        a String COMMENT 'a, (with) ''quotes'' and \\' -- not a comment',
        b Array(Tuple(String, UInt8)) DEFAULT [('x,y', 1)], -- a comment, with a comma
        c DateTime COMMENT 'c'
      ) ENGINE = ReplacingMergeTree(c) ORDER BY (a, c) SETTINGS index_granularity = 8192`,
      target,
    );
    expect(oneLine(local!.sql)).toBe(
      "CREATE TABLE IF NOT EXISTS ciclo.m_local ON CLUSTER ciclo_cluster ( a String, b Array(Tuple(String, UInt8)) DEFAULT [('x,y', 1)], c DateTime ) " +
        "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/ciclo/m_local', '{replica}', c) ORDER BY (a, c) SETTINGS index_granularity = 8192",
    );
    expect(distributed!.sql).toContain("a String COMMENT 'a, (with) ''quotes'' and \\' -- not a comment'");
    expect(distributed!.sql).toContain(
      "c DateTime COMMENT 'c'\n) ENGINE = Distributed(ciclo_cluster, ciclo, m_local)",
    );
  });
});

describe('clusterProblems: the cluster migrate is asked for, as the servers see it', () => {
  const member = (shard: number, replica: number): ClusterMemberRow => ({
    shard_num: shard,
    replica_num: replica,
    host_name: '127.0.0.1',
    port: 9000 + replica,
  });
  const server = (name: string, replica?: string): ServerMacros => ({
    server: name,
    macros: replica === undefined ? {} : { shard: '01', replica },
  });

  it('takes one shard of replicas, each reached, each with its own macros', () => {
    expect(
      clusterProblems('c', [member(1, 1), member(1, 2)], [server('s1', 'r1'), server('s2', 'r2')]),
    ).toEqual([]);
  });

  it('names every problem', () => {
    expect(clusterProblems('c', [], [server('s1', 'r1')])).toEqual([
      'the server has no cluster "c" in its remote_servers',
    ]);
    expect(
      clusterProblems(
        'c',
        [member(1, 1), member(2, 1)],
        [server('s1', 'r1'), server('s2', 'r1'), server('s3')],
      ),
    ).toEqual([
      expect.stringMatching(/has 2 shards/),
      expect.stringMatching(/has 2 servers \(127\.0\.0\.1:9001, 127\.0\.0\.1:9001\) and migrate reaches 3/),
      expect.stringMatching(/s1 and s2 both have replica macro "r1"/),
      's3 has no "shard" macro (<macros> in its config)',
      's3 has no "replica" macro (<macros> in its config)',
    ]);
  });
});

describe('migrationsTableProblem: a database goes on the way it was migrated', () => {
  const plain = {
    engine: 'MergeTree',
    engine_full: 'MergeTree ORDER BY version SETTINGS index_granularity = 8192',
  };
  const distributed = (cluster: string) => ({
    engine: 'Distributed',
    engine_full: `Distributed(${cluster}, ciclo, schema_migrations_local)`,
  });
  it('accepts a new database, and one migrated the same way', () => {
    expect(migrationsTableProblem('ciclo', undefined, 'c')).toBeUndefined();
    expect(migrationsTableProblem('ciclo', plain, undefined)).toBeUndefined();
    expect(migrationsTableProblem('ciclo', distributed('c'), 'c')).toBeUndefined();
    // 26.x quotes the arguments
    expect(
      migrationsTableProblem(
        'ciclo',
        { engine: 'Distributed', engine_full: "Distributed('c', 'ciclo', 'x')" },
        'c',
      ),
    ).toBeUndefined();
  });
  it('refuses the other way, or another cluster', () => {
    expect(migrationsTableProblem('ciclo', plain, 'c')).toMatch(/migrated on one server .* not ON CLUSTER c/);
    expect(migrationsTableProblem('ciclo', distributed('c'), undefined)).toMatch(
      /migrated ON CLUSTER c: give/,
    );
    expect(migrationsTableProblem('ciclo', distributed('c'), 'd')).toMatch(/ON CLUSTER c, not d/);
  });
  it('reads a Distributed engine', () => {
    expect(distributedArgsOf('Distributed(c, db, t, rand())')).toEqual({
      cluster: 'c',
      database: 'db',
      table: 't',
    });
    expect(distributedArgsOf('MergeTree ORDER BY a')).toBeUndefined();
  });
});
