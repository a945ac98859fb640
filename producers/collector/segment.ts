/**
 * The shapes of Segment's HTTP Tracking API calls, as ciclo accepts them
 * (https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/): track, identify, page,
 * screen, alias, group and batch, in JSON. Only the fields ciclo reads are checked here; unknown fields pass
 * through untouched (Segment libraries add their own, such as `_metadata` or `integrations`). What the
 * fields mean for ciclo is decided in mapping.ts.
 */
import { z } from 'zod';

/** The calls that become touchpoints (mapping.ts). */
export const SEGMENT_CALL_TYPES = ['track', 'identify', 'page', 'screen', 'alias'] as const;
export type SegmentCallType = (typeof SEGMENT_CALL_TYPES)[number];

/**
 * The calls ciclo accepts and records nowhere, answered 2xx and listed as ignored (README, "API"): `group`
 * ties a user to an account, which no stage model reads; Segment's libraries send it in the same batches
 * as the calls ciclo does read, and treat a 400 as final, so refusing it would lose those too.
 */
export const IGNORED_CALL_TYPES = ['group'] as const;
export type IgnoredCallType = (typeof IGNORED_CALL_TYPES)[number];

/** Every call type a request or a batch entry may have. */
export type AnyCallType = SegmentCallType | IgnoredCallType;
export const ANY_CALL_TYPES: readonly AnyCallType[] = [...SEGMENT_CALL_TYPES, ...IGNORED_CALL_TYPES];

export function isCallType(value: unknown): value is AnyCallType {
  return typeof value === 'string' && (ANY_CALL_TYPES as readonly string[]).includes(value);
}

/**
 * A JSON number is a double: whole numbers past 2^53 - 1 lose digits when parsed (9007199254740993 reads
 * as 9007199254740992), so two such ids would become one customer after String(n). They are refused, per
 * call; smaller whole numbers are exact and become their decimal text.
 */
const UNSAFE_NUMERIC_ID =
  'must be a string, or a whole number of at most 2^53 - 1 (larger numbers lose digits in JSON: send them as strings)';

/** A string, or a number that is exact as an id (becoming its decimal text); `error` for any other type. */
function idOf(error: string, text: z.ZodString = z.string()) {
  return z.union([text, z.number()], { error }).transform((v, ctx) => {
    if (typeof v === 'string') return v;
    if (Number.isSafeInteger(v)) return String(v);
    ctx.issues.push({ code: 'custom', input: v, message: UNSAFE_NUMERIC_ID });
    return z.NEVER;
  });
}

/** Segment libraries send ids as strings; some servers send numbers. Both become strings; null is absent. */
const id = idOf('must be a string');
const idLike = id.nullish();

const optionalText = z.string().nullish();

const isoDateTime = z.iso.datetime({
  offset: true,
  error: 'must be an ISO 8601 date-time with a timezone, e.g. 2026-03-14T09:30:00Z',
});

const timestamp = isoDateTime.nullish();

/**
 * A `sentAt` (the sender's clock when it sent the request, on the call or on a batch) in milliseconds, when
 * it is an ISO 8601 date-time with a timezone; undefined otherwise. An unreadable sentAt is not refused:
 * it only corrects the sender's clock (event-time.ts), and without it the time is bounded all the same.
 */
