/**
 * Coded errors: every failure ciclo expects has a code from a closed list, says whether retrying can help,
 * and keeps its cause. Enumerable fields so pino logs them as JSON.
 */
export const ERROR_CODES = {
  CONFIG_INVALID: 'configuration is invalid',
  PREREQUISITE_MISSING: 'a prerequisite is missing',
  PORT_TAKEN: 'a port is taken by another process',
  SERVICE_UNHEALTHY: 'a service did not become healthy',
  SERVICE_UNREACHABLE: 'a service could not be reached',
  INSTALL_FAILED: 'installing a service failed',
  EVENT_INVALID: 'an event is invalid',
  SCHEMA_INCOMPATIBLE: 'a schema change is incompatible',
  DECODE_FAILED: 'a message could not be decoded',
  TIMEOUT: 'an operation timed out',
  COLLECTOR_REFUSED: 'the collector refused events',
  COLLECTOR_UNAVAILABLE: 'the collector did not accept events in time',
  DATA_CONFLICT: 'data already stored conflicts with this run',
  CHANGELOG_CORRUPT: "a record of the processor's changelog cannot be read",
  FILE_UNSAFE: 'a file ciclo would write is not safe to write (a link, or not a regular file)',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class CicloError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  override readonly cause: unknown;
  /** For errors from an HTTP service: its status and message. */
  readonly status?: number;
  readonly detail?: string;

  constructor(
    code: ErrorCode,
    message: string,
    options: { retriable?: boolean; cause?: unknown; status?: number; detail?: string } = {},
  ) {
    super(message);
    this.name = 'CicloError';
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.cause = options.cause;
    if (options.status !== undefined) this.status = options.status;
    if (options.detail !== undefined) this.detail = options.detail;
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message, retriable: this.retriable };
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
