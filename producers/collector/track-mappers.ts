/**
 * Segment track events that ciclo models as typed touchpoints: the Ecommerce v2 and Email specs, and
 * lifecycle events named in the same "Object Action" convention. Each maps a call's properties to a draft
 * (draft.ts); any other event is a Tracked touchpoint (mapping.ts).
 */
import { UNCATEGORIZED_CAMPAIGN, type TouchpointType } from '../../schemas/touchpoint';
import {
  asCurrency,
  asId,
  asInt,
  asKeptUrl,
  asMillis,
  isObject,
  newDraft,
  origin,
  pick,
  put,
  putMoney,
  type Draft,
  type Props,
} from './draft';
import type { CollectContext } from './mapping';
import { toMinorUnits } from '../edge/money';

// --- track: Segment spec events ciclo models -------------------------------------------------------------

export type TrackMapper = (props: Props, ctx: CollectContext, eventId: string) => Draft;

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
  return (props, ctx) => {
    const d = newDraft(type, 'properties');
    const campaign = pick(props, ['campaign_id', 'campaign_name']);
    put(
      d,
      'campaignId',
      asId(campaign?.value) ?? UNCATEGORIZED_CAMPAIGN,
      `properties.${campaign?.key ?? 'campaign_id'}`,
    );
    put(d, 'messageId', asId(props.email_id), 'properties.email_id');
    if (type === 'EmailClicked')
      put(d, 'url', asKeptUrl(props.link_url, ctx.urlQueryAllowlist), 'properties.link_url');
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
