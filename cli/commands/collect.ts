/**
 * `ciclo collect [--port 8090] [--host 127.0.0.1]`: the HTTP collector (Segment-compatible /v1 API) and the
 * provider webhooks, producing touchpoints to Kafka. Reads its own variables (CICLO_WRITE_KEYS,
 * CICLO_WEBHOOK_SECRETS, ...; see producers/collector/README.md) from the environment here, once. Stops on
 * SIGINT/SIGTERM: no new requests, requests in flight finish, then the producer is closed.
 */
import type { Command } from 'commander';
import type { CicloConfig } from '../../infra/config';
import { CicloError, errorMessage } from '../../infra/errors';
import { describeKafkaCluster } from '../../infra/kafka/health';
import { connectProducer } from '../../infra/kafka/producer';
import { createLogger } from '../../infra/log';
import { createAvroRegistry } from '../../infra/registry/schema-registry';
import { CONTRACTS } from '../../schemas/contracts';
import { createSerde } from '../../schemas/serde';
import { TOPICS, valueSubject } from '../../schemas/topics';
import { loadCollectorConfig } from '../../producers/collector/config';
import { buildCollector, type KafkaStatus } from '../../producers/collector/server';
import { loadWebhooksConfig } from '../../producers/webhooks/config';

const say = (line: string): void => void process.stdout.write(`${line}\n`);

function parsePort(raw: string): number {
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new CicloError('CONFIG_INVALID', `--port must be a port number (0-65535), got "${raw}"`);
  }
  return port;
}

function untilSignal(signals: readonly NodeJS.Signals[]): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      for (const s of signals) process.off(s, onSignal);
      resolve(signal);
    };
    for (const s of signals) process.on(s, onSignal);
  });
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

export function registerCollectCommand(program: Command, getConfig: () => CicloConfig): void {
  program
    .command('collect')
    .description(
      'run the HTTP collector (Segment-compatible API) and provider webhooks, producing touchpoints to Kafka',
    )
    .option('--port <port>', 'port to listen on', '8090')
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .action(async (opts: { port: string; host: string }) => {
      const port = parsePort(opts.port);
      const { endpoints, logLevel } = getConfig();
      const collectorConfig = loadCollectorConfig(process.env);
      const webhooks = loadWebhooksConfig(process.env);
      const log = createLogger({ level: logLevel, name: 'ciclo-collect' });

      // The schema is registered (idempotently) before the first request, so a registry problem stops here.
      const serde = await createSerde(
        createAvroRegistry(endpoints.schemaRegistry.url),
        CONTRACTS.touchpoint,
        valueSubject(TOPICS.touchpoints.name),
      ).catch((err: unknown) => {
        if (err instanceof CicloError) throw err;
        throw new CicloError(
          'SERVICE_UNREACHABLE',
          `schema registry at ${endpoints.schemaRegistry.url}: ${errorMessage(err)} (is the stack up? \`ciclo stack status\`)`,
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
          { retriable: true, cause: err },
        );
      });
      const app = buildCollector({
        config: collectorConfig,
        webhooks,
        producer,
        serde,
        log,
        clock: Date.now,
        kafkaStatus: cachedKafkaStatus(endpoints.kafka.brokers),
      });
      try {
        const address = await app.listen({ port, host: opts.host });
        say(
          `ciclo collector listening on ${address} (POST /v1/track|identify|page|screen|alias|batch, /webhooks/*)`,
        );
        const signal = await untilSignal(['SIGINT', 'SIGTERM']);
        log.info({ signal }, 'shutting down: refusing new requests, finishing those in flight');
      } finally {
        await app.close();
        await producer.close();
      }
      log.info('collector stopped');
    });
}
