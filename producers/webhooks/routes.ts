/**
 * Provider webhooks over HTTP: POST /webhooks/stripe, /webhooks/sendgrid, /webhooks/typeform. Each request
 * body is kept as raw bytes (this plugin's own content-type parser), the provider's signature is verified
 * over those bytes, and only then is the JSON parsed and mapped (stripe.ts, sendgrid.ts, typeform.ts).
 *
 * Consumes: signed provider deliveries. Produces: touchpoints to `ciclo.touchpoints` (../edge/publish.ts).
 * Guarantee: 202 only after Kafka has acknowledged every touchpoint of the delivery; a bad or missing
 * signature is 401 and an invalid payload 400, both producing nothing; 503 when Kafka cannot take them, so
 * the provider retries. Redeliveries map to the same eventIds.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Counters } from '../edge/counters';
import type { QueryAllowlist } from '../edge/url-minimization';
import { createLogGate, UNAUTHORIZED_LOG_INTERVAL_MS } from '../edge/log-gate';
import { publishTouchpoints, type TouchpointSink } from '../edge/publish';
import { replyError, replyPublished } from '../edge/replies';
import type { WebhookProvider, WebhooksConfig } from './config';
import type { WebhookContext, WebhookMapping } from './outcome';
import { mapSendgridDelivery } from './sendgrid';
import {
  verifySendgridSignature,
  verifyStripeSignature,
  verifyTypeformSignature,
  type Verification,
} from './signatures';
import { mapStripeEvent } from './stripe';
import { mapTypeformEvent } from './typeform';

export interface WebhookRoutesOptions {
  readonly config: WebhooksConfig;
  readonly sink: TouchpointSink;
  readonly clock: () => number;
  readonly retryAfterSeconds: number;
  readonly counters: Counters;
  /** Query parameters a link keeps besides `utm_*`: the collector's (CICLO_URL_QUERY_ALLOWLIST). */
  readonly urlQueryAllowlist: QueryAllowlist;
}

interface Provider {
  verify(request: FastifyRequest, rawBody: Buffer, nowMs: number): Verification;
  map(body: unknown, ctx: WebhookContext): WebhookMapping;
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' ? value : undefined;
}

function providers(config: WebhooksConfig): Record<WebhookProvider, Provider> {
  return {
    stripe: {
      verify: (request, rawBody, nowMs) =>
        verifyStripeSignature({
          rawBody,
          header: header(request, 'stripe-signature'),
          secrets: config.stripe.secrets,
          nowMs,
          toleranceSeconds: config.toleranceSeconds,
        }),
      map: mapStripeEvent,
    },
    sendgrid: {
      verify: (request, rawBody, nowMs) =>
        verifySendgridSignature({
          rawBody,
          signature: header(request, 'x-twilio-email-event-webhook-signature'),
          timestamp: header(request, 'x-twilio-email-event-webhook-timestamp'),
          publicKeys: config.sendgrid.publicKeys,
          nowMs,
          toleranceSeconds: config.toleranceSeconds,
        }),
      map: mapSendgridDelivery,
    },
    typeform: {
      verify: (request, rawBody) =>
        verifyTypeformSignature({
          rawBody,
          header: header(request, 'typeform-signature'),
          secrets: config.typeform.secrets,
        }),
      map: mapTypeformEvent,
    },
  };
}

export function webhookRoutes(
  app: FastifyInstance,
  options: WebhookRoutesOptions,
  done: (err?: Error) => void,
): void {
  const { config, sink, clock, counters } = options;
  const unauthorizedLog = createLogGate(UNAUTHORIZED_LOG_INTERVAL_MS);
  // Signatures are over the exact bytes received: keep every body as a Buffer in this plugin's scope.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    '*',
    { parseAs: 'buffer', bodyLimit: config.bodyLimitBytes },
    (_request, body, done) => {
      done(null, body);
    },
  );

  for (const [name, provider] of Object.entries(providers(config)) as [WebhookProvider, Provider][]) {
    app.post(
      `/${name}`,
      { bodyLimit: config.bodyLimitBytes },
      async (request: FastifyRequest, reply: FastifyReply) => {
        const receivedAt = clock();
        const rawBody = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        const verification = provider.verify(request, rawBody, receivedAt);
        if (!verification.ok) {
          counters.unauthorized += 1;
          // Anyone can post a bad signature: logged at most once per interval, as the collector's 401s are.
          const gate = unauthorizedLog.pass(receivedAt);
          if (gate.log)
            request.log.warn(
              { provider: name, reason: verification.reason, notLogged: gate.suppressed },
              'webhook signature rejected',
            );
          return replyError(reply, 'SIGNATURE_INVALID', { detail: verification.reason });
        }
        let body: unknown;
        try {
          body = JSON.parse(rawBody.toString('utf8'));
        } catch {
          counters.invalid += 1;
          return replyError(reply, 'INVALID_REQUEST', {
            problems: [{ path: '', rule: 'invalid_json', message: 'the body is not valid JSON' }],
          });
        }
        const mapped = provider.map(body, {
          receivedAt,
          pseudonymSecret: config.pseudonymSecret,
          urlQueryAllowlist: options.urlQueryAllowlist,
        });
        if (!mapped.ok) {
          counters.invalid += 1;
          request.log.warn({ provider: name, problems: mapped.problems.length }, 'webhook payload rejected');
          return replyError(reply, 'INVALID_REQUEST', { problems: mapped.problems });
        }
        counters.received += mapped.touchpoints.length + mapped.ignored.length;
        counters.ignored += mapped.ignored.length;
        if (mapped.ignored.length > 0) {
          request.log.info({ provider: name, ignored: mapped.ignored }, 'webhook events ignored');
        }
        const eventIds = mapped.touchpoints.map((tp) => tp.eventId);
        if (mapped.touchpoints.length === 0) {
          return reply.code(200).send({ success: true, accepted: 0, eventIds, ignored: mapped.ignored });
        }
        const outcome = await publishTouchpoints(sink, mapped.touchpoints);
        if (outcome.ok) {
          counters.produced += outcome.produced;
          counters.suppressed += outcome.suppressed;
          request.log.info({ provider: name, produced: outcome.produced }, 'webhook touchpoints produced');
        } else {
          counters.unavailable += mapped.touchpoints.length;
          request.log.error(
            { provider: name, reason: outcome.reason, error: outcome.error },
            'webhook touchpoints not produced',
          );
        }
        return replyPublished(reply, outcome, eventIds, options.retryAfterSeconds, {
          ignored: mapped.ignored,
        });
      },
    );
  }
  done();
}
