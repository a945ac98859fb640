/**
 * Segment calls to ciclo touchpoints: a pure function of the request body, the source it was sent with,
 * the time the collector received it and the default currency. No I/O, no clock, no randomness.
 *
 * - page/screen -> PageViewed; identify -> Identified; alias -> Aliased.
 * - track -> a typed touchpoint when the event name is one of Segment's spec events that ciclo models
 *   (Ecommerce spec v2 "Order Completed"/"Order Refunded", Email spec events, and the lifecycle events in
 *   TRACK_MAPPERS below), else Tracked with the properties as strings.
 * - eventId is the call's messageId (Segment's idempotency key) or, without one, a hash of the call's
 *   content, so a retried call yields the same id either way. occurredAt is the call's timestamp corrected
 *   for the sender's clock by sentAt, then bounded by the kind of write key (event-time.ts: a browser key's
 *   time outside the window is clamped to receivedAt, a server key's too far ahead is a problem at
 *   `timestamp`); without a timestamp it is the time the call was received.
 *
 * Every problem is reported with the path of the field in the request (`batch.3.properties.total`), not in
 * the touchpoint, and all problems of a request are collected before answering.
 */
import { CUSTOMERLESS_TYPES, type Touchpoint, type TouchpointType } from '../../schemas/touchpoint';
import { validateWith, type Validated, type ValidationProblem } from '../../schemas/validation';
import { checkTouchpoint, markContractChecked, prefixProblems } from './check';
import { contentEventId, isSafeEventId, providerEventId } from './event-id';
import { decideEventTime, type ClampReason, type EventTime } from './event-time';
import { toMinorUnits } from './money';
import {
  asParsedCall,
  CALL_SCHEMAS,
  SEGMENT_CALL_TYPES,
  SegmentBatch,
  sentAtMillis,
  type SegmentAlias,
  type SegmentCallType,
  type SegmentContext,
  type SegmentIdentify,
  type SegmentPage,
  type SegmentTrack,
} from './segment';

export interface CollectContext {
  /** The source the write key belongs to; `snippet` for browser snippets, `api` for servers. */
  readonly source: { readonly kind: 'api' | 'snippet'; readonly name: string };
  /** When the collector received the request (ms since the epoch), stamped by the HTTP layer. */
  readonly receivedAt: number;
  /** ISO 4217 code for money sent without a currency. */
  readonly defaultCurrency: string;
}

/** What a batch's top level gives each of its calls: context shared by all, and when it was sent. */
export interface BatchEnvelope {
  /** The batch's context; the call's own context wins field by field. */
  readonly context?: SegmentContext | null | undefined;
  /** The batch's sentAt in milliseconds (sentAtMillis); a call's own readable sentAt wins. */
  readonly sentAt?: number | undefined;
}

/** A call whose time a browser key sent was replaced by receivedAt (event-time.ts), to count and log. */
export interface ClampedTime {
  /** Where the call is in the request: '' for a single call, `batch.<index>` in a batch. */
  readonly path: string;
  readonly eventId: string;
  /** The call's timestamp as sent, and the sentAt used to correct it (undefined: none was readable). */
  readonly timestamp: number;
  readonly sentAt: number | undefined;
  /** The timestamp corrected for the sender's clock, which fell outside the window. */
  readonly correctedAt: number;
  /** What the touchpoint got: receivedAt. */
  readonly occurredAt: number;
  readonly reason: ClampReason;
}

/** One call mapped: its touchpoint (and, when its time was clamped, how), or every problem with it. */
export type MappedCall =
  | { readonly ok: true; readonly value: Touchpoint; readonly clamped?: ClampedTime }
  | { readonly ok: false; readonly problems: readonly ValidationProblem[] };

/** A request mapped: all its touchpoints and the calls among them whose time was clamped, or every problem. */
export type MappedRequest =
  | { readonly ok: true; readonly value: readonly Touchpoint[]; readonly clamped: readonly ClampedTime[] }
  | { readonly ok: false; readonly problems: readonly ValidationProblem[] };

