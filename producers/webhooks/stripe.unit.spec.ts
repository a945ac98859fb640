import chargeRefunded from './fixtures/stripe/charge.refunded.json';
import chargeSucceeded from './fixtures/stripe/charge.succeeded.json';
import checkoutCompleted from './fixtures/stripe/checkout.session.completed.json';
import subscriptionCreated from './fixtures/stripe/customer.subscription.created.json';
import subscriptionDeleted from './fixtures/stripe/customer.subscription.deleted.json';
import invoicePaid from './fixtures/stripe/invoice.paid.json';
import paymentIntentCreated from './fixtures/stripe/payment_intent.created.json';
import { emailAnonymousId } from '../../schemas/pseudonym';
import { TEST_PSEUDONYM_SECRET } from './fakes';
import type { WebhookMapping } from './outcome';
import { mapStripeEvent } from './stripe';

const receivedAt = Date.UTC(2026, 2, 14, 9, 31);
const map = (event: unknown): WebhookMapping =>
  mapStripeEvent(event, { receivedAt, pseudonymSecret: TEST_PSEUDONYM_SECRET, urlQueryAllowlist: [] });
const copy = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
/** A copy of a fixture event with some fields of its data.object changed. */
function changed(
  event: { data: { object: object } },
  fields: Record<string, unknown>,
  previous?: Record<string, unknown>,
) {
  const result = copy(event) as { data: { object: Record<string, unknown>; previous_attributes?: unknown } };
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) delete result.data.object[key];
    else result.data.object[key] = value;
  }
  if (previous) result.data.previous_attributes = previous;
  return result;
}

function only(result: WebhookMapping) {
  if (!result.ok) throw new Error(`expected a touchpoint, got ${JSON.stringify(result.problems)}`);
  expect(result.touchpoints).toHaveLength(1);
  return result.touchpoints[0]!;
}

