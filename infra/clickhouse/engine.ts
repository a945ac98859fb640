/**
 * One small interface over two ClickHouse engines: a server over HTTP (@clickhouse/client; Debian's 18.16
 * or any modern server) and embedded chdb (ClickHouse 26.x in-process). Migrations and report queries run
 * on both, which is how we keep our SQL portable across eight years of ClickHouse.
 *
 * A server engine may be given every replica of a cluster: each call goes to the replica that answered
 * last, and moves on to the next one only when that one cannot be reached (refused, reset, no answer in
 * time). A SQL error is the server's answer and is never retried elsewhere. A call retried after a timeout
 * may have run on the first replica too: DDL here is IF [NOT] EXISTS, an insert of the same block into a
 * Replicated table is dropped as a duplicate (insert_deduplicate), and our tables are ReplacingMergeTree
 * read with FINAL, so a second copy does not count.
 */
import { ClickHouseError, ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { CicloError } from '../errors';
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

/**
 * Socket-level failures (the server is not there, or gave no answer), as opposed to an answer that refuses
 * the query. Node reports these by `code`; @clickhouse/client words a request that got no answer in time
 * "Timeout error." and Node a connection closed before the answer "socket hang up".
 */
const CONNECTION_FAILURE_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
]);

export function isConnectionFailure(err: unknown): boolean {
  if (err instanceof ClickHouseError) return false; // the server answered
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && CONNECTION_FAILURE_CODES.has(code)) return true;
  // Node's happy-eyeballs connect reports every address it tried in one AggregateError.
  if (err instanceof AggregateError) return err.errors.some(isConnectionFailure);
  if (err instanceof Error && /^(timeout error\.?|socket hang up)$/i.test(err.message)) return true;
  const cause = (err as { cause?: unknown } | null)?.cause;
  return cause !== undefined && cause !== err && isConnectionFailure(cause);
}

/** Targets tried one after another; the one that answered last is tried first (sticky). */
export interface Failover<T> {
  /** The target the next call goes to first. */
  readonly current: T;
  /**
   * Runs `call` on the current target; when it fails with an error `shouldTryNext` accepts, on each next
   * target once, in order, wrapping around. Any other error is thrown as it came; when every target
   * failed, the current target's error is (the one the caller was talking to).
   */
  run<R>(call: (target: T) => Promise<R>): Promise<R>;
}

export function failoverOver<T>(
  targets: readonly T[],
  shouldTryNext: (err: unknown) => boolean = isConnectionFailure,
): Failover<T> {
  if (targets.length === 0) throw new CicloError('CONFIG_INVALID', 'failover needs at least one target');
  let sticky = 0;
  const at = (i: number): T => targets[i % targets.length]!;
  return {
    get current() {
      return at(sticky);
    },
    async run(call) {
      const first = sticky;
      let firstFailure: unknown;
      for (let attempt = 0; ; attempt++) {
        const index = (first + attempt) % targets.length;
        try {
          const result = await call(at(index));
          sticky = index;
          return result;
        } catch (err) {
          if (!shouldTryNext(err)) throw err;
          if (attempt === 0) firstFailure = err;
          if (attempt + 1 >= targets.length) throw firstFailure;
        }
      }
    },
  };
}

export function connectClickHouseServer(options: {
  /** The server, or the replica to try first. */
  url: string;
  /** Every replica of a cluster (`url` is tried first whether listed or not). */
  urls?: readonly string[];
  database?: string;
  requestTimeoutMs?: number;
}): ClickHouseEngine & { readonly client: ClickHouseClient } {
  const urls = [...new Set([options.url, ...(options.urls ?? [])])];
  const clients = urls.map((url) =>
    createClient({
      url,
      ...(options.database ? { database: options.database } : {}),
      request_timeout: options.requestTimeoutMs ?? 30_000,
      // Failures surface as errors to the caller, which decides what to log (e.g. the projector's backoff).
      log: { level: ClickHouseLogLevel.OFF },
      // 18.16 does not know newer settings; send none by default.
      clickhouse_settings: {},
    }),
  );
  const replicas = failoverOver(clients);
  return {
    name: `server ${urls.map(redactUrl).join(', ')}`,
    /** The client of the replica the next call goes to first. */
    get client() {
      return replicas.current;
    },
    async command(sql) {
      await replicas.run((client) => client.command({ query: sql }));
    },
    async insert(table, rows) {
      if (rows.length === 0) return;
      await replicas.run((client) => client.insert({ table, values: [...rows], format: 'JSONEachRow' }));
    },
    query<T>(sql: string) {
      // The rows are read inside the call: a connection lost while they stream fails over too.
      return replicas.run(async (client) => {
        const rs = await client.query({ query: sql, format: 'JSONEachRow' });
        return rs.json<T>();
      });
    },
    async close() {
      await Promise.all(clients.map((client) => client.close()));
    },
  };
}