const NONE_CLAMPED: readonly ClampedTime[] = Object.freeze([]);

/** Email events without a campaign (transactional mail) are filed under this campaign id. */
export const UNCATEGORIZED_CAMPAIGN = 'uncategorized';

type Props = Readonly<Record<string, unknown>>;

/**
 * Whether drafts record the request path each field came from. Only a call with a problem needs them (to
 * name the sender's field), so every call is mapped without them first and, when anything is wrong, mapped
 * again with them: the mapping is pure, so the second pass builds the same touchpoint and finds the same
 * problems. True only during that second pass (mapSegmentCall).
 */
let recordingOrigins = false;

/**
 * A touchpoint payload under construction, with (when recording) the request path each payload field came
 * from so that a contract violation can be reported against what the sender wrote.
 */
interface Draft {
  readonly type: TouchpointType;
  readonly payload: Record<string, unknown>;
  /** Touchpoint path (e.g. "payload.lineItems.0.unitPriceMinor") -> request path; undefined when not recording. */
  readonly origins: Record<string, string> | undefined;
  readonly problems: ValidationProblem[];
}

function newDraft(type: TouchpointType, payloadOrigin: string): Draft {
  return {
    type,
    payload: {},
    origins: recordingOrigins ? { payload: payloadOrigin } : undefined,
    problems: [],
  };
}

/** Records where a touchpoint field came from, when the draft records origins. */
function origin(d: Draft, path: string, from: string): void {
  if (d.origins) d.origins[path] = from;
}

/** Sets a payload field (when present) and records where it came from. */
function put(d: Draft, field: string, value: unknown, from: string): void {
  if (value !== undefined && value !== null) d.payload[field] = value;
  if (d.origins) d.origins[`payload.${field}`] = from;
}

/** The first of `keys` present in `props`, with the key it was found under. */
function pick(props: Props, keys: readonly string[]): { key: string; value: unknown } | undefined {
  for (const key of keys) {
    const value = props[key];
    if (value !== undefined && value !== null) return { key, value };
  }
  return undefined;
}

/** Ids may arrive as numbers (order_id: 1042); the contract wants strings. */
function asId(value: unknown): unknown {
  return typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
}

/** Whole numbers may arrive as strings ("2"); anything else is left for the contract to judge. */
function asInt(value: unknown): unknown {
  return typeof value === 'string' && /^-?\d{1,9}$/.test(value.trim()) ? Number(value) : value;
}

function asCurrency(value: unknown, fallback: string): unknown {
  if (value === undefined || value === null || value === '') return fallback;
  return typeof value === 'string' ? value.trim().toUpperCase() : value;
}

/** Custom properties and traits as strings: strings as they are, anything else JSON-encoded. */
function asStrings(
  values: Props | null | undefined,
  skip: ReadonlySet<string> = new Set(),
): Record<string, string> | undefined {
  if (!values) return undefined;
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined || skip.has(key)) continue;
    out[key] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

function isObject(value: unknown): value is Props {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Money in major units at `origin` to a minor-units payload field; problems are recorded on the draft. */
function putMoney(
  d: Draft,
  field: string,
  found: { key: string; value: unknown } | undefined,
  currency: unknown,
  originBase: string,
  fallbackOrigin: string,
): void {
  const from = found ? `${originBase}.${found.key}` : fallbackOrigin;
  if (d.origins) d.origins[`payload.${field}`] = from;
  if (!found) return;
  const converted = toMinorUnits(found.value, typeof currency === 'string' ? currency : '');
  if (converted.ok) d.payload[field] = converted.minor;
  else d.problems.push({ path: from, rule: converted.rule, message: converted.message });
}

/** Milliseconds since the epoch from an ISO 8601 string or a number of milliseconds. */
function asMillis(value: unknown): unknown {
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}/.test(value)) {
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? value : ms;
  }
  return value;
}

// --- track: Segment spec events ciclo models -------------------------------------------------------------

type TrackMapper = (props: Props, ctx: CollectContext, eventId: string) => Draft;

