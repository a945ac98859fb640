/**
 * The collector's HTTP service (fastify), what `ciclo collect` runs: it composes the routes of each way in
 * on one port (Segment-compatible calls under /v1 from ../collector, provider webhooks under /webhooks from
 * ../webhooks, the browser snippet from ../snippet) and adds what they share: request ids, logging, the
 * reply format for framework errors, the counters, GET /health and GET /metrics. The routes are thin: they authenticate,
 * stamp receivedAt, hand the body to the pure mappings and the touchpoints to Kafka (../edge/publish.ts),
 * and turn outcomes into answers.
 *
 * Consumes: HTTP requests. Produces: touchpoints to `ciclo.touchpoints`, keyed by customer, Avro-encoded.
 * Guarantee: 202 only once Kafka (idempotent producer, acks=all) has every event of the request; a request
 * with any invalid event is 400 and produces nothing; 503 with Retry-After when Kafka cannot take them.
 * Nothing is ever answered 2xx that might be lost; a retried request maps to the same eventIds.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import {
  DEFAULT_HTTP_SERVER_TIMEOUTS,
  fastifyTimeoutOptions,
  type HttpServerTimeouts,
} from '../../infra/http-timeouts';
import type { MessageProducer } from '../../infra/kafka/producer';
import type { Logger } from '../../infra/log';
import { createMetrics, type Metrics } from '../../infra/metrics/registry';
import { deadLetterTopicFor, TOPICS } from '../../schemas/topics';
import type { CollectorConfig } from '../collector/config';
import { segmentRoutes } from '../collector/routes';
import { createCounters } from '../edge/counters';
import type { TouchpointSink } from '../edge/publish';
import type { TouchpointPrivacy } from '../../infra/privacy/personal-data';
import { replyError } from '../edge/replies';
import { SNIPPET_ROUTE, snippetHandler } from '../snippet/serve';
import { configuredProviders, webhooksConfig, type WebhooksConfig } from '../webhooks/config';
import { webhookRoutes } from '../webhooks/routes';
import { healthHandler, type KafkaStatus } from './health';
import { metricsHandler, registerCollectorMetrics } from './metrics';

export interface CollectorDeps {
  readonly config: CollectorConfig;
  /** Provider secrets and the installation's secret; without it every webhook answers 401. */
  readonly webhooks?: WebhooksConfig;
  readonly producer: MessageProducer;
  /** The touchpoint serde, created (and its schema registered) at startup; see TouchpointSink. */
  readonly serde: TouchpointSink['serde'];
  readonly log: Logger;
  /** Milliseconds since the epoch; stamps receivedAt and checks webhook timestamps. */
  readonly clock: () => number;
  /** Kafka connectivity for GET /health, when the caller can tell. */
  readonly kafkaStatus?: () => Promise<KafkaStatus>;
  /** Defaults to TOPICS.touchpoints.name; the collector's dead letters go to `<topic>.dlq` (deadLetterTopicFor). */
  readonly topic?: string;
  /** The topic's partition count (a link goes to every partition); TOPICS.touchpoints.partitions unless given. */
  readonly partitions?: number;
  /** The built browser snippet served at GET /snippet/ciclo.min.js; defaults to dist/snippet/ciclo.min.js. */
  readonly snippetFile?: string;
  /** How long a client may take (../../infra/http-timeouts.ts); the defaults unless given. */
  readonly timeouts?: HttpServerTimeouts;
  /** Where GET /metrics reads from (the counters are added to it); a registry of its own unless given. */
  readonly metrics?: Metrics;
  /** Suppression and sealing of personal fields (infra/privacy/); startCollector always passes it. */
  readonly privacy?: TouchpointPrivacy;
}

/** A caller's X-Request-Id when it is a plain token, else a new UUID; it labels every log line (`reqId`). */
export function requestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && /^[A-Za-z0-9._:-]{1,64}$/.test(given) ? given : randomUUID();
}

/** Requests in logs: method and URL only, never the client's address or headers (personal data). */
function requestSummary(req: { method?: string; url?: string }): Record<string, unknown> {
  return { method: req.method, url: req.url };
}

