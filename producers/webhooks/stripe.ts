/**
 * Stripe webhook events (https://docs.stripe.com/api/events/object) to touchpoints. Pure.
 *
 * - checkout.session.completed (paid, one-time payment mode) and checkout.session.async_payment_succeeded
 *   -> PurchaseCompleted. Subscription-mode sessions are left to invoice.paid, which carries the lines.
 * - invoice.paid -> PurchaseCompleted with the invoice lines (credit lines, negative, are left out; the
 *   amount is what was paid).
 * - charge.succeeded -> PurchaseCompleted for charges outside invoices. Subscribe an endpoint to either
 *   checkout.session.completed or charge.succeeded for Checkout payments, not both: each is a purchase.
 * - charge.refunded -> RefundIssued for the newest refund (or, when the refunds list is not included, the
 *   increase of amount_refunded over previous_attributes).
 * - customer.subscription.created (active or trialing), .updated (incomplete -> active) and .deleted ->
 *   SubscriptionStarted / SubscriptionCancelled.
 * - anything else is ignored and reported as such.
 *
 * Money is already integer minor units in Stripe. The eventId is `stripe:<event id>`, so Stripe's retries of
 * one event are one touchpoint. The customer is `metadata.customer_id` when the integration sets it, else
 * Checkout's client_reference_id, else Stripe's customer id; with none, an anonymous id from the email.
 * The order id is `metadata.order_id`, else the invoice, else the PaymentIntent, so a purchase and its
 * refunds share it.
 */
import { z } from 'zod';
import type { Touchpoint, TouchpointType } from '../../schemas/touchpoint';
import { problemsOf } from '../../schemas/validation';
import { checkTouchpoint, type Origins } from '../edge/check';
import { providerEventId } from '../../schemas/event-id';
import { emailAnonymousId } from '../../schemas/pseudonym';
import { isRecord, text, type WebhookContext, type WebhookMapping } from './outcome';

const StripeEvent = z.looseObject({
  id: z.string().min(1),
  type: z.string().min(1),
  created: z.int().positive(),
  data: z.looseObject({
    object: z.record(z.string(), z.unknown()),
    previous_attributes: z.record(z.string(), z.unknown()).nullish(),
  }),
});
type StripeEvent = z.infer<typeof StripeEvent>;
type StripeObject = Readonly<Record<string, unknown>>;

type Mapped =
  | {
      readonly kind: 'touchpoint';
      readonly type: TouchpointType;
      readonly payload: Record<string, unknown>;
      readonly origins: Record<string, string>;
      readonly obj: StripeObject;
    }
  | { readonly kind: 'ignored'; readonly reason: string };

const ignored = (reason: string): Mapped => ({ kind: 'ignored', reason });

const O = 'data.object';

function metadata(obj: StripeObject): StripeObject {
  return isRecord(obj.metadata) ? obj.metadata : {};
}

/** A Stripe reference is an id string, or the expanded object with an `id`. */
function ref(value: unknown): string | undefined {
  if (typeof value === 'string' && value) return value;
  return isRecord(value) ? text(value.id) : undefined;
}

function currencyOf(obj: StripeObject): unknown {
  return typeof obj.currency === 'string' ? obj.currency.toUpperCase() : obj.currency;
}

function orderIdOf(obj: StripeObject): { value: string | undefined; origin: string } {
  const meta = text(metadata(obj).order_id);
  if (meta) return { value: meta, origin: `${O}.metadata.order_id` };
  if (obj.object === 'invoice') return { value: ref(obj.id), origin: `${O}.id` };
  const invoice = ref(obj.invoice);
  if (invoice) return { value: invoice, origin: `${O}.invoice` };
  const intent = ref(obj.payment_intent);
  if (intent) return { value: intent, origin: `${O}.payment_intent` };
  return { value: ref(obj.id), origin: `${O}.id` };
}

