/**
 * One small interface over two ClickHouse engines: a server over HTTP (@clickhouse/client; Debian's 18.16
 * or any modern server) and embedded chdb (ClickHouse 26.x in-process). Migrations and report queries run
 * on both, which is how we keep our SQL portable across eight years of ClickHouse.
 */
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { redactUrl } from '../url-credentials';

export interface ClickHouseEngine {
  /** Which engine, for messages: a server's URL without its password. */
  readonly name: string;
  /** DDL or any statement without a result. */
  command(sql: string): Promise<void>;
  /** Inserts rows as JSONEachRow. */
  insert(table: string, rows: readonly Record<string, unknown>[]): Promise<void>;
  /** Runs a SELECT and returns its rows. 64-bit integers arrive as strings (JSON-safe). */
  query<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  close(): Promise<void>;
}

export function connectClickHouseServer(options: {
  url: string;
  database?: string;
  requestTimeoutMs?: number;
}): ClickHouseEngine & { readonly client: ClickHouseClient } {
  const client = createClient({
    url: options.url,
    ...(options.database ? { database: options.database } : {}),
    request_timeout: options.requestTimeoutMs ?? 30_000,
    // Failures surface as errors to the caller, which decides what to log (e.g. the projector's backoff).
    log: { level: ClickHouseLogLevel.OFF },
    // 18.16 does not know newer settings; send none by default.
    clickhouse_settings: {},
  });
  return {
    name: `server ${redactUrl(options.url)}`,
    client,
    async command(sql) {
      await client.command({ query: sql });
    },
    async insert(table, rows) {
      if (rows.length === 0) return;
      await client.insert({ table, values: [...rows], format: 'JSONEachRow' });
    },
    async query<T>(sql: string) {
      const rs = await client.query({ query: sql, format: 'JSONEachRow' });
      return rs.json<T>();
    },
    close: () => client.close(),
  };
}
