/**
 * Segment-compatible calls over HTTP: POST /v1/track, /identify, /page, /screen, /alias and /batch. Each
 * request is authenticated by its write key, stamped with receivedAt, mapped by the pure mapping
 * (mapping.ts) and its touchpoints handed to Kafka (../edge/publish.ts) all at once.
 *
 * Consumes: Segment calls (JSON, or text/plain as analytics.js sends beacons). Produces: touchpoints to
 * `ciclo.touchpoints`. Guarantee: 202 only once Kafka has every event of the request; a request with any
 * invalid event is 400 and produces nothing; 503 with Retry-After when Kafka cannot take them. A retried
 * request maps to the same eventIds.
 */
import cors from '@fastify/cors';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errorMessage } from '../../infra/errors';
import type { Counters } from '../edge/counters';
import { publishTouchpoints, type TouchpointSink } from '../edge/publish';
import { replyError, replyPublished } from '../edge/replies';
import type { CollectorConfig } from './config';
import { mapSegmentRequest } from './mapping';
import { SEGMENT_CALL_TYPES, type SegmentCallType } from './segment';

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

export interface SegmentRoutesOptions {
  readonly config: CollectorConfig;
  readonly sink: TouchpointSink;
  readonly clock: () => number;
  readonly counters: Counters;
}

export async function segmentRoutes(app: FastifyInstance, options: SegmentRoutesOptions): Promise<void> {
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
