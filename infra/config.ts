/**
 * Configuration of the service endpoints, parsed from the environment once at the entry point and passed
 * down. Nothing else in ciclo reads process.env. When an endpoint is given, ciclo uses that real service
 * and `ciclo stack` leaves it alone; when it is not, ciclo runs its own native service on loopback.
 */
import path from 'node:path';
import { z } from 'zod';
import { CicloError } from './errors';

export const DEFAULT_KAFKA_BROKERS = '127.0.0.1:9092';
/** The native registry serves the Confluent API under this path; a Confluent or Karapace URL works the same. */
export const DEFAULT_SCHEMA_REGISTRY_URL = 'http://127.0.0.1:8081/api/v1/confluent';
export const DEFAULT_CLICKHOUSE_URL = 'http://127.0.0.1:8123';

const brokerList = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((b) => b.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.string().regex(/^[^:\s]+:\d+$/, 'each broker must be host:port')).min(1));

const EnvSchema = z.object({
  KAFKA_BROKERS: brokerList.optional(),
  SCHEMA_REGISTRY_URL: z.url().optional(),
  CLICKHOUSE_URL: z.url().optional(),
  CLICKHOUSE_DATABASE: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
    .default('ciclo'),
  CICLO_HOME: z.string().optional(),
  CICLO_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Base64 of the installation's secret (infra/privacy/installation-secret.ts); else a file in CICLO_HOME. */
  CICLO_PSEUDONYM_SECRET: z.string().min(1).optional(),
});

export interface ServiceEndpoints {
  readonly kafka: { readonly brokers: readonly string[]; readonly external: boolean };
  readonly schemaRegistry: { readonly url: string; readonly external: boolean };
  readonly clickhouse: { readonly url: string; readonly database: string; readonly external: boolean };
}

export interface CicloConfig {
  readonly endpoints: ServiceEndpoints;
  /** Where `ciclo stack` keeps installs, data and logs (gitignored). */
  readonly home: string;
  readonly logLevel: string;
  /** The installation's secret as configured (base64), if it is; else it lives in `home`. */
  readonly pseudonymSecret?: string;
}

export function loadConfig(env: NodeJS.ProcessEnv, projectRoot: string): CicloConfig {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new CicloError('CONFIG_INVALID', `invalid environment:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  return Object.freeze({
    endpoints: Object.freeze({
      kafka: { brokers: e.KAFKA_BROKERS ?? [DEFAULT_KAFKA_BROKERS], external: e.KAFKA_BROKERS !== undefined },
      schemaRegistry: {
        url: e.SCHEMA_REGISTRY_URL ?? DEFAULT_SCHEMA_REGISTRY_URL,
        external: e.SCHEMA_REGISTRY_URL !== undefined,
      },
      clickhouse: {
        url: e.CLICKHOUSE_URL ?? DEFAULT_CLICKHOUSE_URL,
        database: e.CLICKHOUSE_DATABASE,
        external: e.CLICKHOUSE_URL !== undefined,
      },
    }),
    home: path.resolve(e.CICLO_HOME ?? path.join(projectRoot, '.ciclo')),
    logLevel: e.CICLO_LOG_LEVEL,
    ...(e.CICLO_PSEUDONYM_SECRET !== undefined ? { pseudonymSecret: e.CICLO_PSEUDONYM_SECRET } : {}),
  });
}
