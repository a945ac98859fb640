/**
 * Journeys for the lifecycle processor's exactly-once tests (test/processor.int.spec.ts on Kafka, and
 * processors/runtime/lifecycle-task.unit.spec.ts without it), compared there with `lifecycle replay`.
 * Ids start with `prefix`, so each run places customers on partitions anew.
 */
import type { Touchpoint } from '../../schemas/touchpoint';

const DAY = 86_400_000;
const T0 = Date.UTC(2025, 0, 1);

/** Journeys for n customers, in event-time order: visits, sign-ups, purchases at varied cadences, surveys. */
export function journeys(prefix: string, n: number): Touchpoint[] {
  const out: Touchpoint[] = [];
  let i = 0;
  const base = (customerId: string | undefined, anonymousId: string | undefined, day: number) => ({
    eventId: `${prefix}-${++i}`,
    ...(customerId ? { customerId } : {}),
    ...(anonymousId ? { anonymousId } : {}),
    occurredAt: T0 + day * DAY + (i % 1000),
    receivedAt: T0 + day * DAY,
    source: { kind: 'simulator' as const, name: 'test' },
  });
  for (let c = 0; c < n; c++) {
    const id = `${prefix}-c${c}`;
    const anon = `${prefix}-a${c}`;
    out.push({
      ...base(undefined, anon, c % 10),
      type: 'PageViewed',
      context: { utmSource: ['ads', 'newsletter', 'social'][c % 3]! },
      payload: { path: '/' },
    });
    out.push({ ...base(id, anon, 1 + (c % 10)), type: 'Identified', payload: { name: `Customer ${c}` } });
    const cadence = 10 + (c % 4) * 40;
    for (let k = 0; k < 1 + (c % 5); k++) {
      const day = 3 + (c % 10) + k * cadence;
      out.push({
        // After the alias below, the customer buys under its new id (the old one is only forwarded, and a
        // forward may arrive after the grace period: then it is applied late, which replay cannot foresee).
        ...base(c % 9 === 0 && c + 1 < n && day > 200 + c ? `${prefix}-c${c + 1}` : id, undefined, day),
        type: 'PurchaseCompleted',
        payload: { orderId: `${id}-o${k}`, lineItems: [], amountMinor: 1000 + c, currency: 'EUR' },
      });
    }
    if (c % 3 === 0)
      out.push({
        ...base(id, undefined, 40 + c),
        type: 'SurveyAnswered',
        payload: { surveyId: 's', nps: c % 11 },
      });
  }
  // Known customers joined by alias: every 9th becomes the next one. Both have purchases, so the profile
  // handed over has inactivity deadlines of its own, and its ids usually live on other partitions.
  for (let c = 0; c + 1 < n; c += 9)
    out.push({
      ...base(`${prefix}-c${c + 1}`, undefined, 200 + c),
      type: 'Aliased',
      payload: { previousId: `${prefix}-c${c}` },
    });
  out.push({ ...base(`${prefix}-clock`, undefined, 400), type: 'PageViewed', payload: {} }); // moves stream time on
  return out.sort((a, b) => a.occurredAt - b.occurredAt || (a.eventId < b.eventId ? -1 : 1));
}
