import { mapSegmentRequest } from '../collector/mapping';
import { TOUCHPOINT_TYPES, type Touchpoint } from '../../schemas/touchpoint';
import { toSegmentCall } from './segment-calls';
import { DEFAULT_START, simulate } from './simulate';

const ctx = {
  source: { kind: 'api' as const, name: 'sim' },
  receivedAt: 1_800_000_000_000,
  defaultCurrency: 'USD',
};

/** What the collector cannot reproduce from a call: where and when it received it. */
const comparable = (tp: Touchpoint) => ({ ...tp, receivedAt: 0, source: undefined });

describe('simulated touchpoints as Segment calls', () => {
  const events = simulate({ customers: 400, seed: 11, days: 365, start: DEFAULT_START });

  it('come back from the collector mapping as the same touchpoints', () => {
    const mapped = mapSegmentRequest('batch', { batch: events.map(toSegmentCall) }, ctx);
    if (!mapped.ok) throw new Error(JSON.stringify(mapped.problems.slice(0, 3)));
    expect(mapped.value.map(comparable)).toEqual(events.map(comparable));
    // The simulator covers most types; the round trip is only meaningful if it does.
    expect(new Set(events.map((e) => e.type)).size).toBeGreaterThanOrEqual(11);
  });

  it('round-trips the types the simulator does not make', () => {
    const at = DEFAULT_START;
    const envelope = { occurredAt: at, receivedAt: at, source: { kind: 'api' as const, name: 'x' } };
    const extra: Touchpoint[] = [
      { ...envelope, eventId: 'a1', type: 'Aliased', customerId: 'c1', payload: { previousId: 'anon-9' } },
      {
        ...envelope,
        eventId: 'b1',
        type: 'EmailBounced',
        customerId: 'c1',
        payload: { campaignId: 'cmp', messageId: 'em-1', bounceType: 'hard' },
      },
      {
        ...envelope,
        eventId: 'u1',
        type: 'EmailUnsubscribed',
        customerId: 'c1',
        payload: { campaignId: 'cmp' },
      },
      {
        ...envelope,
        eventId: 's1',
        type: 'SubscriptionStarted',
        customerId: 'c1',
        payload: {
          subscriptionId: 'sub1',
          plan: 'club',
          amountMinor: 1050,
          currency: 'JPY',
          interval: 'month',
        },
      },
      {
        ...envelope,
        eventId: 's2',
        type: 'SubscriptionCancelled',
        customerId: 'c1',
        payload: { subscriptionId: 'sub1', reason: 'price' },
      },
      {
        ...envelope,
        eventId: 't1',
        type: 'Tracked',
        anonymousId: 'anon-9',
        payload: { event: 'Wishlist Added', properties: { sku: 'CD-1' } },
      },
      {
        ...envelope,
        eventId: 'p1',
        type: 'PurchaseCompleted',
        customerId: 'c1',
        payload: {
          orderId: 'o1',
          lineItems: [{ sku: 'K', name: 'n', category: 'c', quantity: 2, unitPriceMinor: 1005 }],
          amountMinor: 2010,
          currency: 'KWD',
          coupon: 'X',
        },
      },
    ];
    const mapped = mapSegmentRequest('batch', { batch: extra.map(toSegmentCall) }, ctx);
    if (!mapped.ok) throw new Error(JSON.stringify(mapped.problems));
    expect(mapped.value.map(comparable)).toEqual(extra.map(comparable));
    const covered = new Set([...events, ...extra].map((e) => e.type));
    // ClvPredicted is ciclo's own score (clv refit), never sent by a website or backend.
    expect(TOUCHPOINT_TYPES.filter((t) => !covered.has(t))).toEqual(['EmailDelivered', 'ClvPredicted']);
  });
});
