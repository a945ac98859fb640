/**
 * Where the integration tests find their real services, in this order:
 * 1. the services named by KAFKA_BROKERS, SCHEMA_REGISTRY_URL and CLICKHOUSE_URL, if they all answer;
 * 2. containers from the official images through testcontainers, when a Docker engine is reachable;
 * 3. ciclo's own native stack (`ciclo stack up`).
 * If none can be had, setup fails and says why: integration tests never skip.
 */
import path from 'node:path';
import { loadConfig, type CicloConfig, type ServiceEndpoints } from '../../infra/config';
import { createStack } from '../../infra/stack/stack';
import { dockerAvailable, startContainers } from './containers';

export const PROJECT_ROOT = path.resolve(__dirname, '..', '..');

export interface ProvisionedServices {
  readonly endpoints: ServiceEndpoints;
  readonly source: 'configured' | 'testcontainers' | 'native-stack';
  /** Undo what provisioning started (containers, or a stack this run brought up). */
  readonly release: () => Promise<void>;
}

const say = (line: string): void => void process.stderr.write(`[services] ${line}\n`);

export async function provisionServices(env: NodeJS.ProcessEnv): Promise<ProvisionedServices> {
  const config = loadConfig(env, PROJECT_ROOT);
  const reasons: string[] = [];

  const configured = [
    config.endpoints.kafka.external,
    config.endpoints.schemaRegistry.external,
    config.endpoints.clickhouse.external,
  ];
  if (configured.every(Boolean)) {
    const reports = await createStack(config).status();
    const down = reports.filter((r) => !r.health.healthy);
    if (down.length === 0) {
      say('using the configured services');
      return { endpoints: config.endpoints, source: 'configured', release: async () => {} };
    }
    reasons.push(
      `configured services not answering: ${down.map((r) => `${r.name} at ${r.address} (${r.health.detail ?? ''})`).join('; ')}`,
    );
  }

  if (await dockerAvailable()) {
    say('starting containers with testcontainers');
    return startContainers(config);
  }
  reasons.push('no Docker engine reachable for testcontainers');

  return startNativeStack(config, reasons);
}

async function startNativeStack(config: CicloConfig, reasons: string[]): Promise<ProvisionedServices> {
  const localConfig = loadConfig(
    { CICLO_HOME: config.home, CLICKHOUSE_DATABASE: config.endpoints.clickhouse.database },
    PROJECT_ROOT,
  );
  const stack = createStack(localConfig);
  const before = await stack.status();
  const wasUp = before.every((r) => r.health.healthy);
  say(`${reasons.join('; ')}: using the native stack (${wasUp ? 'already up' : 'starting it'})`);
  try {
    await stack.up(say);
  } catch (err) {
    throw new Error(
      `integration tests need Kafka, a Schema Registry and ClickHouse, and none could be had:\n- ${reasons.join('\n- ')}\n- native stack failed: ${(err as Error).message}`,
      { cause: err },
    );
  }
  return {
    endpoints: localConfig.endpoints,
    source: 'native-stack',
    // A stack that was already up stays up; one this run started stops in CI, stays up for the next local run.
    release: async () => {
      if (!wasUp && process.env.CI) await stack.down(say);
    },
  };
}

export function endpointsToEnv(endpoints: ServiceEndpoints): Record<string, string> {
  return {
    KAFKA_BROKERS: endpoints.kafka.brokers.join(','),
    SCHEMA_REGISTRY_URL: endpoints.schemaRegistry.url,
    CLICKHOUSE_URL: endpoints.clickhouse.urls.join(','),
    CLICKHOUSE_DATABASE: endpoints.clickhouse.database,
    ...(endpoints.clickhouse.cluster !== undefined
      ? { CLICKHOUSE_CLUSTER: endpoints.clickhouse.cluster }
      : {}),
  };
}