function purchase(
  obj: StripeObject,
  amount: { value: unknown; field: string },
  lines: { items: Record<string, unknown>[]; field: string },
  coupon?: string,
): Mapped {
  const order = orderIdOf(obj);
  return {
    kind: 'touchpoint',
    type: 'PurchaseCompleted',
    obj,
    payload: {
      orderId: order.value,
      lineItems: lines.items,
      amountMinor: amount.value,
      currency: currencyOf(obj),
      ...(coupon ? { coupon } : {}),
    },
    origins: {
      'payload.orderId': order.origin,
      'payload.amountMinor': `${O}.${amount.field}`,
      'payload.currency': `${O}.currency`,
      'payload.lineItems': `${O}.${lines.field}`,
    },
  };
}

function couponOf(obj: StripeObject): string | undefined {
  const discounts = Array.isArray(obj.discounts) ? (obj.discounts as unknown[]) : [];
  for (const d of [obj.discount, ...discounts]) {
    if (!isRecord(d)) continue;
    const coupon = ref(d.coupon) ?? (isRecord(d.source) ? ref(d.source.coupon) : undefined);
    if (coupon) return coupon;
  }
  return undefined;
}

function checkoutSession(obj: StripeObject): Mapped {
  if (obj.mode === 'subscription') return ignored('subscription checkout: invoice.paid reports the payment');
  if (obj.mode === 'setup') return ignored('setup checkout: no payment');
  if (obj.payment_status === 'unpaid') {
    return ignored('payment not completed yet: checkout.session.async_payment_succeeded follows');
  }
  // Line items are not in the event unless expanded; when they are, they are recorded.
  const lines =
    isRecord(obj.line_items) && Array.isArray(obj.line_items.data) ? (obj.line_items.data as unknown[]) : [];
  const items = lines.filter(isRecord).map((li) => {
    const price = isRecord(li.price) ? li.price : {};
    const quantity = typeof li.quantity === 'number' ? li.quantity : 1;
    return {
      sku: ref(price.product) ?? ref(price.id) ?? ref(li.id),
      ...(text(li.description) ? { name: li.description } : {}),
      quantity,
      unitPriceMinor:
        typeof price.unit_amount === 'number'
          ? price.unit_amount
          : unitFromTotal(li.amount_subtotal, quantity),
    };
  });
  return purchase(
    obj,
    { value: obj.amount_total, field: 'amount_total' },
    { items, field: 'line_items.data' },
    couponOf(obj),
  );
}

/** A line's unit price from its total when Stripe gives no unit amount (exact only when it divides). */
function unitFromTotal(total: unknown, quantity: number): unknown {
  return typeof total === 'number' && quantity > 0 && total % quantity === 0 ? total / quantity : total;
}

function invoicePaid(obj: StripeObject): Mapped {
  if (obj.amount_paid === 0) return ignored('nothing was paid (for example a trial invoice)');
  const lines = isRecord(obj.lines) && Array.isArray(obj.lines.data) ? (obj.lines.data as unknown[]) : [];
  const items = lines
    .filter(isRecord)
    .filter((li) => !(typeof li.amount === 'number' && li.amount < 0))
    .map((li) => {
      const price = isRecord(li.price) ? li.price : {};
      const pricing =
        isRecord(li.pricing) && isRecord(li.pricing.price_details) ? li.pricing.price_details : {};
      const quantity = typeof li.quantity === 'number' && li.quantity > 0 ? li.quantity : 1;
      const unit =
        typeof price.unit_amount === 'number'
          ? price.unit_amount
          : typeof li.amount === 'number' && li.amount % quantity === 0
            ? li.amount / quantity
            : undefined;
      // Without an exact unit amount, the line is recorded as one unit of its total.
      return {
        sku: ref(pricing.price) ?? ref(price.id) ?? ref(li.id),
        ...(text(li.description) ? { name: li.description } : {}),
        quantity: unit === undefined ? 1 : quantity,
        unitPriceMinor: unit ?? li.amount,
      };
    });
  return purchase(
    obj,
    { value: obj.amount_paid, field: 'amount_paid' },
    { items, field: 'lines.data' },
    couponOf(obj),
  );
}

