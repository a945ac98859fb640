/**
 * Configuration of the service endpoints, parsed from the environment once at the entry point and passed
 * down. Nothing else in ciclo reads process.env. When an endpoint is given, ciclo uses that real service
 * and `ciclo stack` leaves it alone; when it is not, ciclo runs its own native service on loopback.
 */
import path from 'node:path';
import { z } from 'zod';
import { CicloError } from './errors';
import { endpointsOf, readStackShape } from './stack/shape';

/** The native registry serves the Confluent API under this path; a Confluent or Karapace URL works the same. */
export const DEFAULT_SCHEMA_REGISTRY_URL = 'http://127.0.0.1:8081/api/v1/confluent';

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
  /** One server, or every replica of a cluster, comma-separated: clients fail over from one to the next. */
  CLICKHOUSE_URL: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((u) => u.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.url('each URL must be http(s)://host:port')).min(1))
    .optional(),
  /** The cluster (remote_servers) of an external ClickHouse: migrations run ON CLUSTER, tables are Distributed. */
  CLICKHOUSE_CLUSTER: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
    .optional(),
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
  readonly clickhouse: {
    /** The first of `urls`: where a client starts. */
    readonly url: string;
    /** Every server a client may use: the replicas of a cluster, or the one server. */
    readonly urls: readonly string[];
    readonly database: string;
    /** Set for a replicated ClickHouse: the cluster name for ON CLUSTER and Distributed tables. */
    readonly cluster?: string;
    readonly external: boolean;
  };
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
  const home = path.resolve(e.CICLO_HOME ?? path.join(projectRoot, '.ciclo'));
  // The services ciclo runs itself are wherever `ciclo stack up` last put them (infra/stack/shape.ts).
  const stack = endpointsOf(readStackShape(home));
  const clickhouseUrls = e.CLICKHOUSE_URL ?? stack.clickhouseUrls;
  const clickhouseCluster =
    e.CLICKHOUSE_CLUSTER ?? (e.CLICKHOUSE_URL === undefined ? stack.clickhouseCluster : undefined);
  return Object.freeze({
    endpoints: Object.freeze({
      kafka: { brokers: e.KAFKA_BROKERS ?? stack.kafkaBrokers, external: e.KAFKA_BROKERS !== undefined },
      schemaRegistry: {
        url: e.SCHEMA_REGISTRY_URL ?? stack.schemaRegistryUrl,
        external: e.SCHEMA_REGISTRY_URL !== undefined,
      },
      clickhouse: {
        url: clickhouseUrls[0] as string,
        urls: clickhouseUrls,
        database: e.CLICKHOUSE_DATABASE,
        ...(clickhouseCluster !== undefined ? { cluster: clickhouseCluster } : {}),
        external: e.CLICKHOUSE_URL !== undefined,
      },
    }),
    home,
    logLevel: e.CICLO_LOG_LEVEL,
    ...(e.CICLO_PSEUDONYM_SECRET !== undefined ? { pseudonymSecret: e.CICLO_PSEUDONYM_SECRET } : {}),
  });
}
