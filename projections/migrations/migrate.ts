/**
 * Versioned SQL migrations: files NNN_name.sql in ./sql, applied in order, each recorded in
 * {{db}}.schema_migrations with a checksum. Idempotent: applied versions are skipped; an applied file that
 * changed afterwards is an error (write a new migration instead). The same files run on Debian's
 * ClickHouse 18.16 and on modern ClickHouse (chdb), through the ClickHouseEngine interface, on one server or
 * ON CLUSTER: cluster.ts places each statement of a file on a cluster when it runs, so the files and their
 * checksums are the same both ways.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { connectClickHouseServer, type ClickHouseEngine } from '../../infra/clickhouse/engine';
import type { ServiceEndpoints } from '../../infra/config';
import { CicloError } from '../../infra/errors';
import { identifier, stringLiteral } from '../sql';
import {
  clusterProblems,
  localTableOf,
  migrationsTableProblem,
  placeStatements,
  type ClusterMemberRow,
  type MigrationsTableRow,
  type PlacedStatement,
  type ServerMacros,
} from './cluster';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly statements: readonly string[];
  readonly checksum: string;
}

/** The .sql files are not compiled: read them from the source tree, from src (tests) or from dist/. */
export const MIGRATIONS_DIR = fs.existsSync(path.join(__dirname, 'sql'))
  ? path.join(__dirname, 'sql')
  : path.resolve(__dirname, '..', '..', '..', 'projections', 'migrations', 'sql');

export function parseMigration(fileName: string, sql: string, database: string): Migration {
  const match = /^(\d{3})_([a-z0-9_]+)\.sql$/.exec(fileName);
  if (!match)
    throw new CicloError('CONFIG_INVALID', `migration file "${fileName}" must be named NNN_snake_case.sql`);
  const db = identifier(database);
  const statements = sql
    .split('\n')
    .filter((line) => !line.trim().startsWith('--'))
    .join('\n')
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => s.replaceAll('{{db}}', db));
  return {
    version: Number(match[1]),
    name: match[2]!,
    statements,
    checksum: crypto.createHash('sha256').update(sql).digest('hex').slice(0, 16),
  };
}

export function loadMigrations(database: string, dir = MIGRATIONS_DIR): Migration[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((f) => parseMigration(f, fs.readFileSync(path.join(dir, f), 'utf8'), database));
}

/** How a migration is named in reports and errors: its file name without `.sql`. */
export function migrationLabel(m: Pick<Migration, 'version' | 'name'>): string {
  return `${String(m.version).padStart(3, '0')}_${m.name}`;
}

export interface MigrationReport {
  readonly applied: readonly string[];
  readonly alreadyApplied: readonly string[];
}

export interface MigrateOptions {
  /**
   * A cluster of the servers' remote_servers: tables are made Replicated with Distributed tables over them,
   * ON CLUSTER (cluster.ts). Without it, one server and the SQL as written.
   */
  readonly cluster?: string;
  /**
   * On a cluster, a connection to each of its servers (`engine` may be one of them): what 18.16 cannot run
   * ON CLUSTER, column comments, is run on each. Default: `engine` alone, enough for one server.
   */
  readonly servers?: readonly ClickHouseEngine[];
  /** Default: every file in ./sql. */
  readonly migrations?: readonly Migration[];
}

/** What migrate makes before the first migration: the database and the record of what was applied. */
function bootstrapStatements(db: string): string[] {
  return [
    `CREATE DATABASE IF NOT EXISTS ${db}`,
    `CREATE TABLE IF NOT EXISTS ${db}.schema_migrations (version UInt32, name String, checksum String, applied_at DateTime) ENGINE = MergeTree ORDER BY version`,
  ];
}

/**
 * Applies the migrations not applied yet, in order. On a cluster, schema_migrations is replicated like every
 * table (a Distributed table over a Replicated one): a migration ON CLUSTER changes every server at once, so
 * every server must know it is applied. A record per server would let a later run through another server
 * apply 003's ADD COLUMN again (and fail), and two records could disagree after a run that stopped half-way.
 */