function chargeSucceeded(obj: StripeObject): Mapped {
  if (ref(obj.invoice)) return ignored('invoice payment: invoice.paid reports it with its lines');
  if (obj.captured === false) return ignored('authorized but not captured');
  const captured = typeof obj.amount_captured === 'number' && obj.amount_captured > 0;
  const amount = captured
    ? { value: obj.amount_captured, field: 'amount_captured' }
    : { value: obj.amount, field: 'amount' };
  return purchase(obj, amount, { items: [], field: 'amount' });
}

function chargeRefunded(obj: StripeObject, previous: StripeObject): Mapped {
  const order = orderIdOf(obj);
  const refunds =
    isRecord(obj.refunds) && Array.isArray(obj.refunds.data)
      ? (obj.refunds.data as unknown[]).filter(isRecord)
      : [];
  // Stripe lists refunds newest first.
  const newest = refunds[0];
  if (newest) {
    return {
      kind: 'touchpoint',
      type: 'RefundIssued',
      obj,
      payload: {
        orderId: order.value,
        refundId: ref(newest.id),
        amountMinor: newest.amount,
        currency: typeof newest.currency === 'string' ? newest.currency.toUpperCase() : currencyOf(obj),
        ...(text(newest.reason) ? { reason: newest.reason } : {}),
      },
      origins: {
        'payload.orderId': order.origin,
        'payload.refundId': `${O}.refunds.data.0.id`,
        'payload.amountMinor': `${O}.refunds.data.0.amount`,
        'payload.currency': `${O}.refunds.data.0.currency`,
        'payload.reason': `${O}.refunds.data.0.reason`,
      },
    };
  }
  const total = typeof obj.amount_refunded === 'number' ? obj.amount_refunded : undefined;
  const before = typeof previous.amount_refunded === 'number' ? previous.amount_refunded : 0;
  return {
    kind: 'touchpoint',
    type: 'RefundIssued',
    obj,
    payload: {
      orderId: order.value,
      // One charge.refunded per refund: the cumulative amount after it identifies the refund.
      refundId: total === undefined ? undefined : `${ref(obj.id) ?? 'charge'}:refunded:${total}`,
      amountMinor: total === undefined ? undefined : total - before,
      currency: currencyOf(obj),
    },
    origins: {
      'payload.orderId': order.origin,
      'payload.refundId': `${O}.amount_refunded`,
      'payload.amountMinor': `${O}.amount_refunded`,
      'payload.currency': `${O}.currency`,
    },
  };
}

function firstPrice(obj: StripeObject): StripeObject {
  const items = isRecord(obj.items) && Array.isArray(obj.items.data) ? (obj.items.data as unknown[]) : [];
  const first = items.find(isRecord);
  if (first && isRecord(first.price)) return first.price;
  return isRecord(obj.plan) ? obj.plan : {};
}

function subscriptionStarted(obj: StripeObject): Mapped {
  const price = firstPrice(obj);
  const recurring = isRecord(price.recurring) ? price.recurring : {};
  const interval = recurring.interval ?? price.interval;
  return {
    kind: 'touchpoint',
    type: 'SubscriptionStarted',
    obj,
    payload: {
      subscriptionId: ref(obj.id),
      plan: text(price.lookup_key) ?? text(price.nickname) ?? ref(price.id),
      ...(typeof price.unit_amount === 'number'
        ? { amountMinor: price.unit_amount, currency: currencyOf(price) }
        : {}),
      ...(interval !== undefined && interval !== null ? { interval } : {}),
    },
    origins: {
      'payload.subscriptionId': `${O}.id`,
      'payload.plan': `${O}.items.data.0.price.lookup_key`,
      'payload.amountMinor': `${O}.items.data.0.price.unit_amount`,
      'payload.currency': `${O}.items.data.0.price.currency`,
      'payload.interval': `${O}.items.data.0.price.recurring.interval`,
    },
  };
}

const ACTIVE = new Set(['active', 'trialing']);

