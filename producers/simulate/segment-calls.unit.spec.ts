import { judgeSegmentRequest } from '../collector/request';
import { TOUCHPOINT_TYPES, type Touchpoint } from '../../schemas/touchpoint';
import { collectedAs, toSegmentCall } from './segment-calls';
import { DEFAULT_START, simulate } from './simulate';

const ctx = {
  source: { kind: 'api' as const, name: 'sim' },
  receivedAt: 1_800_000_000_000,
  defaultCurrency: 'USD',
  urlQueryAllowlist: [],
  ipRetention: 'none' as const,
};

/** What the collector cannot reproduce from a call: where and when it received it. */
const comparable = (tp: Touchpoint) => ({ ...tp, receivedAt: 0, source: undefined });

/** The touchpoints the collector makes of a batch of calls, every one of them accepted. */
function collected(calls: readonly unknown[]): readonly Touchpoint[] {
  const judged = judgeSegmentRequest('batch', { batch: calls }, ctx);
  if (!judged.ok) throw new Error(JSON.stringify(judged.problems.slice(0, 3)));
  const refused = judged.verdicts.filter((v) => v.kind !== 'accepted');
  if (refused.length > 0) throw new Error(JSON.stringify(refused.slice(0, 3)));
  return judged.touchpoints;
}

describe('simulated touchpoints as Segment calls', () => {
  const events = simulate({ customers: 400, seed: 11, days: 365, start: DEFAULT_START });

  it('come back from the collector mapping as the same touchpoints', () => {
    const mapped = collected(events.map(toSegmentCall));
    expect(mapped.map(comparable)).toEqual(events.map((e) => comparable(collectedAs(e, 'sim'))));
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
    const mapped = collected(extra.map(toSegmentCall));
    expect(mapped.map(comparable)).toEqual(extra.map((e) => comparable(collectedAs(e, 'sim'))));
    const covered = new Set([...events, ...extra].map((e) => e.type));
    // ClvPredicted is ciclo's own score (clv refit), never sent by a website or backend.
    expect(TOUCHPOINT_TYPES.filter((t) => !covered.has(t))).toEqual(['EmailDelivered', 'ClvPredicted']);
  });
});
