/**
 * Touchpoints back to the Segment calls a website or backend would have sent for them, so simulated
 * journeys can go in through the collector (`ciclo simulate --collector`, the demo, the collector benchmark)
 * exactly as real traffic does. Pure. The inverse of producers/collector/mapping.ts: a unit test maps every
 * simulated touchpoint through here and back and gets the same touchpoint (event time = timestamp; eventId
 * = the messageId as the collector scopes it by the write key's source, `collectedAs`), so the collector
 * path and the direct-to-Kafka path produce the same events, under the collector's ids.
 */
import { collectorEventId } from '../../schemas/event-id';
import type { Touchpoint } from '../../schemas/touchpoint';
import { minorUnitExponent } from '../edge/money';

export interface SegmentCallBody {
  readonly type: 'track' | 'identify' | 'page' | 'alias';
  readonly messageId: string;
  readonly timestamp: string;
  readonly userId?: string;
  readonly anonymousId?: string;
  readonly context?: Record<string, unknown>;
  readonly [field: string]: unknown;
}

/** Minor units to the decimal text Segment senders use ("19.99"), exact for every currency exponent. */
function major(minor: number, currency: string): string {
  const digits = minorUnitExponent(currency);
  if (digits === 0) return String(minor);
  const text = String(Math.abs(minor)).padStart(digits + 1, '0');
  return `${minor < 0 ? '-' : ''}${text.slice(0, -digits)}.${text.slice(-digits)}`;
}

const iso = (ms: number): string => new Date(ms).toISOString();

function segmentContext(tp: Touchpoint): Record<string, unknown> | undefined {
  const c = tp.context;
  if (!c) return undefined;
  const campaign = {
    ...(c.utmSource !== undefined ? { source: c.utmSource } : {}),
    ...(c.utmMedium !== undefined ? { medium: c.utmMedium } : {}),
    ...(c.utmCampaign !== undefined ? { name: c.utmCampaign } : {}),
    ...(c.utmTerm !== undefined ? { term: c.utmTerm } : {}),
    ...(c.utmContent !== undefined ? { content: c.utmContent } : {}),
  };
  const page = {
    ...(c.pageUrl !== undefined ? { url: c.pageUrl } : {}),
    ...(c.referrer !== undefined ? { referrer: c.referrer } : {}),
  };
  return {
    ...(Object.keys(page).length > 0 ? { page } : {}),
    ...(Object.keys(campaign).length > 0 ? { campaign } : {}),
    ...(c.userAgent !== undefined ? { userAgent: c.userAgent } : {}),
    ...(c.ip !== undefined ? { ip: c.ip } : {}),
    ...(c.locale !== undefined ? { locale: c.locale } : {}),
  };
}

/** Drops undefined fields, so the call carries only what the touchpoint has. */
function defined(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
}