/** Segment Ecommerce spec v2, "Order Completed": order_id, products[], total/revenue, currency, coupon. */
function orderCompleted(props: Props, ctx: CollectContext): Draft {
  const d = newDraft('PurchaseCompleted', 'properties');
  const currency = asCurrency(props.currency, ctx.defaultCurrency);
  put(d, 'orderId', asId(props.order_id), 'properties.order_id');
  put(d, 'currency', currency, 'properties.currency');
  put(d, 'coupon', props.coupon, 'properties.coupon');
  const lineItems = toLineItems(d, props.products, currency);
  const amount = pick(props, ['total', 'revenue', 'value']);
  if (amount) {
    putMoney(d, 'amountMinor', amount, currency, 'properties', 'properties.total');
  } else if (!lineItems.complete) {
    // No total, and the products' own problems are reported: the missing sum is the same problem.
    origin(d, 'payload.amountMinor', 'properties.products');
  } else if (lineItems.items.length > 0) {
    // No order total: the sum of the line items, in exact integer arithmetic.
    d.payload.amountMinor = sumOf(lineItems.items);
    origin(d, 'payload.amountMinor', 'properties.products');
  } else {
    origin(d, 'payload.amountMinor', 'properties.total');
    d.problems.push({
      path: 'properties.total',
      rule: 'required',
      message: 'total, revenue or products is required',
    });
  }
  return d;
}

function sumOf(items: readonly Record<string, unknown>[]): number {
  return items.reduce((sum, li) => sum + Number(li.quantity) * Number(li.unitPriceMinor), 0);
}

/** products[] of the Ecommerce spec: sku or product_id, name, category, quantity (default 1), price. */
function toLineItems(
  d: Draft,
  products: unknown,
  currency: unknown,
): { items: Record<string, unknown>[]; complete: boolean } {
  origin(d, 'payload.lineItems', 'properties.products');
  if (products === undefined || products === null) {
    d.payload.lineItems = [];
    return { items: [], complete: true };
  }
  if (!Array.isArray(products)) {
    d.problems.push({
      path: 'properties.products',
      rule: 'invalid_type',
      message: 'must be an array of products',
    });
    return { items: [], complete: false };
  }
  let complete = true;
  const items = products.map((raw: unknown, i) => {
    const at = `properties.products.${i}`;
    origin(d, `payload.lineItems.${i}`, at);
    if (!isObject(raw)) {
      d.problems.push({ path: at, rule: 'invalid_type', message: 'must be an object' });
      complete = false;
      return {};
    }
    const sku = pick(raw, ['sku', 'product_id']);
    if (d.origins) {
      d.origins[`payload.lineItems.${i}.sku`] = `${at}.${sku?.key ?? 'sku'}`;
      d.origins[`payload.lineItems.${i}.name`] = `${at}.name`;
      d.origins[`payload.lineItems.${i}.category`] = `${at}.category`;
      d.origins[`payload.lineItems.${i}.quantity`] = `${at}.quantity`;
      d.origins[`payload.lineItems.${i}.unitPriceMinor`] = `${at}.price`;
    }
    const item: Record<string, unknown> = { sku: asId(sku?.value), quantity: asInt(raw.quantity ?? 1) };
    if (raw.name !== undefined && raw.name !== null) item.name = raw.name;
    if (raw.category !== undefined && raw.category !== null) item.category = raw.category;
    const price = pick(raw, ['price']);
    if (!price) {
      d.problems.push({ path: `${at}.price`, rule: 'required', message: 'price is required' });
      complete = false;
    } else {
      const converted = toMinorUnits(price.value, typeof currency === 'string' ? currency : '');
      if (converted.ok) item.unitPriceMinor = converted.minor;
      else {
        d.problems.push({ path: `${at}.price`, rule: converted.rule, message: converted.message });
        complete = false;
      }
    }
    if (typeof item.quantity !== 'number' || !Number.isInteger(item.quantity)) complete = false;
    return item;
  });
  d.payload.lineItems = items;
  return { items, complete };
}

