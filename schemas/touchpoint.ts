/**
 * The touchpoint contract: every interaction a business has with a customer, as one envelope with a typed
 * payload. This zod definition is the single source of truth; the Avro schema on Kafka is derived from it
 * (schemas/avro.ts) and a test checks that both accept and reject the same events.
 */
import { z } from 'zod';
import { EVENT_ID_MAX_LENGTH, EVENT_ID_PATTERN } from './event-id';
import { currencyCode, id, nonNegativeMinorUnits, smallInt, text, timestampMillis } from './fields';

/** `model`: scores ciclo computes itself (`ciclo clv refit`), fed back to the processor as touchpoints. */
/**
 * How far an event time may be ahead of when ciclo received the event: clocks that are a little fast, and a
 * sender's sentAt and ciclo's receivedAt not being quite the same instant (Segment's docs, "Timestamps, Time
 * Zones, and Clock Skew"). The collector clamps or refuses past it, an import rejects the row, and the
 * processor bounds whatever still comes (docs/event-time.md).
 */
export const EVENT_TIME_AHEAD_TOLERANCE_MS = 5 * 60_000;

export const SOURCE_KINDS = ['snippet', 'api', 'webhook', 'import', 'simulator', 'model'] as const;

export const Source = z
  .object({
    kind: z.enum(SOURCE_KINDS).meta({ avroName: 'SourceKind' }),
    /** Which snippet, provider or file: e.g. "web", "sendgrid", "stripe", "cdnow". */
    name: id('source.name'),
  })
  .meta({ avroName: 'Source' });

export const Context = z
  .object({
    pageUrl: text(4096).optional(),
    referrer: text(4096).optional(),
    utmSource: text(256).optional(),
    utmMedium: text(256).optional(),
    utmCampaign: text(256).optional(),
    utmTerm: text(256).optional(),
    utmContent: text(256).optional(),
    userAgent: text(1024).optional(),
    /** Personal data: redacted from logs. */
    ip: text(64).optional(),
    locale: text(32).optional(),
  })
  .meta({ avroName: 'Context' });

export const PageViewed = z
  .object({ path: text(4096).optional(), title: text(1024).optional(), category: text(256).optional() })
  .meta({ avroName: 'PageViewedPayload' });

export const Identified = z
  .object({
    email: z.email('must be an email address').optional(),
    name: text(256).optional(),
    plan: text(128).optional(),
    /** Other traits, as strings (JSON-encoded when not a string). */
    traits: z.record(z.string(), z.string()).optional(),
  })
  .meta({ avroName: 'IdentifiedPayload' });

export const Aliased = z
  .object({
    /** The id being merged into the envelope's customerId: an anonymous id or another customer's id. */
    previousId: id('previousId'),
  })
  .meta({ avroName: 'AliasedPayload' });

/** The campaignId of email events sent outside any campaign (transactional mail). */
export const UNCATEGORIZED_CAMPAIGN = 'uncategorized';

export const EmailEngagement = z
  .object({
    /** The campaign the email belongs to, else UNCATEGORIZED_CAMPAIGN. */
    campaignId: id('campaignId'),
    messageId: id('messageId').optional(),
    /** For EmailClicked: the link clicked. */
    url: text(4096).optional(),
    /** For EmailBounced: hard or soft. */
    bounceType: z.enum(['hard', 'soft']).meta({ avroName: 'BounceType' }).optional(),
  })
  .meta({ avroName: 'EmailPayload' });

export const LineItem = z
  .object({
    sku: id('sku'),
    name: text(512).optional(),
    category: text(256).optional(),
    quantity: smallInt().min(1, 'quantity must be >= 1'),
    unitPriceMinor: nonNegativeMinorUnits(),
  })
  .meta({ avroName: 'LineItem' });

export const PurchaseCompleted = z
  .object({
    orderId: id('orderId'),
    lineItems: z.array(LineItem).max(1000),
    amountMinor: nonNegativeMinorUnits(),
    currency: currencyCode(),
    coupon: text(128).optional(),
  })
  .meta({ avroName: 'PurchaseCompletedPayload' });

export const RefundIssued = z
  .object({
    orderId: id('orderId'),
    refundId: id('refundId'),
    amountMinor: nonNegativeMinorUnits(),
    currency: currencyCode(),
    reason: text(512).optional(),
  })
  .meta({ avroName: 'RefundIssuedPayload' });

