/**
 * The collector's HTTP service (fastify): Segment-compatible calls under /v1, provider webhooks under
 * /webhooks, GET /health. Thin: it authenticates, stamps receivedAt, hands the body to the pure mappings
 * (mapping.ts, webhooks/*) and the touchpoints to Kafka (publish.ts), and turns outcomes into answers.
 *
 * Consumes: HTTP requests. Produces: touchpoints to `ciclo.touchpoints`, keyed by customer, Avro-encoded.
 * Guarantee: 202 only once Kafka (idempotent producer, acks=all) has every event of the request; a request
 * with any invalid event is 400 and produces nothing; 503 with Retry-After when Kafka cannot take them.
 * Nothing is ever answered 2xx that might be lost; a retried request maps to the same eventIds.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import cors from '@fastify/cors';
import fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { errorMessage } from '../../infra/errors';
import type { MessageProducer } from '../../infra/kafka/producer';
import { TOPICS } from '../../schemas/topics';
import type { Logger } from '../../infra/log';
import { SNIPPET_ROUTE, snippetHandler } from '../snippet/serve';
import { configuredProviders, webhooksConfig, type WebhooksConfig } from '../webhooks/config';
import { webhookRoutes } from '../webhooks/routes';
import type { CollectorConfig } from './config';
import { createCounters, type Counters } from './counters';
import { mapSegmentRequest } from './mapping';
import { publishTouchpoints, type TouchpointSink } from './publish';
import { replyError, replyPublished } from './replies';
import { SEGMENT_CALL_TYPES, type SegmentCallType } from './segment';

export interface KafkaStatus {
  readonly up: boolean;
  readonly detail?: string;
}

export interface CollectorDeps {
  readonly config: CollectorConfig;
  /** Provider secrets; without it every webhook answers 401. */
  readonly webhooks?: WebhooksConfig;
  readonly producer: MessageProducer;
  /** The touchpoint serde, created (and its schema registered) at startup; see TouchpointSink. */
  readonly serde: TouchpointSink['serde'];
  readonly log: Logger;
  /** Milliseconds since the epoch; stamps receivedAt and checks webhook timestamps. */
  readonly clock: () => number;
  /** Kafka connectivity for GET /health, when the caller can tell. */
  readonly kafkaStatus?: () => Promise<KafkaStatus>;
  /** Defaults to TOPICS.touchpoints.name. */
  readonly topic?: string;
  /** The topic's partition count (a link goes to every partition); TOPICS.touchpoints.partitions unless given. */
  readonly partitions?: number;
  /** The built browser snippet served at GET /snippet/ciclo.min.js; defaults to dist/snippet/ciclo.min.js. */
  readonly snippetFile?: string;
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
 * Segment's HTTP API takes the write key as the Basic auth user name (password empty), or as `writeKey`
 * in the body.
 */
export function writeKeyFrom(authorization: string | undefined, body: unknown): string | undefined {
  if (authorization && /^basic\s+/i.test(authorization)) {
    const decoded = Buffer.from(authorization.replace(/^basic\s+/i, '').trim(), 'base64').toString('utf8');
    const user = decoded.includes(':') ? decoded.slice(0, decoded.indexOf(':')) : decoded;
    if (user) return user;
  }
  if (body !== null && typeof body === 'object' && !Array.isArray(body)) {
    const key = (body as Record<string, unknown>).writeKey;
    if (typeof key === 'string' && key) return key;
  }
  return undefined;
}

function eventCount(route: SegmentCallType | 'batch', body: unknown): number {
  if (route !== 'batch') return 1;
  const batch = body !== null && typeof body === 'object' ? (body as { batch?: unknown }).batch : undefined;
  return Array.isArray(batch) ? batch.length : 0;
}

interface SegmentRoutesOptions {
  readonly config: CollectorConfig;
  readonly sink: TouchpointSink;
  readonly clock: () => number;
  readonly counters: Counters;
}

