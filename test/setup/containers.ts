/**
 * The same three services from official images, for machines with a Docker engine. Kafka gets a fixed host
 * port chosen up front because its advertised listener must name the port clients dial.
 */
import {
  GenericContainer,
  Network,
  Wait,
  getContainerRuntimeClient,
  type StartedTestContainer,
} from 'testcontainers';
import type { CicloConfig } from '../../infra/config';
import { STACK_VERSIONS } from '../../infra/stack/versions';
import type { ProvisionedServices } from './services';
import { freePort } from '../../infra/stack/processes';

export async function dockerAvailable(): Promise<boolean> {
  try {
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

export async function startContainers(config: CicloConfig): Promise<ProvisionedServices> {
  const network = await new Network().start();
  const kafkaPort = await freePort();
  const started: StartedTestContainer[] = [];
  try {
    const kafka = await new GenericContainer(`apache/kafka:${STACK_VERSIONS.kafka}`)
      .withNetwork(network)
      .withNetworkAliases('kafka')
      .withExposedPorts({ container: 9092, host: kafkaPort })
      .withEnvironment({
        KAFKA_NODE_ID: '1',
        KAFKA_PROCESS_ROLES: 'broker,controller',
        KAFKA_LISTENERS: 'PLAINTEXT://0.0.0.0:9092,INTERNAL://0.0.0.0:19092,CONTROLLER://0.0.0.0:9093',
        KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${kafkaPort},INTERNAL://kafka:19092`,
        KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT',
        KAFKA_INTER_BROKER_LISTENER_NAME: 'INTERNAL',
        KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
        KAFKA_CONTROLLER_QUORUM_VOTERS: '1@kafka:9093',
        KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
        KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
        KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
        KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
        KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      })
      .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
      .start();
    started.push(kafka);

    const clickhouse = await new GenericContainer('clickhouse/clickhouse-server:25.8')
      .withExposedPorts(8123)
      .withEnvironment({ CLICKHOUSE_SKIP_USER_SETUP: '1' })
      .withWaitStrategy(Wait.forHttp('/ping', 8123))
      .start();
    started.push(clickhouse);

    // Karapace (the Confluent-compatible registry the native stack cannot install here) keeps schemas in Kafka.
    const registry = await new GenericContainer(STACK_VERSIONS.karapaceImage)
      .withNetwork(network)
      .withExposedPorts(8081)
      .withCommand(['/bin/bash', '/opt/karapace/start.sh', 'registry'])
      .withEnvironment({
        KARAPACE_ADVERTISED_HOSTNAME: 'schema-registry',
        KARAPACE_BOOTSTRAP_URI: 'kafka:19092',
        KARAPACE_HOST: '0.0.0.0',
        KARAPACE_PORT: '8081',
        KARAPACE_CLIENT_ID: 'karapace',
        KARAPACE_GROUP_ID: 'karapace-registry',
        KARAPACE_MASTER_ELIGIBILITY: 'true',
        KARAPACE_TOPIC_NAME: '_schemas',
        KARAPACE_COMPATIBILITY: 'BACKWARD',
      })
      .withWaitStrategy(Wait.forHttp('/subjects', 8081))
      .start();
    started.push(registry);

    return {
      source: 'testcontainers',
      endpoints: {
        kafka: { brokers: [`127.0.0.1:${kafkaPort}`], external: true },
        schemaRegistry: {
          url: `http://${registry.getHost()}:${registry.getMappedPort(8081)}`,
          external: true,
        },
        clickhouse: {
          url: `http://${clickhouse.getHost()}:${clickhouse.getMappedPort(8123)}`,
          urls: [`http://${clickhouse.getHost()}:${clickhouse.getMappedPort(8123)}`],
          database: config.endpoints.clickhouse.database,
          external: true,
        },
      },
      release: async () => {
        for (const c of started.reverse()) await c.stop();
        await network.stop();
      },
    };
  } catch (err) {
    for (const c of started.reverse()) await c.stop().catch(() => undefined);
    await network.stop().catch(() => undefined);
    throw err;
  }
}
