/**
 * The shapes of Segment's HTTP Tracking API calls, as ciclo accepts them
 * (https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/): track, identify, page,
 * screen, alias and batch, in JSON. Only the fields ciclo reads are checked here; unknown fields pass
 * through untouched (Segment libraries add their own, such as `_metadata` or `integrations`). What the
 * fields mean for ciclo is decided in mapping.ts.
 */
import { z } from 'zod';

export const SEGMENT_CALL_TYPES = ['track', 'identify', 'page', 'screen', 'alias'] as const;
export type SegmentCallType = (typeof SEGMENT_CALL_TYPES)[number];

/** Segment libraries send ids as strings; some servers send numbers. Both become strings; null is absent. */
const idLike = z
  .union([z.string(), z.number()], { error: 'must be a string' })
  .transform((v) => String(v))
  .nullish();

const optionalText = z.string().nullish();

const timestamp = z.iso
  .datetime({
    offset: true,
    error: 'must be an ISO 8601 date-time with a timezone, e.g. 2026-03-14T09:30:00Z',
  })
  .nullish();

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
  previousId: z
    .union([z.string(), z.number()], { error: 'must be the id being merged, as a string' })
    .transform((v) => String(v)),
});

export type SegmentTrack = z.infer<typeof SegmentTrack>;
export type SegmentIdentify = z.infer<typeof SegmentIdentify>;
export type SegmentPage = z.infer<typeof SegmentPage>;
export type SegmentAlias = z.infer<typeof SegmentAlias>;

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
