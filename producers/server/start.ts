/**
 * Starts the collector as a running service: the touchpoint serde registered, an idempotent producer
 * (acks from all in-sync replicas), the fastify app listening. Used by `ciclo collect`, the demo and the
 * collector benchmark, so all three run exactly the same code path.
 */
import { CicloError, errorMessage } from '../../infra/errors';
import type { ServiceEndpoints } from '../../infra/config';
import type { HttpServerTimeouts } from '../../infra/http-timeouts';
import { describeKafkaCluster } from '../../infra/kafka/health';
import { connectTopicAdmin, partitionCountOf } from '../../infra/kafka/admin';
import { checkDurability } from '../../infra/kafka/durability-check';
import { connectProducer } from '../../infra/kafka/producer';
import type { Logger } from '../../infra/log';
import { createMetrics } from '../../infra/metrics/registry';
import { createAvroRegistry } from '../../infra/registry/schema-registry';
import { CONTRACTS } from '../../schemas/contracts';
import { createSerde } from '../../infra/registry/serde';
import { redactUrl } from '../../infra/url-credentials';
import { deadLetterTopicFor, TOPICS, valueSubject } from '../../schemas/topics';
import { connectPrivacy } from '../../infra/privacy/connect';
import type { WebhooksConfig } from '../webhooks/config';
import type { CollectorConfig } from '../collector/config';
import type { KafkaStatus } from './health';
import { buildCollector } from './server';

export interface RunningCollector {
  /** e.g. http://127.0.0.1:8090 */
  readonly url: string;
  /** Refuses new requests, lets those in flight finish, then closes the producer. */
  stop(): Promise<void>;
}

/** Kafka reachability for GET /health, remembered for a few seconds so probes do not open a connection each. */
function cachedKafkaStatus(brokers: readonly string[], ttlMs = 5000): () => Promise<KafkaStatus> {
  let last: { at: number; status: Promise<KafkaStatus> } | undefined;
  return () => {
    const now = Date.now();
    if (!last || now - last.at > ttlMs) {
      last = {
        at: now,
        status: describeKafkaCluster(brokers, 2000).then(
          (c) => ({ up: true, detail: `${c.brokerCount} broker(s), cluster ${c.clusterId}` }),
          (err: unknown) => ({ up: false, detail: errorMessage(err) }),
        ),
      };
    }
    return last.status;
  };
}

export async function startCollector(options: {
  endpoints: ServiceEndpoints;
  config: CollectorConfig;
  webhooks: WebhooksConfig;
  log: Logger;
  port: number;
  host: string;
  /** The touchpoint topic; defaults to TOPICS.touchpoints.name (benchmarks use one of their own). */
  topic?: string;
  /** How long a client may take; DEFAULT_HTTP_SERVER_TIMEOUTS unless given. */
  timeouts?: HttpServerTimeouts;
}): Promise<RunningCollector> {
  const { endpoints, log } = options;
  const topic = options.topic ?? TOPICS.touchpoints.name;
  // The schema is registered (idempotently) before the first request, so a registry problem stops here.
  const serde = await createSerde(
    createAvroRegistry(endpoints.schemaRegistry.url),
    CONTRACTS.touchpoint,
    valueSubject(topic),
  ).catch((err: unknown) => {
    if (err instanceof CicloError) throw err;
    throw new CicloError(
      'SERVICE_UNREACHABLE',
      `schema registry at ${redactUrl(endpoints.schemaRegistry.url)}: ${errorMessage(err)} (is the stack up? \`ciclo stack status\`)`,
      { retriable: true, cause: err },
    );
  });
  const producer = await connectProducer({
    brokers: endpoints.kafka.brokers,
    clientId: 'ciclo-collector',
    log: log.child({ component: 'kafka' }),
  }).catch((err: unknown) => {
    throw new CicloError(
      'SERVICE_UNREACHABLE',
      `Kafka at ${endpoints.kafka.brokers.join(',')}: ${errorMessage(err)}`,
      {
        retriable: true,
        cause: err,
      },
    );
  });
  const partitions = await partitionCountOf(endpoints.kafka.brokers, topic);
  // Invalid calls go there; checked now rather than answered 503 at the first one.
  await partitionCountOf(endpoints.kafka.brokers, deadLetterTopicFor(topic));
  // A 202 promises the event is kept: a topic that would lose it with a broker says so now.
  const admin = await connectTopicAdmin(endpoints.kafka.brokers);
  await checkDurability(admin, [topic, deadLetterTopicFor(topic)], log).finally(() => admin.close());
  // The suppression list and key ring, read whole before the first request.
  const privacy = await connectPrivacy({
    brokers: endpoints.kafka.brokers,
    touchpointTopic: topic,
    secret: options.webhooks.pseudonymSecret,
    clientId: 'ciclo-collector',
    writable: true,
    log: log.child({ component: 'privacy' }),
  }).catch(async (err: unknown) => {
    await producer.close();
    throw new CicloError('SERVICE_UNREACHABLE', `Kafka's privacy topics: ${errorMessage(err)}`, {
      retriable: true,
      cause: err,
    });
  });
  const app = buildCollector({
    partitions,
    config: options.config,
    webhooks: options.webhooks,
    producer,
    serde,
    log,
    clock: Date.now,
    kafkaStatus: cachedKafkaStatus(endpoints.kafka.brokers),
    topic,
    ...(options.timeouts ? { timeouts: options.timeouts } : {}),
    metrics: createMetrics({ processMetrics: true }),
    privacy: privacy.privacy,
  });
  try {
    await app.listen({ port: options.port, host: options.host });
  } catch (err) {
    await app.close();
    await producer.close();
    await privacy.close();
    if ((err as { code?: unknown }).code === 'EADDRINUSE')
      throw new CicloError(
        'PORT_TAKEN',
        `port ${options.port} on ${options.host} is taken: choose another with --port`,
        {
          cause: err,
        },
      );
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const host = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    async stop() {
      try {
        await app.close();
      } finally {
        await producer.close();
        await privacy.close();
      }
    },
  };
}
