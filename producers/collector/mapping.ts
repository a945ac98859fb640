/**
 * Segment calls to ciclo touchpoints: a pure function of the request body, the source it was sent with,
 * the time the collector received it and the default currency. No I/O, no clock, no randomness.
 *
 * - page/screen -> PageViewed; identify -> Identified; alias -> Aliased.
 * - track -> a typed touchpoint when the event name is one of Segment's spec events that ciclo models
 *   (Ecommerce spec v2 "Order Completed"/"Order Refunded", Email spec events, and the lifecycle events in
 *   TRACK_MAPPERS, track-mappers.ts), else Tracked with the properties as strings.
 * - eventId is the call's messageId (Segment's idempotency key) scoped by the write key's source
 *   (`seg:<source>:<messageId>`, schemas/event-id.ts: no client can send an id another source mints) or,
 *   without one, a hash of the call's content, so a retried call yields the same id either way. occurredAt is the call's timestamp corrected
 *   for the sender's clock by sentAt, then bounded by the kind of write key (event-time.ts: a browser key's
 *   time outside the window is clamped to receivedAt, a server key's too far ahead is a problem at
 *   `timestamp`); without a timestamp it is the time the call was received.
 *
 * - URLs keep less (../edge/url-minimization.ts): the page URL, a PageViewed path and a clicked link keep
 *   scheme, host, port, path and the `utm_*` and allowed query parameters; the referrer keeps its origin.
 *   UTM fields are read before, from the URL as sent. `context.ip` is dropped, or truncated when configured
 *   (ip-address.ts).
 *
 * Every problem is reported with the path of the field in the call (`properties.total`), not in the
 * touchpoint; a request is judged call by call in request.ts.
 */
import { CUSTOMERLESS_TYPES, type Touchpoint } from '../../schemas/touchpoint';
import { validateWith, type Validated, type ValidationProblem } from '../../schemas/validation';
import { checkTouchpoint } from '../edge/check';
import { collectorEventId, contentEventId } from '../../schemas/event-id';
import type { QueryAllowlist } from '../edge/url-minimization';
import {
  asId,
  asKeptReferrer,
  asKeptUrl,
  asStrings,
  isObject,
  newDraft,
  put,
  recordingOriginsIn,
  type Draft,
  type Props,
} from './draft';
import { decideEventTime, type ClampReason, type EventTime } from './event-time';
import { retainedIp, type IpRetention } from './ip-address';
import { TRACK_MAPPERS } from './track-mappers';
import {
  asParsedCall,
  CALL_SCHEMAS,
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
  /** Query parameters a URL keeps besides `utm_*` (CICLO_URL_QUERY_ALLOWLIST). */
  readonly urlQueryAllowlist: QueryAllowlist;
  /** What of `context.ip` is kept (CICLO_COLLECTOR_IP). */
  readonly ipRetention: IpRetention;
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

function pageDraft(call: SegmentPage, kind: 'page' | 'screen', ctx: CollectContext): Draft {
  const props = call.properties ?? {};
  const d = newDraft('PageViewed', 'properties');
  const page = call.context?.page;
  if (kind === 'page') {
    const path = asKeptUrl(props.path ?? page?.path, ctx.urlQueryAllowlist);
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
 * Segment's context to the touchpoint's; UTM parameters fall back to the page URL's query string. The page
 * URL and referrer keep less, and the IP address is kept only as configured (see the top of this file).
 * Records where each field came from in `origins`, when given.
 */
function toContext(
  context: SegmentContext | null | undefined,
  pageProps: Props | undefined,
  origins: Record<string, string> | undefined,
  ctx: CollectContext,
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
  set(
    'pageUrl',
    asKeptUrl(pageUrl, ctx.urlQueryAllowlist),
    context?.page?.url ? 'context.page.url' : 'properties.url',
  );
  const referrer = context?.page?.referrer ?? pageProps?.referrer;
  set(
    'referrer',
    asKeptReferrer(referrer),
    context?.page?.referrer ? 'context.page.referrer' : 'properties.referrer',
  );
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
  const ip = context?.ip;
  set('ip', typeof ip === 'string' ? retainedIp(ip, ctx.ipRetention) : ip, 'context.ip');
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
    ? collectorEventId(ctx.source.name, call.messageId)
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
  return recordingOriginsIn(() => touchpointOf(type, call, ctx, eventId, time));
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
      draft = pageDraft(call, type, ctx);
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
    ctx,
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