export function sentAtMillis(value: unknown): number | undefined {
  if (typeof value !== 'string' || !isoDateTime.safeParse(value).success) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

const record = z.record(z.string(), z.unknown(), { error: 'must be an object' });

export const SegmentContext = z.looseObject({
  page: z
    .looseObject({
      url: optionalText,
      referrer: optionalText,
      path: optionalText,
      title: optionalText,
      search: optionalText,
    })
    .nullish(),
  /** UTM parameters; Segment calls utm_campaign `name`. */
  campaign: z
    .looseObject({
      name: optionalText,
      source: optionalText,
      medium: optionalText,
      term: optionalText,
      content: optionalText,
    })
    .nullish(),
  userAgent: optionalText,
  ip: optionalText,
  locale: optionalText,
});
export type SegmentContext = z.infer<typeof SegmentContext>;

const common = {
  userId: idLike,
  anonymousId: idLike,
  /** Segment's idempotency key: the same call retried carries the same messageId. */
  messageId: idLike,
  /** When the event happened, at the source. */
  timestamp,
  context: SegmentContext.nullish(),
};

export const SegmentTrack = z.looseObject({
  ...common,
  event: z.string({ error: 'must be a string naming the event' }).min(1, 'must not be empty'),
  properties: record.nullish(),
});

export const SegmentIdentify = z.looseObject({ ...common, traits: record.nullish() });

/** page and screen share a shape: a name, a category and properties. */
export const SegmentPage = z.looseObject({
  ...common,
  name: optionalText,
  category: optionalText,
  properties: record.nullish(),
});

export const SegmentAlias = z.looseObject({
  ...common,
  previousId: idOf('must be the id being merged, as a string'),
});

/** group: checked as Segment requires it (a groupId), then ignored (IGNORED_CALL_TYPES). */
export const SegmentGroup = z.looseObject({
  ...common,
  groupId: idOf('must be the id of the group, as a string', z.string().min(1, 'must not be empty')),
  traits: record.nullish(),
});

export type SegmentTrack = z.infer<typeof SegmentTrack>;
export type SegmentIdentify = z.infer<typeof SegmentIdentify>;
export type SegmentPage = z.infer<typeof SegmentPage>;
export type SegmentAlias = z.infer<typeof SegmentAlias>;
export type SegmentGroup = z.infer<typeof SegmentGroup>;

export const CALL_SCHEMAS = {
  track: SegmentTrack,
  identify: SegmentIdentify,
  page: SegmentPage,
  screen: SegmentPage,
  alias: SegmentAlias,
} as const satisfies Record<SegmentCallType, z.ZodType>;

/** A batch: calls with their own `type`, plus context shared by all of them. */
export const SegmentBatch = z.looseObject({
  batch: z
    .array(z.unknown(), { error: 'must be an array of calls' })
    .min(1, 'must contain at least one call'),
  context: SegmentContext.nullish(),
});

/** Any call may carry the write key in its body instead of the Authorization header. */
export const WriteKeyInBody = z.looseObject({ writeKey: z.string().optional() });

// --- the common case without zod ------------------------------------------------------------------------

/**
 * A plain object (as JSON.parse makes them) without a `__proto__` or symbol key: the schemas' parse copies
 * such an object field for field, so its output equals the object itself.
 */
function isPlain(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    Object.getPrototypeOf(value) === Object.prototype &&
    !Object.hasOwn(value, '__proto__') &&
    Object.getOwnPropertySymbols(value).length === 0
  );
}

const absent = (value: unknown): boolean => value === undefined || value === null;
const textOrAbsent = (value: unknown): boolean => absent(value) || typeof value === 'string';
const recordOrAbsent = (value: unknown): boolean => absent(value) || isPlain(value);

function contextFieldsOk(value: unknown, fields: readonly string[]): boolean {
  if (absent(value)) return true;
  if (!isPlain(value)) return false;
  for (const f of fields) if (!textOrAbsent(value[f])) return false;
  return true;
}

const PAGE_FIELDS = ['url', 'referrer', 'path', 'title', 'search'] as const;
const CAMPAIGN_FIELDS = ['name', 'source', 'medium', 'term', 'content'] as const;

/**
 * The call as its schema's parse would return it (an equal object: the call itself), when the call is in
 * the form that parse leaves unchanged: every field ciclo reads present with its checked type, ids already
 * strings, objects plain. Undefined otherwise, valid or not: the caller then parses with CALL_SCHEMAS,
 * which converts numeric ids and words every problem. This only saves zod's work on the common case; it
 * never accepts a call the schema would refuse (a unit test holds the two together).
 */
export function asParsedCall(type: SegmentCallType, call: unknown): Record<string, unknown> | undefined {
  if (!isPlain(call)) return undefined;
  if (!textOrAbsent(call.userId) || !textOrAbsent(call.anonymousId) || !textOrAbsent(call.messageId))
    return undefined;
  if (
    !absent(call.timestamp) &&
    !(typeof call.timestamp === 'string' && timestamp.safeParse(call.timestamp).success)
  )
    return undefined;
  const context = call.context;
  if (!absent(context)) {
    if (!isPlain(context)) return undefined;
    if (!contextFieldsOk(context.page, PAGE_FIELDS) || !contextFieldsOk(context.campaign, CAMPAIGN_FIELDS))
      return undefined;
    if (!textOrAbsent(context.userAgent) || !textOrAbsent(context.ip) || !textOrAbsent(context.locale))
      return undefined;
  }
  switch (type) {
    case 'track':
      return typeof call.event === 'string' && call.event.length > 0 && recordOrAbsent(call.properties)
        ? call
        : undefined;
    case 'identify':
      return recordOrAbsent(call.traits) ? call : undefined;
    case 'page':
    case 'screen':
      return textOrAbsent(call.name) && textOrAbsent(call.category) && recordOrAbsent(call.properties)
        ? call
        : undefined;
    case 'alias':
      return typeof call.previousId === 'string' ? call : undefined;
    default: {
      const unreachable: never = type;
      return unreachable;
    }
  }
}
