/**
 * Segment-compatible calls over HTTP: POST /v1/track, /identify, /page, /screen, /alias, /group and /batch.
 * Each request is decompressed when sent so (encoding.ts), authenticated by its write key, held to the key's
 * rate limit (rate-limit.ts), stamped with receivedAt, judged call by call (request.ts), and its touchpoints
 * and dead letters handed to Kafka (../edge/publish.ts) all at once; answer.ts words the answer.
 *
 * Consumes: Segment calls (JSON, or text/plain as analytics.js sends beacons; plain, gzip or deflate).
 * Produces: touchpoints to `ciclo.touchpoints`, and each invalid call, as sent, with every problem to
 * `ciclo.touchpoints.dlq`. Guarantee: a 2xx, 400 or 403 only once Kafka has every touchpoint and dead
 * letter of the request (a forbidden call is written nowhere); 503 with Retry-After when Kafka cannot take
 * them; 401 (no key, unknown key), 413 (too large) and 429 (rate limit, with Retry-After) keep nothing. A
 * retried request maps to the same eventIds.
 */
import cors from '@fastify/cors';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errorMessage } from '../../infra/errors';
import type { OutgoingMessage } from '../../infra/kafka/types';
import { callDeadLetterOf } from '../../schemas/outputs';
import type { Counters } from '../edge/counters';
import { createLogGate, UNAUTHORIZED_LOG_INTERVAL_MS } from '../edge/log-gate';
import { publishTouchpoints, type TouchpointSink } from '../edge/publish';
import { replyError, replyPublished } from '../edge/replies';
import { answerTo } from './answer';
import type { CollectorConfig } from './config';
import { bodyEncodingOf, bodyError, decodedBody } from './encoding';
import { createRateLimiter } from './rate-limit';
import { callCount, judgeSegmentRequest, MAX_BATCH_CALLS, type SegmentRoute } from './request';
import { ANY_CALL_TYPES } from './segment';

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

export interface SegmentRoutesOptions {
  readonly config: CollectorConfig;
  readonly sink: TouchpointSink;
  readonly clock: () => number;
  readonly counters: Counters;
}

