/**
 * Pure mapping from ciclo's Kafka values to ClickHouse rows (tables in projections/migrations/sql). Times
 * become DateTime strings in UTC ('YYYY-MM-DD hh:mm:ss', which 18.16 and 26.x both parse) plus exact
 * milliseconds where ordering matters. The projection time is passed in, never read from a clock here.
 */
import type { CustomerSnapshot, StageChanged } from '../../schemas/outputs';
import type { Touchpoint } from '../../schemas/touchpoint';

export type Row = Record<string, string | number | readonly string[]>;

/** '00'..'59': the two-digit fields of a time. */
const TWO_DIGITS: readonly string[] = Array.from({ length: 60 }, (_, n) => (n < 10 ? `0${n}` : `${n}`));
const DAY_MS = 86_400_000;
/** 'YYYY-MM-DD ' by day since the epoch; cleared when it holds more than DAY_CACHE_LIMIT days. */
const dayPrefixes = new Map<number, string>();
const DAY_CACHE_LIMIT = 10_000;

/**
 * 'YYYY-MM-DD hh:mm:ss' in UTC, which 18.16 and 26.x both parse. This runs for every time of every projected
 * row (four per touchpoint): the profile of the projector had Date objects and their six UTC getters at 3% of
 * its CPU. The date part is computed once per day and remembered; the time of day is arithmetic. Years
 * outside 1000-9999 do not occur (the contracts bound times to 1990 onwards).
 */
export function dateTime(ms: number | undefined): string {
  const t = ms ?? 0;
  const day = Math.floor(t / DAY_MS);
  let prefix = dayPrefixes.get(day);
  if (prefix === undefined) {
    const d = new Date(day * DAY_MS);
    prefix = `${d.getUTCFullYear()}-${TWO_DIGITS[d.getUTCMonth() + 1]!}-${TWO_DIGITS[d.getUTCDate()]!} `;
    if (dayPrefixes.size >= DAY_CACHE_LIMIT) dayPrefixes.clear();
    dayPrefixes.set(day, prefix);
  }
  const secondOfDay = Math.floor((t - day * DAY_MS) / 1000);
  const hours = Math.floor(secondOfDay / 3600);
  const minutes = Math.floor((secondOfDay % 3600) / 60);
  return `${prefix}${TWO_DIGITS[hours]!}:${TWO_DIGITS[minutes]!}:${TWO_DIGITS[secondOfDay % 60]!}`;
}

/** The marketing channel of a touch: UTM source, else the referrer's host, else 'direct'. */
export function channelOf(tp: Touchpoint): string {
  if (tp.type === 'MarketingSpendRecorded') return tp.payload.channel;
  const utm = tp.context?.utmSource;
  if (utm) return utm.toLowerCase();
  const referrer = tp.context?.referrer;
  if (referrer) {
    try {
      return new URL(referrer).hostname.replace(/^www\./, '');
    } catch {
      return 'referral';
    }
  }
  return 'direct';
}

export function toTouchpointRow(tp: Touchpoint, projectedAtMs: number): Row {
  let orderId = '';
  let amountMinor = 0;
  let currency = '';
  let nps = -1;
  let csat = -1;
  let periodStart = 0;
  let periodEnd = 0;
  let campaign = tp.context?.utmCampaign ?? '';
  switch (tp.type) {
    case 'PurchaseCompleted':
      ({ orderId, amountMinor, currency } = tp.payload);
      break;
    case 'RefundIssued':
      ({ orderId, amountMinor, currency } = tp.payload);
      break;
    case 'MarketingSpendRecorded':
      ({ amountMinor, currency, periodStart, periodEnd } = tp.payload);
      campaign = tp.payload.campaign ?? '';
      break;
    case 'SurveyAnswered':
      nps = tp.payload.nps ?? -1;
      csat = tp.payload.csat ?? -1;
      break;
    case 'SupportTicketResolved':
      csat = tp.payload.satisfaction ?? -1;
      break;
    case 'EmailSent':
    case 'EmailDelivered':
    case 'EmailOpened':
    case 'EmailClicked':
    case 'EmailBounced':
    case 'EmailUnsubscribed':
      campaign = tp.payload.campaignId;
      break;
    default:
      break;
  }
  return {
    event_id: tp.eventId,
    type: tp.type,
    customer_id: tp.customerId ?? '',
    anonymous_id: tp.anonymousId ?? '',
    occurred_at: dateTime(tp.occurredAt),
    occurred_at_ms: tp.occurredAt,
    received_at: dateTime(tp.receivedAt),
    source_kind: tp.source.kind,
    source_name: tp.source.name,
    channel: channelOf(tp),
    campaign,
    referrer: tp.context?.referrer ?? '',
    page_url: tp.context?.pageUrl ?? '',
    order_id: orderId,
    amount_minor: amountMinor,
    currency,
    nps,
    csat,
    period_start: dateTime(periodStart),
    period_end: dateTime(periodEnd),
    payload: JSON.stringify(tp.payload),
    projected_at: dateTime(projectedAtMs),
  };
}