export const SubscriptionStarted = z
  .object({
    subscriptionId: id('subscriptionId'),
    plan: id('plan'),
    amountMinor: nonNegativeMinorUnits().optional(),
    currency: currencyCode().optional(),
    interval: z.enum(['day', 'week', 'month', 'year']).meta({ avroName: 'BillingInterval' }).optional(),
  })
  .meta({ avroName: 'SubscriptionStartedPayload' });

export const SubscriptionCancelled = z
  .object({ subscriptionId: id('subscriptionId'), reason: text(512).optional() })
  .meta({ avroName: 'SubscriptionCancelledPayload' });

export const SurveyAnswered = z
  .object({
    surveyId: id('surveyId'),
    /** Net Promoter Score answer: 0-10. */
    nps: smallInt().min(0, 'NPS must be 0-10').max(10, 'NPS must be 0-10').optional(),
    /** Customer satisfaction: 1-5. */
    csat: smallInt().min(1, 'CSAT must be 1-5').max(5, 'CSAT must be 1-5').optional(),
    comment: text(4000).optional(),
  })
  .meta({ avroName: 'SurveyAnsweredPayload' });

export const SupportTicketOpened = z
  .object({
    ticketId: id('ticketId'),
    subject: text(512).optional(),
    priority: z.enum(['low', 'normal', 'high', 'urgent']).meta({ avroName: 'TicketPriority' }).optional(),
  })
  .meta({ avroName: 'SupportTicketOpenedPayload' });

export const SupportTicketResolved = z
  .object({
    ticketId: id('ticketId'),
    satisfaction: smallInt().min(1, 'satisfaction must be 1-5').max(5, 'satisfaction must be 1-5').optional(),
  })
  .meta({ avroName: 'SupportTicketResolvedPayload' });

export const ReferralMade = z
  .object({
    referralId: id('referralId'),
    /** The referred person, when known; the referrer is the envelope's customer. */
    refereeId: id('refereeId').optional(),
  })
  .meta({ avroName: 'ReferralMadePayload' });

export const MarketingSpendRecorded = z
  .object({
    channel: id('channel'),
    campaign: text(256).optional(),
    amountMinor: nonNegativeMinorUnits(),
    currency: currencyCode(),
    periodStart: timestampMillis(),
    periodEnd: timestampMillis(),
  })
  .meta({ avroName: 'MarketingSpendRecordedPayload' });

/**
 * A customer's predicted lifetime value from a CLV fit (`ciclo clv refit`: BG/NBD + Gamma-Gamma), as of
 * the fit's day. Not customer activity: it moves no "last seen" time and creates no customer; it lets stage
 * rules use P(alive) (e.g. the five-stage model's `low-probability-alive` rule).
 */
export const ClvPredicted = z
  .object({
    probabilityAlive: z
      .number()
      .min(0, 'probabilityAlive must be 0-1')
      .max(1, 'probabilityAlive must be 0-1'),
    expectedPurchases12m: z.number().min(0, 'expectedPurchases12m must be >= 0'),
    predictedClvMinor: nonNegativeMinorUnits(),
    currency: currencyCode(),
  })
  .meta({ avroName: 'ClvPredictedPayload' });

export const Tracked = z
  .object({
    /** A custom event name from `track` that maps to no typed touchpoint. */
    event: id('event'),
    properties: z.record(z.string(), z.string()).optional(),
  })
  .meta({ avroName: 'TrackedPayload' });

/**
 * Every touchpoint type and its payload schema. Event names are past tense. Several email types share one
 * payload record; the `type` field says which happened.
 */
export const PAYLOADS = {
  PageViewed,
  Identified,
  Aliased,
  EmailSent: EmailEngagement,
  EmailDelivered: EmailEngagement,
  EmailOpened: EmailEngagement,
  EmailClicked: EmailEngagement,
  EmailBounced: EmailEngagement,
  EmailUnsubscribed: EmailEngagement,
  PurchaseCompleted,
  RefundIssued,
  SubscriptionStarted,
  SubscriptionCancelled,
  SurveyAnswered,
  SupportTicketOpened,
  SupportTicketResolved,
  ReferralMade,
  MarketingSpendRecorded,
  ClvPredicted,
  Tracked,
} as const;