async function segmentRoutes(app: FastifyInstance, options: SegmentRoutesOptions): Promise<void> {
  const { config, sink, clock, counters } = options;
  // Browser snippets call from other origins; their write keys are public by design (as Segment's are).
  await app.register(cors, {
    origin: config.corsOrigins === true ? true : [...config.corsOrigins],
    methods: ['POST'],
    allowedHeaders: ['Content-Type', 'Authorization', 'X-Request-Id'],
    // The snippet reads Retry-After on 429/503 to back off as asked; it is not a CORS-safelisted header.
    exposedHeaders: ['Retry-After', 'X-Request-Id'],
    maxAge: 86400,
  });
  // analytics.js sends JSON as text/plain (navigator.sendBeacon, and to avoid a CORS preflight).
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch (err) {
      done(
        Object.assign(new Error(`the body is not valid JSON: ${errorMessage(err)}`), { statusCode: 400 }),
        undefined,
      );
    }
  });

  for (const route of [...SEGMENT_CALL_TYPES, 'batch'] as const) {
    app.post(
      `/${route}`,
      { bodyLimit: config.bodyLimitBytes },
      async (request: FastifyRequest, reply: FastifyReply) => {
        const receivedAt = clock();
        const key = writeKeyFrom(request.headers.authorization, request.body);
        const source = key === undefined ? undefined : config.writeKeys.get(key);
        if (!source) {
          counters.unauthorized += eventCount(route, request.body);
          return replyError(reply, 'UNAUTHORIZED', {
            detail:
              key === undefined
                ? 'send the write key as the Basic auth user name, or as writeKey in the body'
                : 'the write key belongs to no configured source',
          });
        }
        const mapped = mapSegmentRequest(route, request.body, {
          source,
          receivedAt,
          defaultCurrency: config.defaultCurrency,
        });
        const count = eventCount(route, request.body);
        if (!mapped.ok) {
          counters.invalid += count;
          request.log.warn(
            { source: source.name, route, events: count, problems: mapped.problems.length },
            'request rejected',
          );
          return replyError(reply, 'INVALID_REQUEST', {
            detail: `${mapped.problems.length} problem(s) in ${count} event(s); none of them was produced`,
            problems: mapped.problems,
          });
        }
        counters.received += mapped.value.length;
        const outcome = await publishTouchpoints(sink, mapped.value);
        if (outcome.ok) {
          counters.produced += outcome.produced;
          // Counted once produced: a request Kafka refused is retried, and would be counted twice.
          counters.clamped[source.kind] += mapped.clamped.length;
          for (const c of mapped.clamped) {
            request.log.debug(
              {
                source: source.name,
                kind: source.kind,
                route,
                call: c.path,
                eventId: c.eventId,
                timestamp: c.timestamp,
                sentAt: c.sentAt,
                correctedAt: c.correctedAt,
                receivedAt,
                occurredAt: c.occurredAt,
                reason: c.reason,
              },
              'event time clamped',
            );
          }
          request.log.info(
            { source: source.name, route, produced: outcome.produced, clamped: mapped.clamped.length },
            'touchpoints produced',
          );
        } else {
          counters.unavailable += mapped.value.length;
          request.log.error(
            { source: source.name, route, reason: outcome.reason, error: outcome.error },
            'touchpoints not produced',
          );
        }
        return replyPublished(
          reply,
          outcome,
          mapped.value.map((tp) => tp.eventId),
          config.retryAfterSeconds,
        );
      },
    );
  }
}

/** Framework errors (body too large, unreadable JSON, wrong media type) in the collector's reply format. */
function handleError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const status = error.statusCode ?? 500;
  if (status === 413) return replyError(reply, 'BODY_TOO_LARGE', { detail: error.message });
  if (status === 415) return replyError(reply, 'UNSUPPORTED_MEDIA_TYPE', { detail: error.message });
  if (status >= 400 && status < 500) {
    return replyError(reply, 'INVALID_REQUEST', {
      problems: [
        {
          path: '',
          rule: error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ? 'empty_body' : 'invalid_json',
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
  const webhooks = deps.webhooks ?? webhooksConfig();
  const log = deps.log.child({ component: 'collector' }, { serializers: { req: requestSummary } });
  const loggerInstance: FastifyBaseLogger = log;
  const app = fastify({
    loggerInstance,
    genReqId: requestId,
    requestIdHeader: false,
    bodyLimit: Math.max(deps.config.bodyLimitBytes, webhooks.bodyLimitBytes),
    return503OnClosing: true,
  });
  const counters = createCounters();
  const sink: TouchpointSink = {
    producer: deps.producer,
    serde: deps.serde,
    sendTimeoutMs: deps.config.sendTimeoutMs,
    partitions: deps.partitions ?? TOPICS.touchpoints.partitions,
    ...(deps.topic !== undefined ? { topic: deps.topic } : {}),
  };

  app.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    done();
  });
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((_request, reply) => replyError(reply, 'NOT_FOUND'));

  app.get('/health', async (_request, reply) => {
    if (!deps.kafkaStatus) return reply.send({ status: 'ok', counters });
    let kafka: KafkaStatus;
    try {
      kafka = await deps.kafkaStatus();
    } catch (err) {
      kafka = { up: false, detail: errorMessage(err) };
    }
    return reply
      .code(kafka.up ? 200 : 503)
      .send({ status: kafka.up ? 'ok' : 'unavailable', kafka, counters });
  });

  app.get(SNIPPET_ROUTE, snippetHandler(deps.snippetFile));
  void app.register(segmentRoutes, { prefix: '/v1', config: deps.config, sink, clock: deps.clock, counters });
  void app.register(webhookRoutes, {
    prefix: '/webhooks',
    config: webhooks,
    sink,
    clock: deps.clock,
    retryAfterSeconds: deps.config.retryAfterSeconds,
    counters,
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
