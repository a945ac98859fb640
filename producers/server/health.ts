/**
 * The collector's GET /health. Anyone may ask whether it can take events, and learns only that:
 * `200 {"status":"ok"}`, or `503 {"status":"degraded"}` while Kafka cannot be reached. The endpoint is as
 * public as the snippet's write key, so it says nothing more: Kafka's error text names brokers, hosts and
 * addresses, and the counters disclose a shop's traffic. A request with a server write key (a source not
 * in CICLO_SNIPPET_SOURCES, sent as for /v1) gets the details too: Kafka's state and the counters. Kafka's
 * error is logged when its state changes (not at every probe), so operators see it without asking.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorMessage } from '../../infra/errors';
import type { Logger } from '../../infra/log';
import type { CollectorConfig } from '../collector/config';
import { writeKeyFrom } from '../collector/routes';
import type { Counters } from '../edge/counters';

export interface KafkaStatus {
  readonly up: boolean;
  readonly detail?: string;
}

export interface HealthOptions {
  readonly config: CollectorConfig;
  readonly counters: Counters;
  /** Kafka connectivity, when the caller can tell; without it the collector reports ok. */
  readonly kafkaStatus?: () => Promise<KafkaStatus>;
  readonly log: Logger;
}

/**
 * Whether the request carries a write key of a server source (not a browser snippet's public key): who may
 * see the collector's counters, here and on GET /metrics.
 */
export function fromServerKey(request: FastifyRequest, config: CollectorConfig): boolean {
  const key = writeKeyFrom(request.headers.authorization, undefined);
  return key !== undefined && config.writeKeys.get(key)?.kind === 'api';
}

export function healthHandler(
  options: HealthOptions,
): (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply> {
  let lastUp: boolean | undefined;
  const kafkaNow = async (): Promise<KafkaStatus | undefined> => {
    if (!options.kafkaStatus) return undefined;
    let kafka: KafkaStatus;
    try {
      kafka = await options.kafkaStatus();
    } catch (err) {
      kafka = { up: false, detail: errorMessage(err) };
    }
    if (!kafka.up && lastUp !== false) options.log.warn({ kafka: kafka.detail }, 'Kafka unreachable');
    if (kafka.up && lastUp === false) options.log.info({ kafka: kafka.detail }, 'Kafka reachable again');
    lastUp = kafka.up;
    return kafka;
  };
  return async (request, reply) => {
    void reply.header('cache-control', 'no-store');
    const kafka = await kafkaNow();
    const up = kafka?.up ?? true;
    const status = up ? 'ok' : 'degraded';
    const answer = fromServerKey(request, options.config)
      ? { status, ...(kafka ? { kafka } : {}), counters: options.counters }
      : { status };
    return reply.code(up ? 200 : 503).send(answer);
  };
}