/**
 * Framework errors (body too large, unreadable JSON or compression, wrong media type) in the collector's
 * reply format; an error that names the rule it broke (`rule`, as the collector's body decoding does) keeps it.
 */
function handleError(
  error: FastifyError & { rule?: unknown },
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  const status = error.statusCode ?? 500;
  if (status === 413) return replyError(reply, 'BODY_TOO_LARGE', { detail: error.message });
  if (status === 415) return replyError(reply, 'UNSUPPORTED_MEDIA_TYPE', { detail: error.message });
  if (status >= 400 && status < 500) {
    return replyError(reply, 'INVALID_REQUEST', {
      problems: [
        {
          path: '',
          rule:
            typeof error.rule === 'string'
              ? error.rule
              : error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY'
                ? 'empty_body'
                : 'invalid_json',
          message: error.message,
        },
      ],
    });
  }
  request.log.error({ err: error }, 'request failed');
  return replyError(reply, 'INTERNAL');
}

/**
 * The HTTP service with every route, not yet listening: `await app.listen({ port, host })` serves it,
 * `app.inject()` tests it, `app.close()` stops accepting and waits for requests in flight.
 */
export function buildCollector(deps: CollectorDeps): FastifyInstance {
  // No provider is configured then, so no delivery is mapped and this secret keys nothing.
  const webhooks = deps.webhooks ?? webhooksConfig({ pseudonymSecret: randomBytes(32) });
  const log = deps.log.child({ component: 'collector' }, { serializers: { req: requestSummary } });
  const loggerInstance: FastifyBaseLogger = log;
  const app = fastify({
    loggerInstance,
    genReqId: requestId,
    requestIdHeader: false,
    bodyLimit: Math.max(deps.config.bodyLimitBytes, webhooks.bodyLimitBytes),
    return503OnClosing: true,
    ...fastifyTimeoutOptions(deps.timeouts ?? DEFAULT_HTTP_SERVER_TIMEOUTS),
  });
  const counters = createCounters();
  const sink: TouchpointSink = {
    producer: deps.producer,
    serde: deps.serde,
    sendTimeoutMs: deps.config.sendTimeoutMs,
    partitions: deps.partitions ?? TOPICS.touchpoints.partitions,
    deadLetterTopic: deadLetterTopicFor(deps.topic ?? TOPICS.touchpoints.name),
    ...(deps.topic !== undefined ? { topic: deps.topic } : {}),
    ...(deps.privacy ? { privacy: deps.privacy } : {}),
  };

  app.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    done();
  });
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((_request, reply) => replyError(reply, 'NOT_FOUND'));

  app.get(
    '/health',
    healthHandler({
      config: deps.config,
      counters,
      log,
      ...(deps.kafkaStatus ? { kafkaStatus: deps.kafkaStatus } : {}),
    }),
  );

  const metrics = deps.metrics ?? createMetrics();
  registerCollectorMetrics(metrics, counters);
  app.get('/metrics', metricsHandler({ config: deps.config, metrics }));

  app.get(SNIPPET_ROUTE, snippetHandler(deps.snippetFile));
  void app.register(segmentRoutes, { prefix: '/v1', config: deps.config, sink, clock: deps.clock, counters });
  void app.register(webhookRoutes, {
    prefix: '/webhooks',
    config: webhooks,
    sink,
    clock: deps.clock,
    retryAfterSeconds: deps.config.retryAfterSeconds,
    counters,
    urlQueryAllowlist: deps.config.urlQueryAllowlist,
  });

  app.addHook('onReady', (done) => {
    const providers = configuredProviders(webhooks);
    log.info(
      { sources: [...new Set([...deps.config.writeKeys.values()].map((s) => s.name))], webhooks: providers },
      'collector ready',
    );
    if (deps.config.writeKeys.size === 0)
      log.warn('no write keys configured (CICLO_WRITE_KEYS): every /v1 call gets 401');
    done();
  });
  return app;
}