function trackOf(tp: Touchpoint): { event: string; properties: Record<string, unknown> } {
  switch (tp.type) {
    case 'PurchaseCompleted': {
      const p = tp.payload;
      return {
        event: 'Order Completed',
        properties: defined({
          order_id: p.orderId,
          total: major(p.amountMinor, p.currency),
          currency: p.currency,
          coupon: p.coupon,
          products: p.lineItems.map((li) =>
            defined({
              sku: li.sku,
              name: li.name,
              category: li.category,
              quantity: li.quantity,
              price: major(li.unitPriceMinor, p.currency),
            }),
          ),
        }),
      };
    }
    case 'RefundIssued': {
      const p = tp.payload;
      return {
        event: 'Order Refunded',
        properties: defined({
          order_id: p.orderId,
          refund_id: p.refundId,
          total: major(p.amountMinor, p.currency),
          currency: p.currency,
          reason: p.reason,
        }),
      };
    }
    case 'EmailSent':
    case 'EmailDelivered':
    case 'EmailOpened':
    case 'EmailClicked':
    case 'EmailBounced':
    case 'EmailUnsubscribed': {
      const p = tp.payload;
      const event = {
        EmailSent: 'Email Sent',
        EmailDelivered: 'Email Delivered',
        EmailOpened: 'Email Opened',
        EmailClicked: 'Email Link Clicked',
        EmailBounced: 'Email Bounced',
        EmailUnsubscribed: 'Email Unsubscribed',
      }[tp.type];
      return {
        event,
        properties: defined({
          campaign_id: p.campaignId,
          email_id: p.messageId,
          link_url: p.url,
          bounce_type: p.bounceType,
        }),
      };
    }
    case 'SubscriptionStarted': {
      const p = tp.payload;
      return {
        event: 'Subscription Started',
        properties: defined({
          subscription_id: p.subscriptionId,
          plan: p.plan,
          amount: p.amountMinor !== undefined && p.currency ? major(p.amountMinor, p.currency) : undefined,
          currency: p.currency,
          interval: p.interval,
        }),
      };
    }
    case 'SubscriptionCancelled':
      return {
        event: 'Subscription Cancelled',
        properties: defined({ subscription_id: tp.payload.subscriptionId, reason: tp.payload.reason }),
      };
    case 'SurveyAnswered':
      return {
        event: 'Survey Answered',
        properties: defined({
          survey_id: tp.payload.surveyId,
          nps: tp.payload.nps,
          csat: tp.payload.csat,
          comment: tp.payload.comment,
        }),
      };
    case 'SupportTicketOpened':
      return {
        event: 'Ticket Opened',
        properties: defined({
          ticket_id: tp.payload.ticketId,
          subject: tp.payload.subject,
          priority: tp.payload.priority,
        }),
      };
    case 'SupportTicketResolved':
      return {
        event: 'Ticket Resolved',
        properties: defined({ ticket_id: tp.payload.ticketId, satisfaction: tp.payload.satisfaction }),
      };
    case 'ReferralMade':
      return {
        event: 'Referral Made',
        properties: defined({ referral_id: tp.payload.referralId, referee_id: tp.payload.refereeId }),
      };
    case 'MarketingSpendRecorded': {
      const p = tp.payload;
      return {
        event: 'Marketing Spend Recorded',
        properties: defined({
          channel: p.channel,
          campaign: p.campaign,
          amount: major(p.amountMinor, p.currency),
          currency: p.currency,
          period_start: iso(p.periodStart),
          period_end: iso(p.periodEnd),
        }),
      };
    }
    case 'Tracked':
      return { event: tp.payload.event, properties: { ...tp.payload.properties } };
    case 'PageViewed':
    case 'Identified':
    case 'Aliased':
      throw new Error(`${tp.type} is not a track call`);
    case 'ClvPredicted':
      throw new Error("ClvPredicted is ciclo's own score, not something a website or backend sends");
    default: {
      const unreachable: never = tp;
      throw new Error(`unknown touchpoint type ${(unreachable as Touchpoint).type}`);
    }
  }
}

/** The Segment call (as in a /v1/batch body) that the collector maps to this touchpoint. */
export function toSegmentCall(tp: Touchpoint): SegmentCallBody {
  const context = segmentContext(tp);
  const envelope = {
    messageId: tp.eventId,
    timestamp: iso(tp.occurredAt),
    ...(tp.customerId !== undefined ? { userId: tp.customerId } : {}),
    ...(tp.anonymousId !== undefined ? { anonymousId: tp.anonymousId } : {}),
    ...(context ? { context } : {}),
  };
  switch (tp.type) {
    case 'PageViewed':
      return {
        ...envelope,
        type: 'page',
        properties: defined({
          path: tp.payload.path,
          title: tp.payload.title,
          category: tp.payload.category,
        }),
      };
    case 'Identified':
      return {
        ...envelope,
        type: 'identify',
        traits: defined({
          ...tp.payload.traits,
          email: tp.payload.email,
          name: tp.payload.name,
          plan: tp.payload.plan,
        }),
      };
    case 'Aliased':
      return { ...envelope, type: 'alias', previousId: tp.payload.previousId };
    default:
      return { ...envelope, type: 'track', ...trackOf(tp) };
  }
}

/**
 * The touchpoint the collector makes of `toSegmentCall(tp)` sent with a write key of `source`: `tp` under
 * the collector's eventId for its messageId (schemas/event-id.ts collectorEventId: `seg:<source>:<id>`).
 */
export function collectedAs(tp: Touchpoint, source: string): Touchpoint {
  return { ...tp, eventId: collectorEventId(source, tp.eventId) };
}