export type TouchpointType = keyof typeof PAYLOADS;
export const TOUCHPOINT_TYPES = Object.keys(PAYLOADS) as TouchpointType[];

/** Types that describe the business rather than one customer: they need no customer or anonymous id. */
export const CUSTOMERLESS_TYPES: ReadonlySet<TouchpointType> = new Set<TouchpointType>([
  'MarketingSpendRecorded',
]);

export const EnvelopeFields = {
  /** Unique per event and stable across retries: the idempotency key everywhere downstream. */
  eventId: z
    .string()
    .min(1, 'eventId must not be empty')
    .max(EVENT_ID_MAX_LENGTH, `eventId must be at most ${EVENT_ID_MAX_LENGTH} characters`)
    .regex(EVENT_ID_PATTERN, 'eventId may contain only letters, digits and . _ : @ -'),
  customerId: id('customerId').optional(),
  anonymousId: id('anonymousId').optional(),
  /** Event time at the source. Lifecycle state is computed by this time, not by arrival. */
  occurredAt: timestampMillis(),
  /** When ciclo accepted the event. */
  receivedAt: timestampMillis(),
  source: Source,
  context: Context.optional(),
  /**
   * The touchpoint's personal fields (schemas/personal-fields.ts), sealed with a key of its person
   * (infra/privacy/): absent from the fields above while sealed. `ciclo forget` destroys the key, and with it
   * every reader's way to them.
   */
  sealed: z.string().max(1_000_000, 'sealed must be at most 1,000,000 characters').optional(),
};

const variants = TOUCHPOINT_TYPES.map((type) =>
  z.object({ ...EnvelopeFields, type: z.literal(type), payload: PAYLOADS[type] }),
) as unknown as [TouchpointVariantSchema, TouchpointVariantSchema, ...TouchpointVariantSchema[]];

type TouchpointVariantSchema = z.ZodObject<
  typeof EnvelopeFields & { type: z.ZodLiteral<TouchpointType>; payload: z.ZodType }
>;

type Variant<T extends TouchpointType> = z.infer<z.ZodObject<typeof EnvelopeFields>> & {
  type: T;
  payload: z.infer<(typeof PAYLOADS)[T]>;
};

/** A touchpoint, narrowed by its `type`. */
export type Touchpoint = { [T in TouchpointType]: Variant<T> }[TouchpointType];
export type TouchpointOf<T extends TouchpointType> = Variant<T>;

/** A rule of the touchpoint contract that no single field's schema can say, broken: where, and why. */
export interface TouchpointRuleViolation {
  readonly path: readonly string[];
  readonly message: string;
}

const NO_VIOLATIONS: readonly TouchpointRuleViolation[] = Object.freeze([]);

/**
 * The touchpoint rules across fields, as a function of their own: zod's refinement of TouchpointSchema runs
 * them, and so does the contract's fast check (schemas/fast-check.ts), which cannot read a refinement.
 */
export function touchpointRuleViolations(tp: Touchpoint): readonly TouchpointRuleViolation[] {
  let found: TouchpointRuleViolation[] | undefined;
  const add = (path: string[], message: string): void => void (found ??= []).push({ path, message });
  if (!CUSTOMERLESS_TYPES.has(tp.type) && !tp.customerId && !tp.anonymousId)
    add(['customerId'], 'customerId or anonymousId is required');
  if (tp.type === 'SurveyAnswered') {
    const p = tp.payload;
    if (p.nps === undefined && p.csat === undefined && p.comment === undefined)
      add(['payload'], 'a survey answer needs nps, csat or comment');
  }
  if (tp.type === 'MarketingSpendRecorded') {
    const p = tp.payload;
    if (p.periodEnd < p.periodStart)
      add(['payload', 'periodEnd'], 'periodEnd must not be before periodStart');
  }
  return found ?? NO_VIOLATIONS;
}

export const TouchpointSchema = z.discriminatedUnion('type', variants).superRefine((tp, ctx) => {
  for (const { path, message } of touchpointRuleViolations(tp as Touchpoint))
    ctx.addIssue({ code: 'custom', path: [...path], message });
}) as unknown as z.ZodType<Touchpoint>;