/** Ecommerce spec v2, "Order Refunded": order_id, total (or the refunded products), currency. */
function orderRefunded(props: Props, ctx: CollectContext, eventId: string): Draft {
  const d = newDraft('RefundIssued', 'properties');
  const currency = asCurrency(props.currency, ctx.defaultCurrency);
  put(d, 'orderId', asId(props.order_id), 'properties.order_id');
  // The spec has no refund id; without one, each refund call is its own refund.
  put(d, 'refundId', asId(props.refund_id) ?? eventId, 'properties.refund_id');
  put(d, 'currency', currency, 'properties.currency');
  put(d, 'reason', props.reason, 'properties.reason');
  const amount = pick(props, ['total', 'revenue', 'value', 'amount']);
  if (amount) {
    putMoney(d, 'amountMinor', amount, currency, 'properties', 'properties.total');
  } else if (props.products !== undefined) {
    const scratch = newDraft('PurchaseCompleted', 'properties');
    const lineItems = toLineItems(scratch, props.products, currency);
    d.problems.push(...scratch.problems);
    origin(d, 'payload.amountMinor', 'properties.products');
    if (lineItems.complete) d.payload.amountMinor = sumOf(lineItems.items);
  } else {
    origin(d, 'payload.amountMinor', 'properties.total');
    d.problems.push({ path: 'properties.total', rule: 'required', message: 'total or products is required' });
  }
  return d;
}

/** Segment's Email spec: email_id, campaign_id/campaign_name, link_url. */
function emailEvent(type: TouchpointType): TrackMapper {
  return (props) => {
    const d = newDraft(type, 'properties');
    const campaign = pick(props, ['campaign_id', 'campaign_name']);
    put(
      d,
      'campaignId',
      asId(campaign?.value) ?? UNCATEGORIZED_CAMPAIGN,
      `properties.${campaign?.key ?? 'campaign_id'}`,
    );
    put(d, 'messageId', asId(props.email_id), 'properties.email_id');
    if (type === 'EmailClicked') put(d, 'url', props.link_url, 'properties.link_url');
    if (type === 'EmailBounced') {
      put(
        d,
        'bounceType',
        typeof props.bounce_type === 'string' ? props.bounce_type.toLowerCase() : props.bounce_type,
        'properties.bounce_type',
      );
    }
    return d;
  };
}

const INTERVALS: Readonly<Record<string, string>> = {
  day: 'day',
  daily: 'day',
  week: 'week',
  weekly: 'week',
  month: 'month',
  monthly: 'month',
  year: 'year',
  yearly: 'year',
  annual: 'year',
  annually: 'year',
};

function subscriptionStarted(props: Props, ctx: CollectContext): Draft {
  const d = newDraft('SubscriptionStarted', 'properties');
  put(d, 'subscriptionId', asId(props.subscription_id), 'properties.subscription_id');
  const plan = pick(props, ['plan', 'plan_id', 'plan_name']);
  put(d, 'plan', asId(plan?.value), `properties.${plan?.key ?? 'plan'}`);
  const amount = pick(props, ['amount', 'price', 'revenue']);
  if (amount) {
    const currency = asCurrency(props.currency, ctx.defaultCurrency);
    put(d, 'currency', currency, 'properties.currency');
    putMoney(d, 'amountMinor', amount, currency, 'properties', 'properties.amount');
  }
  const interval = pick(props, ['interval', 'billing_interval', 'billing_cycle']);
  const normalized =
    typeof interval?.value === 'string' ? INTERVALS[interval.value.toLowerCase()] : undefined;
  put(d, 'interval', normalized ?? interval?.value, `properties.${interval?.key ?? 'interval'}`);
  return d;
}

function subscriptionCancelled(props: Props): Draft {
  const d = newDraft('SubscriptionCancelled', 'properties');
  put(d, 'subscriptionId', asId(props.subscription_id), 'properties.subscription_id');
  put(d, 'reason', props.reason, 'properties.reason');
  return d;
}