export async function migrate(
  engine: ClickHouseEngine,
  database: string,
  options: MigrateOptions = {},
): Promise<MigrationReport> {
  const db = identifier(database);
  const migrations = options.migrations ?? loadMigrations(database);
  const servers = options.servers ?? [engine];
  const target = options.cluster === undefined ? undefined : { database, cluster: options.cluster };
  // Every statement is placed before any runs: one the cluster cannot take fails here, with nothing changed.
  const placed = migrations.map((m) => {
    try {
      return { migration: m, statements: placeStatements(m.statements, target) };
    } catch (err) {
      throw new CicloError('CONFIG_INVALID', `migration ${migrationLabel(m)}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  });
  if (target !== undefined) await checkCluster(engine, servers, target.cluster);
  await checkMigrationsTable(engine, database, options.cluster);

  const run = async (statement: PlacedStatement, label: string): Promise<void> => {
    for (const server of statement.on === 'once' ? [engine] : servers) {
      try {
        await server.command(statement.sql);
      } catch (err) {
        throw new CicloError(
          'SERVICE_UNREACHABLE',
          `${label} failed on ${server.name}: ${(err as Error).message.split('\n')[0]}`,
          { cause: err },
        );
      }
    }
  };
  for (const statement of placeStatements(bootstrapStatements(db), target))
    await run(statement, 'creating the database');
  const rows = await engine.query<{ version: number | string; checksum: string }>(
    `SELECT version, checksum FROM ${db}.schema_migrations`,
  );
  const done = new Map(rows.map((r) => [Number(r.version), r.checksum]));
  const applied: string[] = [];
  const alreadyApplied: string[] = [];
  for (const { migration: m, statements } of placed) {
    const label = migrationLabel(m);
    const recorded = done.get(m.version);
    if (recorded !== undefined) {
      if (recorded !== m.checksum) {
        throw new CicloError(
          'CONFIG_INVALID',
          `migration ${label} changed after it was applied (checksum ${recorded} -> ${m.checksum}): add a new migration instead`,
        );
      }
      alreadyApplied.push(label);
      continue;
    }
    for (const statement of statements) await run(statement, `migration ${label}`);
    // On a cluster, into the Replicated table on this server: it holds the row when the insert returns, and
    // ZooKeeper copies it to the others.
    await engine.insert(
      `${db}.${target === undefined ? 'schema_migrations' : localTableOf('schema_migrations')}`,
      [{ version: m.version, name: m.name, checksum: m.checksum, applied_at: formatDateTime(new Date()) }],
    );
    applied.push(label);
  }
  return { applied, alreadyApplied };
}

/** The cluster as the servers see it: fails with every problem clusterProblems finds. */
async function checkCluster(
  engine: ClickHouseEngine,
  servers: readonly ClickHouseEngine[],
  cluster: string,
): Promise<void> {
  const members = await engine.query<ClusterMemberRow>(
    `SELECT shard_num, replica_num, host_name, port FROM system.clusters WHERE cluster = ${stringLiteral(cluster)}`,
  );
  const macros: ServerMacros[] = [];
  for (const server of servers) {
    const rows = await server.query<{ macro: string; substitution: string }>(
      'SELECT macro, substitution FROM system.macros',
    );
    macros.push({
      server: server.name,
      macros: Object.fromEntries(rows.map((r) => [r.macro, r.substitution])),
    });
  }
  const problems = clusterProblems(cluster, members, macros);
  if (problems.length > 0)
    throw new CicloError(
      'CONFIG_INVALID',
      `cannot migrate ON CLUSTER ${cluster} through ${engine.name}: ${problems.join('; ')}`,
    );
}

/** Refuses to go on with a database migrated the other way (migrationsTableProblem). */
async function checkMigrationsTable(
  engine: ClickHouseEngine,
  database: string,
  cluster: string | undefined,
): Promise<boolean> {
  const [row] = await engine.query<MigrationsTableRow>(
    `SELECT engine, engine_full FROM system.tables WHERE database = ${stringLiteral(database)} AND name = 'schema_migrations'`,
  );
  const problem = migrationsTableProblem(database, row, cluster);
  if (problem !== undefined) throw new CicloError('CONFIG_INVALID', problem);
  return row !== undefined;
}

/**
 * Migrates the configured ClickHouse: ON CLUSTER when a cluster is given or configured, with a connection to
 * each of the configured URLs (every server of the cluster); else on the first server.
 */
export async function migrateConfigured(
  clickhouse: ServiceEndpoints['clickhouse'],
  options: { readonly cluster?: string; readonly database?: string } = {},
): Promise<MigrationReport> {
  const cluster = options.cluster ?? clickhouse.cluster;
  const urls = cluster === undefined ? [clickhouse.url] : clickhouse.urls;
  // An ON CLUSTER statement waits for every server up to distributed_ddl_task_timeout (180 s by default),
  // then fails naming the servers that did not answer: a longer wait here lets that error through.
  const servers = urls.map((url) => connectClickHouseServer({ url, requestTimeoutMs: 200_000 }));
  try {
    return await migrate(
      servers[0]!,
      options.database ?? clickhouse.database,
      cluster === undefined ? {} : { cluster, servers },
    );
  } finally {
    await Promise.all(servers.map((s) => s.close()));
  }
}

/** Drops a database ciclo migrated, from every server of its cluster when it has one. */
export function dropDatabaseSql(database: string, cluster: string | undefined): string {
  return `DROP DATABASE IF EXISTS ${identifier(database)}${cluster === undefined ? '' : ` ON CLUSTER ${identifier(cluster)}`}`;
}

export interface PendingOptions {
  /** The cluster the database is expected on; a database migrated otherwise is an error. */
  readonly cluster?: string;
  readonly migrations?: readonly Migration[];
}

/**
 * The migrations not yet applied to `database` (labels, in order; none when it is up to date). For
 * writers such as the projector, which check before they insert rather than migrate themselves: two
 * projectors starting at once would run the same ALTER twice. Throws when the database was migrated on one
 * server and a cluster is expected, or the other way round.
 */
export async function pendingMigrations(
  engine: ClickHouseEngine,
  database: string,
  options: PendingOptions = {},
): Promise<string[]> {
  const db = identifier(database);
  const migrations = options.migrations ?? loadMigrations(database);
  const done = (await checkMigrationsTable(engine, database, options.cluster))
    ? new Set(
        (await engine.query<{ version: number | string }>(`SELECT version FROM ${db}.schema_migrations`)).map(
          (r) => Number(r.version),
        ),
      )
    : new Set<number>();
  return migrations.filter((m) => !done.has(m.version)).map(migrationLabel);
}

function formatDateTime(d: Date): string {
  return d.toISOString().slice(0, 19).replace('T', ' ');
}
