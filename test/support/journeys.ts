/**
 * Journeys for the lifecycle processor's exactly-once tests (test/processor.int.spec.ts on Kafka, and
 * processors/runtime/lifecycle-task.unit.spec.ts without it), compared there with `lifecycle replay`.
 * Ids start with `prefix`, so each run places customers on partitions anew.
 */
import type { Touchpoint } from '../../schemas/touchpoint';

const DAY = 86_400_000;
/**
 * Far enough back that the longest journeys here (4,000 customers span about 11 years) end before today: the
 * processor bounds event times to the time Kafka got the record (processors/domain/event-time.ts).
 */
const T0 = Date.UTC(2012, 0, 1);

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
/**
 * Small journeys dense with links between a few customers: 3-6 customers, 6-25 touchpoints a day apart,
 * about a third of them aliases between customers and one in seven an identify of a browser.
 */
export function denseLinks(seed: number): Touchpoint[] {
  let x = seed >>> 0 || 1;
  const rand = (): number => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const pick = (n: number): number => Math.floor(rand() * n);
  const customers = 3 + pick(4);
  const count = 6 + pick(20);
  const customer = (): string => `c${pick(customers)}`;
  const browser = (): string => `a${pick(customers)}`;
  let n = 0;
  const at = (day: number) => ({
    eventId: `e${++n}`,
    occurredAt: T0 + day * DAY,
    receivedAt: T0 + day * DAY,
  });
  const events: Touchpoint[] = [];
  for (let day = 1; day <= count; day++) {
    const r = rand();
    if (r < 0.35) {
      const previousId = customer();
      let customerId = customer();
      if (customerId === previousId) customerId = `c${(Number(previousId.slice(1)) + 1) % customers}`;
      events.push({
        ...at(day),
        type: 'Aliased',
        customerId,
        source: { kind: 'api', name: 'app' },
        payload: { previousId },
      });
    } else if (r < 0.5) {
      events.push({
        ...at(day),
        type: 'Identified',
        customerId: customer(),
        anonymousId: browser(),
        source: { kind: 'api', name: 'app' },
        payload: { email: 'x@example.com' },
      });
    } else if (r < 0.7) {
      events.push({
        ...at(day),
        type: 'PageViewed',
        ...(rand() < 0.5 ? { customerId: customer() } : { anonymousId: browser() }),
        source: { kind: 'snippet', name: 'web' },
        context: { utmSource: ['ads', 'seo', 'pod'][pick(3)]!, utmCampaign: 's' },
        payload: { path: '/' },
      });
    } else {
      events.push({
        ...at(day),
        type: 'PurchaseCompleted',
        customerId: customer(),
        source: { kind: 'api', name: 'shop' },
        payload: { orderId: `o${n}`, lineItems: [], amountMinor: 1000, currency: 'EUR' },
      });
    }
  }
  for (let i = 0; i < 12; i++)
    events.push({
      ...at(30 + count),
      type: 'PageViewed',
      customerId: `clock-${i}`,
      source: { kind: 'snippet', name: 'web' },
      payload: { path: '/' },
    });
  return events;
}

/**
 * Customers with long histories, for what a processor keeps of them (customer.ts `appliedArchive`): six
 * customers with 100-300 touchpoints each (visits every day or two, purchases at their cadence), two pairs of
 * them merged by aliases at day 200 (the two merged away have no touchpoints after that: a touchpoint under an
 * old id is forwarded, and may come late, which replay cannot foresee); then redeliveries (the same event ids again) of `redelivered` of their
 * earliest touchpoints, as a file imported twice brings them. In event-time order, redeliveries last.
 */
export function busyCustomers(prefix: string, redelivered = 0): Touchpoint[] {
  const out: Touchpoint[] = [];
  let n = 0;
  const at = (day: number) => ({
    eventId: `${prefix}-e${++n}`,
    occurredAt: T0 + day * DAY + (n % 997) * 1000,
    receivedAt: T0 + day * DAY + 997 * 1000,
    source: { kind: 'api' as const, name: 'app' },
  });
  for (let c = 0; c < 6; c++) {
    const customerId = `${prefix}-c${c}`;
    const until = c === 0 || c === 2 ? 200 : 300;
    for (let day = 0; day < until; day += 1 + (c % 2)) {
      out.push({ ...at(day), type: 'PageViewed', customerId, payload: { path: `/p${day}` } });
      if (day % (20 + 10 * c) === 5)
        out.push({
          ...at(day),
          type: 'PurchaseCompleted',
          customerId,
          payload: { orderId: `${prefix}-o${n}`, lineItems: [], amountMinor: 1000 + c, currency: 'USD' },
        });
    }
  }
  for (const [from, into] of [
    [0, 1],
    [2, 3],
  ] as const)
    out.push({
      ...at(200),
      type: 'Aliased',
      customerId: `${prefix}-c${into}`,
      payload: { previousId: `${prefix}-c${from}` },
    });
  const sorted = out.sort((a, b) => a.occurredAt - b.occurredAt || (a.eventId < b.eventId ? -1 : 1));
  return [...sorted, ...sorted.slice(0, redelivered)];
}

/**
 * One visit per customer `clock-0` .. `clock-{count-1}` at `at`: spread over every partition (of up to 12),
 * they bring each partition's input to where the set ends, as one partition's would end (a partition's clock
 * moves with its own input only: processors/domain/lanes.ts).
 */
export function clockVisits(at: number, count = 48): Touchpoint[] {
  return Array.from({ length: count }, (_, i) => ({
    eventId: `clock-${i}`,
    type: 'PageViewed' as const,
    customerId: `clock-${i}`,
    occurredAt: at,
    receivedAt: at,
    source: { kind: 'api' as const, name: 'clock' },
    payload: { path: '/' },
  }));
}

/** Two streams merged at random, each in its own order; records of `b` start after `from` of `a`. */
export function interleaved<T>(a: readonly T[], b: readonly T[], rand: () => number, from = 0): T[] {
  const out = a.slice(0, from);
  let i = from;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && rand() < 0.5)) out.push(a[i++]!);
    else out.push(b[j++]!);
  }
  return out;
}

/**
 * The records in arrival order with copies of `rate` of them, each 1 to `delay` records after its original:
 * a sender retrying a batch whose first copy Kafka had kept. `seed` draws which and where.
 */
export function withCopies(
  events: readonly Touchpoint[],
  options: { readonly seed: number; readonly rate: number; readonly delay: number },
): Touchpoint[] {
  let x = options.seed;
  const rand = (): number => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const arrivals = events.map((tp, i) => ({ tp, at: i }));
  for (let i = 0; i < events.length; i++)
    if (rand() < options.rate)
      arrivals.push({ tp: events[i]!, at: i + 0.5 + Math.floor(rand() * options.delay) });
  return arrivals.sort((a, b) => a.at - b.at).map((a) => a.tp);
}