function surveyAnswered(props: Props): Draft {
  const d = newDraft('SurveyAnswered', 'properties');
  put(d, 'surveyId', asId(props.survey_id), 'properties.survey_id');
  put(d, 'nps', asInt(props.nps), 'properties.nps');
  put(d, 'csat', asInt(props.csat), 'properties.csat');
  put(d, 'comment', props.comment, 'properties.comment');
  return d;
}

function ticketOpened(props: Props): Draft {
  const d = newDraft('SupportTicketOpened', 'properties');
  put(d, 'ticketId', asId(props.ticket_id), 'properties.ticket_id');
  put(d, 'subject', props.subject, 'properties.subject');
  put(
    d,
    'priority',
    typeof props.priority === 'string' ? props.priority.toLowerCase() : props.priority,
    'properties.priority',
  );
  return d;
}

function ticketResolved(props: Props): Draft {
  const d = newDraft('SupportTicketResolved', 'properties');
  put(d, 'ticketId', asId(props.ticket_id), 'properties.ticket_id');
  put(d, 'satisfaction', asInt(props.satisfaction), 'properties.satisfaction');
  return d;
}

function referralMade(props: Props): Draft {
  const d = newDraft('ReferralMade', 'properties');
  put(d, 'referralId', asId(props.referral_id), 'properties.referral_id');
  put(d, 'refereeId', asId(props.referee_id), 'properties.referee_id');
  return d;
}

function marketingSpendRecorded(props: Props, ctx: CollectContext): Draft {
  const d = newDraft('MarketingSpendRecorded', 'properties');
  const currency = asCurrency(props.currency, ctx.defaultCurrency);
  put(d, 'channel', props.channel, 'properties.channel');
  put(d, 'campaign', props.campaign, 'properties.campaign');
  put(d, 'currency', currency, 'properties.currency');
  put(d, 'periodStart', asMillis(props.period_start), 'properties.period_start');
  put(d, 'periodEnd', asMillis(props.period_end), 'properties.period_end');
  const amount = pick(props, ['amount', 'spend', 'cost']);
  putMoney(d, 'amountMinor', amount, currency, 'properties', 'properties.amount');
  if (!amount)
    d.problems.push({ path: 'properties.amount', rule: 'required', message: 'amount is required' });
  return d;
}

/**
 * Track event names mapped to typed touchpoints. The names are Segment's spec names where a spec exists
 * (Ecommerce v2, Email); the others follow the same "Object Action" convention.
 */
export const TRACK_MAPPERS: Readonly<Record<string, TrackMapper>> = {
  'Order Completed': orderCompleted,
  'Order Refunded': orderRefunded,
  'Email Sent': emailEvent('EmailSent'),
  'Email Delivered': emailEvent('EmailDelivered'),
  'Email Opened': emailEvent('EmailOpened'),
  'Email Link Clicked': emailEvent('EmailClicked'),
  'Email Bounced': emailEvent('EmailBounced'),
  Unsubscribed: emailEvent('EmailUnsubscribed'),
  'Email Unsubscribed': emailEvent('EmailUnsubscribed'),
  // A spam complaint stops all further mail to the address: for the lifecycle it is an unsubscribe.
  'Email Marked as Spam': emailEvent('EmailUnsubscribed'),
  'Subscription Started': subscriptionStarted,
  'Subscription Cancelled': subscriptionCancelled,
  'Subscription Canceled': subscriptionCancelled,
  'Survey Answered': surveyAnswered,
  'Ticket Opened': ticketOpened,
  'Ticket Resolved': ticketResolved,
  'Referral Made': referralMade,
  'Marketing Spend Recorded': marketingSpendRecorded,
};

// --- one call ----------------------------------------------------------------------------------------------

function trackDraft(call: SegmentTrack, ctx: CollectContext, eventId: string): Draft {
  const props = call.properties ?? {};
  const mapper = Object.prototype.hasOwnProperty.call(TRACK_MAPPERS, call.event)
    ? TRACK_MAPPERS[call.event]
    : undefined;
  if (mapper) return mapper(props, ctx, eventId);
  const d = newDraft('Tracked', 'properties');
  put(d, 'event', call.event, 'event');
  put(d, 'properties', asStrings(props), 'properties');
  return d;
}

