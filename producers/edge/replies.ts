/**
 * Every answer the collector and the webhooks give, from one closed list of codes with a fixed message
 * each, so clients and logs can rely on `code` rather than on wording. Bodies are JSON:
 * `{ success: true, accepted, eventIds }` or `{ success: false, code, message, produced: 0, problems? }`.
 */
import type { FastifyReply } from 'fastify';
import type { ValidationProblem } from '../../schemas/validation';
import type { PublishOutcome } from './publish';

export const REPLY_CODES = {
  INVALID_REQUEST: { status: 400, message: 'the request has problems; no event in it was produced' },
  UNAUTHORIZED: { status: 401, message: 'missing or unknown write key' },
  SIGNATURE_INVALID: { status: 401, message: 'missing or invalid webhook signature; nothing was produced' },
  FORBIDDEN: { status: 403, message: 'the write key may not send these calls; nothing of them was written' },
  NOT_FOUND: { status: 404, message: 'no such route' },
  BODY_TOO_LARGE: { status: 413, message: 'request body is larger than the limit; nothing was produced' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'send JSON (application/json or text/plain)' },
  UNSUPPORTED_ENCODING: {
    status: 415,
    message: 'send the body as it is, or with Content-Encoding gzip or deflate',
  },
  RATE_LIMITED: {
    status: 429,
    message: 'too many calls for this write key; nothing was produced, retry later',
  },
  INTERNAL: { status: 500, message: 'internal error; nothing was produced' },
  UNAVAILABLE: { status: 503, message: 'Kafka could not take the events; nothing was accepted, retry later' },
} as const;

export type ReplyCode = keyof typeof REPLY_CODES;

export interface ErrorBody {
  readonly success: false;
  readonly code: ReplyCode;
  readonly message: string;
  readonly produced: 0;
  readonly detail?: string;
  readonly problems?: readonly { readonly path: string; readonly rule: string; readonly message: string }[];
}

export function errorBody(
  code: ReplyCode,
  extra: { detail?: string; problems?: readonly ValidationProblem[] } = {},
): ErrorBody {
  return {
    success: false,
    code,
    message: REPLY_CODES[code].message,
    produced: 0,
    ...(extra.detail !== undefined ? { detail: extra.detail } : {}),
    ...(extra.problems
      ? { problems: extra.problems.map((p) => ({ path: p.path, rule: p.rule, message: p.message })) }
      : {}),
  };
}

export function replyError(
  reply: FastifyReply,
  code: ReplyCode,
  extra: { detail?: string; problems?: readonly ValidationProblem[]; retryAfterSeconds?: number } = {},
): FastifyReply {
  if (extra.retryAfterSeconds !== undefined)
    void reply.header('retry-after', String(extra.retryAfterSeconds));
  return reply.code(REPLY_CODES[code].status).send(errorBody(code, extra));
}

/**
 * The answer to a publish: 202 with the event ids once Kafka has them, 503 with Retry-After when it could
 * not take them, 500 when the serde refused what the edge had validated.
 */
export function replyPublished(
  reply: FastifyReply,
  outcome: PublishOutcome,
  eventIds: readonly string[],
  retryAfterSeconds: number,
  extra: Readonly<Record<string, unknown>> = {},
): FastifyReply {
  if (outcome.ok)
    return reply.code(202).send({ success: true, accepted: outcome.produced, eventIds, ...extra });
  if (outcome.reason === 'unavailable') return replyError(reply, 'UNAVAILABLE', { retryAfterSeconds });
  return replyError(reply, 'INTERNAL');
}