export async function segmentRoutes(app: FastifyInstance, options: SegmentRoutesOptions): Promise<void> {
  const { config, sink, clock, counters } = options;
  const limiter = createRateLimiter(config.rateLimit);
  const unauthorizedLog = createLogGate(UNAUTHORIZED_LOG_INTERVAL_MS);
  // Browser snippets call from other origins; their write keys are public by design (as Segment's are).
  await app.register(cors, {
    origin: config.corsOrigins === true ? true : [...config.corsOrigins],
    methods: ['POST'],
    allowedHeaders: ['Content-Type', 'Content-Encoding', 'Authorization', 'X-Request-Id'],
    // The snippet reads Retry-After on 429/503 to back off as asked; it is not a CORS-safelisted header.
    exposedHeaders: ['Retry-After', 'X-Request-Id'],
    maxAge: 86400,
  });
  // Compressed bodies are decompressed before parsing; the body limit then applies to what they inflate to.
  app.addHook('preParsing', (request, reply, payload, done) => {
    const encoding = bodyEncodingOf(request.headers['content-encoding']);
    if (encoding === undefined) {
      // Answered here: fastify runs nothing further for a request whose reply is sent.
      void replyError(reply, 'UNSUPPORTED_ENCODING', {
        detail: `Content-Encoding ${String(request.headers['content-encoding'])} is not read here`,
      });
      done(null, payload);
      return;
    }
    done(null, encoding === 'identity' ? payload : decodedBody(payload, encoding));
  });
  // analytics.js sends JSON as text/plain (navigator.sendBeacon, and to avoid a CORS preflight).
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch (err) {
      done(bodyError(400, 'invalid_json', `the body is not valid JSON: ${errorMessage(err)}`), undefined);
    }
  });

  for (const route of [...ANY_CALL_TYPES, 'batch'] as const) {
    app.post(
      `/${route}`,
      { bodyLimit: config.bodyLimitBytes },
      async (request: FastifyRequest, reply: FastifyReply) => {
        const receivedAt = clock();
        const calls = callCount(route, request.body);
        const key = writeKeyFrom(request.headers.authorization, request.body);
        const source = key === undefined ? undefined : config.writeKeys.get(key);
        if (key === undefined || !source) {
          counters.unauthorized += calls;
          const gate = unauthorizedLog.pass(receivedAt);
          if (gate.log)
            request.log.warn(
              { route, key: key === undefined ? 'missing' : 'unknown', notLogged: gate.suppressed },
              'request without a valid write key',
            );
          return replyError(reply, 'UNAUTHORIZED', {
            detail:
              key === undefined
                ? 'send the write key as the Basic auth user name, or as writeKey in the body'
                : 'the write key belongs to no configured source',
          });
        }
        if (calls > MAX_BATCH_CALLS)
          return replyError(reply, 'BODY_TOO_LARGE', {
            detail: `a batch may carry up to ${MAX_BATCH_CALLS} calls; this one has ${calls}: split it`,
          });
        const rate = limiter.take(key, calls, receivedAt);
        if (!rate.allowed) {
          counters.rateLimited += calls;
          request.log.debug({ source: source.name, route, calls }, 'rate limited');
          return replyError(reply, 'RATE_LIMITED', {
            detail: `source "${source.name}" may send ${config.rateLimit?.callsPerSecond ?? 0} calls a second`,
            retryAfterSeconds: rate.retryAfterSeconds,
          });
        }
        return collect(route, request, reply, source, receivedAt);
      },
    );
  }

  async function collect(
    route: SegmentRoute,
    request: FastifyRequest,
    reply: FastifyReply,
    source: { readonly name: string; readonly kind: 'api' | 'snippet' },
    receivedAt: number,
  ): Promise<FastifyReply> {
    const judged = judgeSegmentRequest(route, request.body, {
      source,
      receivedAt,
      defaultCurrency: config.defaultCurrency,
      urlQueryAllowlist: config.urlQueryAllowlist,
      ipRetention: config.ipRetention,
    });
    if (!judged.ok) {
      counters.invalid += callCount(route, request.body);
      request.log.warn({ source: source.name, route, problems: judged.problems.length }, 'request rejected');
      return replyError(reply, 'INVALID_REQUEST', {
        detail: 'the body is not a Segment request; nothing of it was kept',
        problems: judged.problems,
      });
    }
    const deadLetters: OutgoingMessage[] = [];
    let forbidden = 0;
    let ignored = 0;
    for (const v of judged.verdicts) {
      if (v.kind === 'invalid')
        deadLetters.push(
          callDeadLetterOf(v.call, {
            problems: v.problems,
            sender: source.name,
            at: v.at,
            failedAt: receivedAt,
          }),
        );
      else if (v.kind === 'forbidden') forbidden += 1;
      else if (v.kind === 'ignored') ignored += 1;
    }
    const { touchpoints, clamped } = judged;
    counters.received += judged.verdicts.length;
    counters.invalid += deadLetters.length;
    counters.forbidden += forbidden;
    counters.ignored += ignored;
    if (forbidden > 0)
      request.log.warn({ source: source.name, route, forbidden }, 'calls forbidden for the write key');

    const outcome = await publishTouchpoints(sink, touchpoints, deadLetters);
    if (!outcome.ok) {
      counters.unavailable += touchpoints.length + deadLetters.length;
      request.log.error(
        { source: source.name, route, reason: outcome.reason, error: outcome.error },
        'touchpoints not produced',
      );
      return replyPublished(reply, outcome, [], config.retryAfterSeconds);
    }
    counters.produced += outcome.produced;
    counters.suppressed += outcome.suppressed;
    counters.deadLettered += deadLetters.length;
    // Counted once produced: a request Kafka refused is retried, and would be counted twice.
    counters.clamped[source.kind] += clamped.length;
    for (const c of clamped) {
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
    if (deadLetters.length > 0)
      request.log.warn(
        { source: source.name, route, deadLettered: deadLetters.length, calls: judged.verdicts.length },
        'invalid calls dead-lettered',
      );
    request.log.info(
      {
        source: source.name,
        route,
        produced: outcome.produced,
        suppressed: outcome.suppressed,
        clamped: clamped.length,
      },
      'touchpoints produced',
    );
    const answer = answerTo(judged.verdicts);
    return reply.code(answer.status).send(answer.body);
  }
}