const RESERVED_IDENTIFY_TRAITS: ReadonlySet<string> = new Set(['email', 'name', 'plan']);

function identifyDraft(call: SegmentIdentify): Draft {
  const traits = call.traits ?? {};
  const d = newDraft('Identified', 'traits');
  put(d, 'email', traits.email, 'traits.email');
  const name =
    traits.name ??
    ([traits.firstName, traits.lastName].filter((p) => typeof p === 'string' && p !== '').join(' ') ||
      undefined);
  put(d, 'name', name, 'traits.name');
  put(d, 'plan', asId(traits.plan), 'traits.plan');
  put(d, 'traits', asStrings(traits, RESERVED_IDENTIFY_TRAITS), 'traits');
  return d;
}

function pageDraft(call: SegmentPage, kind: 'page' | 'screen'): Draft {
  const props = call.properties ?? {};
  const d = newDraft('PageViewed', 'properties');
  const page = call.context?.page;
  if (kind === 'page') {
    const path = props.path ?? page?.path;
    put(d, 'path', path, props.path !== undefined ? 'properties.path' : 'context.page.path');
  }
  const title = props.title ?? (kind === 'page' ? page?.title : undefined) ?? call.name;
  put(
    d,
    'title',
    title,
    props.title !== undefined
      ? 'properties.title'
      : kind === 'page' && page?.title
        ? 'context.page.title'
        : 'name',
  );
  put(d, 'category', call.category ?? props.category, call.category ? 'category' : 'properties.category');
  return d;
}

function aliasDraft(call: SegmentAlias): Draft {
  const d = newDraft('Aliased', 'previousId');
  put(d, 'previousId', call.previousId, 'previousId');
  return d;
}

const UTM_KEYS = [
  ['utmSource', 'source', 'utm_source', 'context.campaign.source'],
  ['utmMedium', 'medium', 'utm_medium', 'context.campaign.medium'],
  ['utmCampaign', 'name', 'utm_campaign', 'context.campaign.name'],
  ['utmTerm', 'term', 'utm_term', 'context.campaign.term'],
  ['utmContent', 'content', 'utm_content', 'context.campaign.content'],
] as const;

/**
 * Segment's context to the touchpoint's; UTM parameters fall back to the page URL's query string. Records
 * where each field came from in `origins`, when given.
 */
function toContext(
  context: SegmentContext | null | undefined,
  pageProps: Props | undefined,
  origins: Record<string, string> | undefined,
): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  let fields = 0;
  const set = (field: string, value: unknown, from: string): void => {
    if (origins) origins[`context.${field}`] = from;
    if (value !== undefined && value !== null && value !== '') {
      out[field] = value;
      fields += 1;
    }
  };
  const pageUrl = context?.page?.url ?? pageProps?.url;
  set('pageUrl', pageUrl, context?.page?.url ? 'context.page.url' : 'properties.url');
  const referrer = context?.page?.referrer ?? pageProps?.referrer;
  set('referrer', referrer, context?.page?.referrer ? 'context.page.referrer' : 'properties.referrer');
  let query: URLSearchParams | undefined | null = null; // null: the URL not parsed yet
  for (const [field, segmentKey, utmParam, contextOrigin] of UTM_KEYS) {
    const fromContext = context?.campaign?.[segmentKey];
    let value: unknown = fromContext;
    if ((value === undefined || value === null) && mayHaveParam(pageUrl, utmParam)) {
      if (query === null) query = queryOf(pageUrl);
      value = query?.get(utmParam) ?? undefined;
    }
    set(field, value, fromContext ? contextOrigin : 'context.page.url');
  }
  set('userAgent', context?.userAgent, 'context.userAgent');
  set('ip', context?.ip, 'context.ip');
  set('locale', context?.locale, 'context.locale');
  return fields > 0 ? out : undefined;
}

/**
 * Whether a URL's query string can have the parameter: its name is in the text, or something is
 * percent-encoded (which might spell it). When not, parsing the URL would find nothing, so it is not parsed.
 */