function subscriptionCancelled(obj: StripeObject): Mapped {
  const details = isRecord(obj.cancellation_details) ? obj.cancellation_details : {};
  const reason = text(details.feedback) ?? text(details.comment) ?? text(details.reason);
  return {
    kind: 'touchpoint',
    type: 'SubscriptionCancelled',
    obj,
    payload: { subscriptionId: ref(obj.id), ...(reason ? { reason } : {}) },
    origins: { 'payload.subscriptionId': `${O}.id`, 'payload.reason': `${O}.cancellation_details` },
  };
}

function mapByType(event: StripeEvent): Mapped {
  const obj = event.data.object;
  const previous = event.data.previous_attributes ?? {};
  switch (event.type) {
    case 'checkout.session.completed':
    case 'checkout.session.async_payment_succeeded':
      return checkoutSession(obj);
    case 'invoice.paid':
      return invoicePaid(obj);
    case 'charge.succeeded':
      return chargeSucceeded(obj);
    case 'charge.refunded':
      return chargeRefunded(obj, previous);
    case 'customer.subscription.created':
      return ACTIVE.has(String(obj.status))
        ? subscriptionStarted(obj)
        : ignored(`subscription is ${String(obj.status)}; it starts when it becomes active`);
    case 'customer.subscription.updated':
      return previous.status === 'incomplete' && ACTIVE.has(String(obj.status))
        ? subscriptionStarted(obj)
        : ignored('subscription update that does not start it');
    case 'customer.subscription.deleted':
      return subscriptionCancelled(obj);
    default:
      return ignored(`event type ${event.type} is not mapped`);
  }
}

/**
 * Who the event is about: the integration's own id, else Checkout's reference, else Stripe's customer,
 * else the keyed pseudonym of the email (schemas/pseudonym.ts).
 */
function identityOf(
  obj: StripeObject,
  pseudonymSecret: Buffer,
): {
  fields: { customerId?: string; anonymousId?: string };
  origins: Record<string, string>;
} {
  const meta = text(metadata(obj).customer_id);
  if (meta) return { fields: { customerId: meta }, origins: { customerId: `${O}.metadata.customer_id` } };
  const reference = text(obj.client_reference_id);
  if (reference)
    return { fields: { customerId: reference }, origins: { customerId: `${O}.client_reference_id` } };
  const customer = ref(obj.customer);
  if (customer) return { fields: { customerId: customer }, origins: { customerId: `${O}.customer` } };
  const details = isRecord(obj.customer_details) ? obj.customer_details : {};
  const billing = isRecord(obj.billing_details) ? obj.billing_details : {};
  const email =
    text(details.email) ?? text(obj.customer_email) ?? text(billing.email) ?? text(obj.receipt_email);
  if (email) return { fields: { anonymousId: emailAnonymousId(pseudonymSecret, email) }, origins: {} };
  return { fields: {}, origins: { customerId: `${O}.customer` } };
}

export function mapStripeEvent(body: unknown, ctx: WebhookContext): WebhookMapping {
  const parsed = StripeEvent.safeParse(body);
  if (!parsed.success) return { ok: false, problems: problemsOf(parsed.error) };
  const event = parsed.data;
  const mapped = mapByType(event);
  if (mapped.kind === 'ignored')
    return { ok: true, touchpoints: [], ignored: [{ id: event.id, reason: mapped.reason }] };

  const identity = identityOf(mapped.obj, ctx.pseudonymSecret);
  const origins: Origins = { eventId: 'id', occurredAt: 'created', ...identity.origins, ...mapped.origins };
  const checked = checkTouchpoint(
    {
      eventId: providerEventId('stripe', event.id),
      type: mapped.type,
      ...identity.fields,
      occurredAt: event.created * 1000,
      receivedAt: ctx.receivedAt,
      source: { kind: 'webhook', name: 'stripe' },
      payload: mapped.payload,
    },
    origins,
  );
  if (!checked.ok) return checked;
  const touchpoint: Touchpoint = checked.value;
  return { ok: true, touchpoints: [touchpoint], ignored: [] };
}