export function toStageChangeRow(sc: StageChanged, projectedAtMs: number): Row {
  return {
    event_id: sc.eventId,
    customer_id: sc.customerId,
    model_id: sc.modelId,
    model_version: sc.modelVersion,
    from_stage: sc.fromStage ?? '',
    to_stage: sc.toStage,
    rule_id: sc.ruleId,
    triggering_event_ids: sc.triggeringEventIds,
    occurred_at: dateTime(sc.occurredAt),
    occurred_at_ms: sc.occurredAt,
    sequence: sc.sequence,
    reason: sc.reason ?? '',
    projected_at: dateTime(projectedAtMs),
  };
}

export function toCustomerStateRow(s: CustomerSnapshot, projectedAtMs: number): Row {
  return {
    customer_id: s.customerId,
    model_id: s.modelId,
    model_version: s.modelVersion,
    stage: s.stage,
    stage_entered_at: dateTime(s.stageEnteredAt),
    sequence: s.sequence,
    first_seen_at: dateTime(s.firstSeenAt),
    last_seen_at: dateTime(s.lastSeenAt),
    acquisition_channel: s.acquisitionChannel ?? '',
    acquisition_campaign: s.acquisitionCampaign ?? '',
    converting_channel: s.convertingChannel ?? '',
    first_purchase_at: dateTime(s.firstPurchaseAt),
    last_purchase_at: dateTime(s.lastPurchaseAt),
    orders: s.orders,
    net_revenue_minor: s.netRevenueMinor,
    currency: s.currency ?? '',
    purchase_cadence_days: s.purchaseCadenceDays ?? 0,
    emails_opened: s.emailsOpened,
    emails_clicked: s.emailsClicked,
    unsubscribed: s.unsubscribed ? 1 : 0,
    latest_nps: s.latestNps ?? -1,
    latest_csat: s.latestCsat ?? -1,
    open_tickets: s.openTickets,
    referrals_made: s.referralsMade,
    updated_at_ms: s.updatedAt,
    merged_into: '',
    projected_at: dateTime(projectedAtMs),
  };
}

/** A profile merged into another customer, as its snapshot tombstone tells (projector.ts `removalOf`). */
export interface CustomerRemoval {
  readonly modelId: string;
  readonly customerId: string;
  /** The profile's last sequence. */
  readonly sequence: number;
  /** The customer it was merged into. */
  readonly mergedInto: string;
}

/**
 * The row that ends a profile merged into another customer: its last sequence (so it outranks the profile's
 * last snapshot, inserted before it), no stage, and `merged_into` naming the survivor. Queries of current
 * customers skip it (`merged_into = ''`), so a merged-away browser is no longer counted as a customer.
 */
export function toRemovedCustomerRow(removal: CustomerRemoval, projectedAtMs: number): Row {
  const never = dateTime(0);
  return {
    customer_id: removal.customerId,
    model_id: removal.modelId,
    model_version: 0,
    stage: '',
    stage_entered_at: never,
    sequence: removal.sequence,
    first_seen_at: never,
    last_seen_at: never,
    acquisition_channel: '',
    acquisition_campaign: '',
    converting_channel: '',
    first_purchase_at: never,
    last_purchase_at: never,
    orders: 0,
    net_revenue_minor: 0,
    currency: '',
    purchase_cadence_days: 0,
    emails_opened: 0,
    emails_clicked: 0,
    unsubscribed: 0,
    latest_nps: -1,
    latest_csat: -1,
    open_tickets: 0,
    referrals_made: 0,
    updated_at_ms: 0,
    merged_into: removal.mergedInto,
    projected_at: dateTime(projectedAtMs),
  };
}