function mayHaveParam(url: unknown, param: string): boolean {
  return typeof url === 'string' && (url.includes(param) || url.includes('%'));
}

function queryOf(url: unknown): URLSearchParams | undefined {
  if (typeof url !== 'string') return undefined;
  try {
    return new URL(url).searchParams;
  } catch {
    return undefined;
  }
}

/**
 * Left out of the content hash: what a sender's retry may change without changing the call (when it was
 * sent, where the key travels), and `type`, which a call in a batch carries and a single call does not.
 */
const NOT_CONTENT = ['writeKey', 'sentAt', 'receivedAt', 'type'] as const;

/**
 * One Segment call to a touchpoint, or every problem with it (paths relative to the call). `envelope` is
 * what a batch gives its calls: its top-level context (the call's own context wins field by field) and its
 * sentAt (the call's own readable sentAt wins).
 */
export function mapSegmentCall(
  type: SegmentCallType,
  input: unknown,
  ctx: CollectContext,
  envelope?: BatchEnvelope,
): MappedCall {
  const sharedContext = envelope?.context;
  const withContext =
    sharedContext && isObject(input)
      ? { ...input, context: { ...sharedContext, ...(isObject(input.context) ? input.context : {}) } }
      : input;
  // The schema for `type` has checked the fields this call type has; the others are absent.
  let call = asParsedCall(type, withContext) as CheckedCall | undefined;
  if (!call) {
    const parsed = validateWith<unknown>(CALL_SCHEMAS[type], withContext);
    if (!parsed.ok) return parsed;
    call = parsed.value as CheckedCall;
  }

  const eventId = call.messageId
    ? isSafeEventId(call.messageId)
      ? call.messageId
      : providerEventId('msg', call.messageId)
    : contentEventId('seg', {
        source: ctx.source.name,
        type,
        call: { ...call, ...Object.fromEntries(NOT_CONTENT.map((f) => [f, undefined])) },
      });

  const timestamp = call.timestamp ? Date.parse(call.timestamp) : undefined;
  const sentAt = sentAtMillis(call.sentAt) ?? envelope?.sentAt;
  const time = decideEventTime({ keyKind: ctx.source.kind, timestamp, sentAt, receivedAt: ctx.receivedAt });

  const fast = touchpointOf(type, call, ctx, eventId, time);
  if (fast.ok) {
    if (time.outcome !== 'clamped' || timestamp === undefined) return fast;
    const { occurredAt, correctedAt, reason } = time;
    return {
      ok: true,
      value: fast.value,
      clamped: { path: '', eventId, timestamp, sentAt, correctedAt, occurredAt, reason },
    };
  }
  // Something is wrong: map the call again recording origins, to name each problem's field as sent.
  recordingOrigins = true;
  try {
    return touchpointOf(type, call, ctx, eventId, time);
  } finally {
    recordingOrigins = false;
  }
}

type CheckedCall = SegmentTrack & SegmentIdentify & SegmentPage & SegmentAlias;

/**
 * A checked call to its touchpoint, checked against the contract. Without recordingOrigins, a failure's
 * problems are empty: the caller maps the call again, recording origins, for problems with request paths.
 */
