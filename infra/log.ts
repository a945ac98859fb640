/**
 * One pino root logger; components take a child with their name. Logs go to stderr so that command output
 * on stdout stays machine-readable. Personal data is redacted wherever it appears in a logged object.
 */
import pino, { type Logger } from 'pino';

export type { Logger };

export const REDACTED_PATHS = [
  '*.email',
  '*.*.email',
  '*.traits.email',
  '*.traits.name',
  '*.traits.phone',
  '*.context.ip',
  '*.ip',
  '*.userAgent',
  '*.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'writeKey',
  '*.writeKey',
];

export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  return pino(
    {
      name: options.name ?? 'ciclo',
      level: options.level ?? 'info',
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    },
    pino.destination(2),
  );
}
