/**
 * What a dashboard panel shows when its query fails or its request is refused (access.ts): a closed list of
 * codes, each with an HTTP status and, where the fix is known, a hint. Pure, so the mapping from ClickHouse
 * and network errors is unit-tested.
 */
import { CicloError, errorMessage } from '../../infra/errors';

export const DASHBOARD_ERRORS = {
  BAD_QUERY: { status: 400, hint: 'check the model and the from/to dates (yyyy-mm-dd)' },
  CLICKHOUSE_UNREACHABLE: {
    status: 503,
    hint: 'is ClickHouse running? `ciclo stack status` shows it, `ciclo stack up` starts it',
  },
  NOT_MIGRATED: { status: 503, hint: 'run `ciclo migrate` to create the tables' },
  QUERY_FAILED: { status: 500, hint: undefined },
  TOKEN_REQUIRED: {
    status: 401,
    hint: 'open the dashboard as `http://<host>:<port>/#token=<CICLO_DASHBOARD_TOKEN>`, or enter the token',
  },
  HOST_NOT_ALLOWED: {
    status: 403,
    hint: 'open it by a name it answers to, or add the name to CICLO_DASHBOARD_HOSTS',
  },
} as const;

export type DashboardErrorCode = keyof typeof DASHBOARD_ERRORS;

export interface DashboardError {
  readonly code: DashboardErrorCode;
  readonly status: number;
  readonly message: string;
  readonly hint?: string;
}

/** Socket-level failures: ClickHouse is not there (or not answering), as opposed to refusing a query. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
  'UND_ERR_SOCKET',
]);
/** ClickHouse server error codes meaning our database or tables are not there yet. */
const MISSING_CODES = new Set(['60', '81']); // UNKNOWN_TABLE, UNKNOWN_DATABASE

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' || typeof code === 'number') return String(code);
  // 18.16 words its errors "Code: 81, e.displayText() = ...", which the client does not parse into a code.
  return err instanceof Error ? /^Code: (\d+)[,.]/.exec(err.message)?.[1] : undefined;
}

function isNetworkError(err: unknown): boolean {
  if (NETWORK_CODES.has(codeOf(err) ?? '')) return true;
  // Node's happy-eyeballs connect reports every address it tried in one AggregateError.
  if (err instanceof AggregateError) return err.errors.some(isNetworkError);
  // @clickhouse/client rejects a request that got no answer in time with this message.
  if (err instanceof Error && /timeout error|socket hang up/i.test(err.message)) return true;
  const cause = (err as { cause?: unknown } | null)?.cause;
  return cause !== undefined && cause !== err && isNetworkError(cause);
}

export function toDashboardError(err: unknown, database: string): DashboardError {
  const make = (code: DashboardErrorCode, message: string): DashboardError => {
    const { status, hint } = DASHBOARD_ERRORS[code];
    return { code, status, message, ...(hint ? { hint } : {}) };
  };
  if (err instanceof CicloError && err.code === 'CONFIG_INVALID') return make('BAD_QUERY', err.message);
  if (isNetworkError(err))
    return make(
      'CLICKHOUSE_UNREACHABLE',
      `ClickHouse cannot be reached: ${errorMessage(err) || codeOf(err)}`,
    );
  const code = codeOf(err);
  if (code !== undefined && MISSING_CODES.has(code))
    return make(
      'NOT_MIGRATED',
      `database "${database}" lacks the tables the projector writes (ClickHouse error ${code})`,
    );
  return make('QUERY_FAILED', `ClickHouse query failed: ${errorMessage(err)}`);
}