function touchpointOf(
  type: SegmentCallType,
  call: CheckedCall,
  ctx: CollectContext,
  eventId: string,
  time: EventTime,
): Validated<Touchpoint> {
  let draft: Draft;
  switch (type) {
    case 'track':
      draft = trackDraft(call, ctx, eventId);
      break;
    case 'identify':
      draft = identifyDraft(call);
      break;
    case 'page':
    case 'screen':
      draft = pageDraft(call, type);
      break;
    case 'alias':
      draft = aliasDraft(call);
      break;
    default: {
      const unreachable: never = type;
      throw new Error(`unknown call type ${String(unreachable)}`);
    }
  }

  const origins: Record<string, string> | undefined = draft.origins && {
    eventId: 'messageId',
    customerId: 'userId',
    anonymousId: 'anonymousId',
    occurredAt: 'timestamp',
    ...draft.origins,
  };
  const problems = draft.problems;
  if (time.outcome === 'refused')
    problems.push({ path: 'timestamp', rule: time.rule, message: time.message });
  const customerless = CUSTOMERLESS_TYPES.has(draft.type);
  if (!customerless && !call.userId && !call.anonymousId) {
    problems.push({ path: 'userId', rule: 'custom', message: 'userId or anonymousId is required' });
  }
  if (!origins && problems.length > 0) return { ok: false, problems: [] };

  const context = toContext(
    call.context,
    type === 'page' ? (call.properties ?? undefined) : undefined,
    origins,
  );
  const candidate: Record<string, unknown> = { eventId, type: draft.type };
  if (call.userId) candidate.customerId = call.userId;
  if (call.anonymousId) candidate.anonymousId = call.anonymousId;
  candidate.occurredAt = time.outcome === 'refused' ? ctx.receivedAt : time.occurredAt;
  candidate.receivedAt = ctx.receivedAt;
  candidate.source = { kind: ctx.source.kind, name: ctx.source.name };
  if (context) candidate.context = context;
  candidate.payload = draft.payload;
  const checked = checkTouchpoint(candidate, origins ?? {});
  if (checked.ok && problems.length === 0) return checked;
  if (!origins) return { ok: false, problems: [] };

  // A contract problem at, under or above a field the mapping already reported (a price it could not
  // convert, the identity rule in the sender's terms) is the same problem once.
  const related = (a: string, b: string): boolean =>
    a === b || a.startsWith(`${b}.`) || b.startsWith(`${a}.`);
  if (!checked.ok) {
    for (const p of checked.problems) {
      if (problems.some((q) => related(q.path, p.path))) continue;
      problems.push(p);
    }
  }
  return { ok: false, problems };
}

/**
 * A whole request body to touchpoints: all of them, or every problem in the request with its path (batch
 * calls prefixed `batch.<index>`). A request with any problem yields no touchpoints at all.
 */
export function mapSegmentRequest(
  route: SegmentCallType | 'batch',
  body: unknown,
  ctx: CollectContext,
): MappedRequest {
  if (route !== 'batch') {
    const one = mapSegmentCall(route, body, ctx);
    if (!one.ok) return one;
    return {
      ok: true,
      value: markContractChecked([one.value]),
      clamped: one.clamped ? [one.clamped] : NONE_CLAMPED,
    };
  }
  const parsed = validateWith(SegmentBatch, body);
  if (!parsed.ok) return parsed;
  // Segment's batch carries sentAt on the envelope (analytics.js, analytics-node); a call may carry its own.
  const envelope: BatchEnvelope = {
    context: parsed.value.context,
    sentAt: sentAtMillis(parsed.value.sentAt),
  };
  const touchpoints: Touchpoint[] = [];
  const problems: ValidationProblem[] = [];
  let clamped: ClampedTime[] | undefined;
  parsed.value.batch.forEach((call, i) => {
    const type = isObject(call) ? call.type : undefined;
    if (typeof type !== 'string' || !(SEGMENT_CALL_TYPES as readonly string[]).includes(type)) {
      problems.push({
        path: `batch.${i}.type`,
        rule: 'invalid_value',
        message: `must be one of ${SEGMENT_CALL_TYPES.join(', ')}`,
      });
      return;
    }
    const mapped = mapSegmentCall(type as SegmentCallType, call, ctx, envelope);
    if (!mapped.ok) {
      problems.push(...prefixProblems(`batch.${i}`, mapped.problems));
      return;
    }
    touchpoints.push(mapped.value);
    if (mapped.clamped) (clamped ??= []).push({ ...mapped.clamped, path: `batch.${i}` });
  });
  // Every touchpoint here is one checkTouchpoint returned (mapSegmentCall), so publishing need not
  // validate them again.
  return problems.length > 0
    ? { ok: false, problems }
    : { ok: true, value: markContractChecked(touchpoints), clamped: clamped ?? NONE_CLAMPED };
}