describe('Stripe events to touchpoints', () => {
  it('checkout.session.completed (paid) -> PurchaseCompleted for the client_reference_id', () => {
    expect(only(map(checkoutCompleted))).toEqual({
      eventId: 'stripe:evt_1PqR7sLkdIwHu7ix5tNvb0Ck',
      type: 'PurchaseCompleted',
      customerId: 'cus_8c1f2a',
      occurredAt: 1773480600_000,
      receivedAt,
      source: { kind: 'webhook', name: 'stripe' },
      payload: {
        orderId: 'pi_3PqR7qLkdIwHu7ix0n5N1f2a',
        lineItems: [],
        amountMinor: 3297,
        currency: 'EUR',
        coupon: 'SPRING10',
      },
    });
  });

  it('invoice.paid -> PurchaseCompleted with the invoice lines, credit lines left out', () => {
    const tp = only(map(invoicePaid));
    expect(tp).toMatchObject({
      eventId: 'stripe:evt_1PqS0aLkdIwHu7ixQ9s2mZ1b',
      customerId: 'cus_NeZwdNtLEOXuvB',
      payload: {
        orderId: 'in_1PqS0YLkdIwHu7ixUm3Pz0Qw',
        amountMinor: 1500,
        currency: 'EUR',
        lineItems: [
          {
            sku: 'price_1PqRzzLkdIwHu7ixvinylclub',
            name: '1 × Vinyl Club (at €20.00 / month)',
            quantity: 1,
            unitPriceMinor: 2000,
          },
        ],
      },
    });
  });

  it('charge.succeeded -> PurchaseCompleted keyed by metadata.order_id; a guest is known by an email-derived id', () => {
    const tp = only(map(chargeSucceeded));
    expect(tp).toMatchObject({
      type: 'PurchaseCompleted',
      anonymousId: emailAnonymousId(TEST_PSEUDONYM_SECRET, 'jenny.rosen@example.com'),
      payload: { orderId: 'ord_1043', amountMinor: 1299, currency: 'USD', lineItems: [] },
    });
    expect(tp.customerId).toBeUndefined();
    expect(JSON.stringify(tp)).not.toContain('jenny');
  });

  it('charge.refunded -> RefundIssued for the newest refund, with the order id of the purchase', () => {
    expect(only(map(chargeRefunded))).toMatchObject({
      type: 'RefundIssued',
      customerId: 'cus_8c1f2a',
      occurredAt: 1774000000_000,
      payload: {
        orderId: 'pi_3PqR7qLkdIwHu7ix0n5N1f2a',
        refundId: 're_3PqU2bLkdIwHu7ix0rEfUnD1',
        amountMinor: 999,
        currency: 'EUR',
        reason: 'requested_by_customer',
      },
    });
  });

  it('charge.refunded without the refunds list: the increase of amount_refunded', () => {
    const event = changed(
      chargeRefunded,
      { refunds: undefined, amount_refunded: 1500 },
      { amount_refunded: 999 },
    );
    expect(only(map(event)).payload).toEqual({
      orderId: 'pi_3PqR7qLkdIwHu7ix0n5N1f2a',
      refundId: 'ch_3PqR7qLkdIwHu7ix0gHk1l2m:refunded:1500',
      amountMinor: 501,
      currency: 'EUR',
    });
  });

  it('customer.subscription.created/deleted -> SubscriptionStarted/SubscriptionCancelled', () => {
    expect(only(map(subscriptionCreated))).toMatchObject({
      type: 'SubscriptionStarted',
      customerId: 'cus_8c1f2a',
      payload: {
        subscriptionId: 'sub_1MowQVLkdIwHu7ixeRlqHVzs',
        plan: 'vinyl-club-monthly',
        amountMinor: 2000,
        currency: 'EUR',
        interval: 'month',
      },
    });
    expect(only(map(subscriptionDeleted))).toMatchObject({
      type: 'SubscriptionCancelled',
      customerId: 'cus_8c1f2a',
      payload: { subscriptionId: 'sub_1MowQVLkdIwHu7ixeRlqHVzs', reason: 'too_expensive' },
    });
  });

  it('ignores, and says why, what is not a purchase, a refund or a subscription change', () => {
    const ignoredReason = (event: unknown): string | undefined => {
      const result = map(event);
      return result.ok && result.touchpoints.length === 0 ? result.ignored[0]?.reason : undefined;
    };
    expect(ignoredReason(paymentIntentCreated)).toBe('event type payment_intent.created is not mapped');
    expect(ignoredReason(changed(checkoutCompleted, { payment_status: 'unpaid' }))).toMatch(
      /async_payment_succeeded follows/,
    );
    expect(ignoredReason(changed(checkoutCompleted, { mode: 'subscription' }))).toMatch(
      /invoice.paid reports/,
    );
    expect(ignoredReason(changed(chargeSucceeded, { invoice: 'in_1' }))).toMatch(/invoice.paid reports it/);
    expect(ignoredReason(changed(invoicePaid, { amount_paid: 0 }))).toMatch(/nothing was paid/);
    expect(ignoredReason(changed(subscriptionCreated, { status: 'incomplete' }))).toMatch(
      /subscription is incomplete/,
    );
  });

  it('a redelivered event is the same touchpoint', () => {
    expect(map(copy(checkoutCompleted))).toEqual(map(checkoutCompleted));
  });

  it('reports problems with the Stripe field path', () => {
    expect(map(changed(chargeSucceeded, { currency: 'dollars' }))).toEqual({
      ok: false,
      problems: [
        {
          path: 'data.object.currency',
          rule: 'invalid_format',
          message: 'must be a three-letter ISO 4217 code such as USD',
        },
      ],
    });
    expect(map({ id: 'evt_1', type: 'charge.succeeded' })).toEqual({
      ok: false,
      problems: [expect.objectContaining({ path: 'created' }), expect.objectContaining({ path: 'data' })],
    });
  });
});
