/**
 * Versioned SQL migrations: files NNN_name.sql in ./sql, applied in order, each recorded in
 * {{db}}.schema_migrations with a checksum. Idempotent: applied versions are skipped; an applied file that
 * changed afterwards is an error (write a new migration instead). The same files run on Debian's
 * ClickHouse 18.16 and on modern ClickHouse (chdb), through the ClickHouseEngine interface.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ClickHouseEngine } from '../../infra/clickhouse/engine';
import { CicloError } from '../../infra/errors';
import { identifier, stringLiteral } from '../sql';

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

export async function migrate(
  engine: ClickHouseEngine,
  database: string,
  migrations = loadMigrations(database),
): Promise<MigrationReport> {
  const db = identifier(database);
  await engine.command(`CREATE DATABASE IF NOT EXISTS ${db}`);
  await engine.command(
    `CREATE TABLE IF NOT EXISTS ${db}.schema_migrations (version UInt32, name String, checksum String, applied_at DateTime) ENGINE = MergeTree ORDER BY version`,
  );
  const rows = await engine.query<{ version: number | string; checksum: string }>(
    `SELECT version, checksum FROM ${db}.schema_migrations`,
  );
  const done = new Map(rows.map((r) => [Number(r.version), r.checksum]));
  const applied: string[] = [];
  const alreadyApplied: string[] = [];
  for (const m of migrations) {
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
    for (const statement of m.statements) {
      try {
        await engine.command(statement);
      } catch (err) {
        throw new CicloError(
          'SERVICE_UNREACHABLE',
          `migration ${label} failed on ${engine.name}: ${(err as Error).message.split('\n')[0]}`,
          { cause: err },
        );
      }
    }
    await engine.insert(`${db}.schema_migrations`, [
      { version: m.version, name: m.name, checksum: m.checksum, applied_at: formatDateTime(new Date()) },
    ]);
    applied.push(label);
  }
  return { applied, alreadyApplied };
}

/**
 * The migrations not yet applied to `database` (labels, in order; none when it is up to date). For
 * writers such as the projector, which check before they insert rather than migrate themselves: two
 * projectors starting at once would run the same ALTER twice.
 */
export async function pendingMigrations(
  engine: ClickHouseEngine,
  database: string,
  migrations = loadMigrations(database),
): Promise<string[]> {
  const db = identifier(database);
  const tables = await engine.query<{ name: string }>(
    `SELECT name FROM system.tables WHERE database = ${stringLiteral(database)} AND name = 'schema_migrations'`,
  );
  const done =
    tables.length === 0
      ? new Set<number>()
      : new Set(
          (
            await engine.query<{ version: number | string }>(`SELECT version FROM ${db}.schema_migrations`)
          ).map((r) => Number(r.version)),
        );
  return migrations.filter((m) => !done.has(m.version)).map(migrationLabel);
}

function formatDateTime(d: Date): string {
  return d.toISOString().slice(0, 19).replace('T', ' ');
}
