/**
 * Deterministic journey simulator: the same seed gives the same touchpoints, byte for byte (seeded PRNG,
 * fixed start date, no clock). Customers arrive through acquisition channels with different costs and
 * conversion; they browse anonymously, sign up, buy at a personal cadence (monthly, quarterly, yearly or
 * once), get emails, answer surveys (promoters stay and refer, detractors open tickets and leave), ask for
 * refunds, churn, and some come back. Paid channels record their marketing spend per week.
 */
import type { Touchpoint, TouchpointOf, TouchpointType } from '../../schemas/touchpoint';

const DAY = 86_400_000;

/** mulberry32: a tiny, well-known 32-bit PRNG; good enough for synthetic data, and reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Channel {
  readonly id: string;
  readonly weight: number;
  /** Probability that an arriving visitor signs up. */
  readonly signUp: number;
  /** Spend per signed-up customer, in cents (0: organic). */
  readonly costPerSignUpMinor: number;
  readonly utm?: { source: string; medium: string; campaign: string };
  readonly referrer?: string;
}

export const CHANNELS: readonly Channel[] = [
  {
    id: 'organic-search',
    weight: 0.25,
    signUp: 0.35,
    costPerSignUpMinor: 0,
    referrer: 'https://www.google.com/',
  },
  {
    id: 'paid-search',
    weight: 0.2,
    signUp: 0.45,
    costPerSignUpMinor: 3500,
    utm: { source: 'paid-search', medium: 'cpc', campaign: 'always-on' },
  },
  {
    id: 'social',
    weight: 0.2,
    signUp: 0.3,
    costPerSignUpMinor: 2500,
    utm: { source: 'social', medium: 'paid-social', campaign: 'spring' },
  },
  {
    id: 'newsletter',
    weight: 0.15,
    signUp: 0.55,
    costPerSignUpMinor: 600,
    utm: { source: 'newsletter', medium: 'email', campaign: 'weekly' },
  },
  { id: 'referral', weight: 0.1, signUp: 0.6, costPerSignUpMinor: 0, referrer: 'https://friends.example/' },
  { id: 'direct', weight: 0.1, signUp: 0.4, costPerSignUpMinor: 0 },
];

export interface SimulationOptions {
  readonly customers: number;
  readonly seed: number;
  readonly days: number;
  /** First day, ms since epoch at 00:00 UTC. */
  readonly start: number;
  /**
   * The gaps between a customer's purchases. 'regular' (the default, and the benchmarks' workload): 0.7 to
   * 1.3 times the customer's cadence, so quiet spells mean churn to the stage rules but look like slow
   * buyers to a BG/NBD fit, which then finds no dropout at all. 'poisson': exponential gaps with the cadence
   * as their mean, the buying BG/NBD assumes, so its P(alive) tells the churned from the slow (the demo's).
   */
  readonly purchaseGaps?: 'regular' | 'poisson';
}

export const DEFAULT_START = Date.UTC(2025, 0, 1);

/** Every type the simulator makes for a customer (marketing spend belongs to no customer). */
type CustomerTouchpointType = Exclude<TouchpointType, 'MarketingSpendRecorded'>;
type Context = NonNullable<Touchpoint['context']>;

const SIMULATOR_SOURCE = 'ciclo-simulate';

/**
 * A customer's touchpoint, built with every envelope field in one order, absent ones as undefined: V8 then
 * gives all simulated touchpoints one hidden class, and whatever reads them (the collector, the demo, the
 * fold in `npm run bench:fold`) reads one shape. Built by spreads, as they once were, nearly every
 * touchpoint had a hidden class of its own (107,712 for the fold bench's 107,955), and every property read
 * on them missed V8's inline caches. JSON leaves undefined fields out, so the output is the same bytes.
 */
function touchpoint<T extends CustomerTouchpointType>(
  eventId: string,
  customerId: string | undefined,
  anonymousId: string | undefined,
  occurredAt: number,
  type: T,
  context: Context | undefined,
  payload: TouchpointOf<T>['payload'],
): TouchpointOf<T> {
  return {
    eventId,
    customerId,
    anonymousId,
    occurredAt,
    receivedAt: occurredAt + 250,
    source: { kind: 'simulator', name: SIMULATOR_SOURCE },
    type,
    context,
    payload,
  };
}

/** A visitor's page context: every field in one order (one hidden class), those the channel lacks undefined. */
function visitContext(channel: Channel): Context {
  return {
    pageUrl: `https://shop.example/${channel.utm ? `?utm_source=${channel.utm.source}` : ''}`,
    utmSource: channel.utm?.source,
    utmMedium: channel.utm?.medium,
    utmCampaign: channel.utm?.campaign,
    referrer: channel.referrer,
    userAgent: 'Mozilla/5.0 (simulated)',
  };
}

export function simulate(options: SimulationOptions): Touchpoint[] {
  const rand = seededRandom(options.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
  const horizon = options.start + options.days * DAY;
  const events: Touchpoint[] = [];
  let n = 0;
  const id = (): string => `sim-${options.seed}-${(++n).toString(36)}`;
  const at = (day: number): number => options.start + Math.floor(day * DAY);
  const spend = new Map<string, number>(); // `${channel}|${week}` -> cents

  for (let i = 0; i < options.customers; i++) {
    let r = rand() * CHANNELS.reduce((s, c) => s + c.weight, 0);
    const channel = CHANNELS.find((c) => (r -= c.weight) < 0) ?? CHANNELS[0]!;
    const anonymousId = `anon-${options.seed}-${i}`;
    const customerId = `cust-${options.seed}-${i}`;
    let day = rand() * options.days * 0.85;
    const context = visitContext(channel);
    // The event id is the first argument of every touchpoint: it is drawn before any id in the payload.
    const ofCustomer = <T extends CustomerTouchpointType>(
      eventId: string,
      t: number,
      type: T,
      payload: TouchpointOf<T>['payload'],
    ): TouchpointOf<T> => touchpoint(eventId, customerId, undefined, at(t), type, undefined, payload);
    for (let v = 0, views = 1 + Math.floor(rand() * 4); v < views; v++) {
      events.push(
        touchpoint(id(), undefined, anonymousId, at(day + v * 0.01), 'PageViewed', context, {
          path: pick(['/', '/catalog', '/pricing', '/jazz']),
        }),
      );
    }
    if (rand() > channel.signUp) continue;
    day += 0.05;
    events.push(
      touchpoint(id(), customerId, anonymousId, at(day), 'Identified', context, {
        email: `${customerId}@example.com`,
        name: `Customer ${i}`,
        plan: pick(['free', 'club']),
      }),
    );
    const week = Math.floor(day / 7);
    if (channel.costPerSignUpMinor > 0) {
      const key = `${channel.id}|${week}`;
      spend.set(key, (spend.get(key) ?? 0) + Math.round(channel.costPerSignUpMinor * (0.7 + 0.6 * rand())));
    }

    // Persona: how often they buy, how happy they are, how long they stay.
    const cadence = pick([30, 30, 90, 90, 90, 300, 0, 0]);
    const mood = rand(); // < 0.25 detractor, > 0.6 promoter
    let alive = rand() < 0.7;
    let purchases = 0;
    day += rand() * 10;
    while (alive && day < options.days) {
      const amount = 999 + Math.floor(rand() * 60) * 100;
      const orderId = id();
      events.push(
        ofCustomer(id(), day, 'PurchaseCompleted', {
          orderId,
          lineItems: [
            { sku: pick(['CD-1', 'CD-2', 'CD-3', 'VINYL-1']), quantity: 1, unitPriceMinor: amount },
          ],
          amountMinor: amount,
          currency: 'USD',
        }),
      );
      purchases += 1;
      if (rand() < 0.03) {
        events.push(
          ofCustomer(id(), day + 2 + rand() * 5, 'RefundIssued', {
            orderId,
            refundId: id(),
            amountMinor: amount,
            currency: 'USD',
            reason: 'damaged',
          }),
        );
      }
      if (rand() < 0.3) {
        const nps =
          mood < 0.25
            ? Math.floor(rand() * 7)
            : mood > 0.6
              ? 9 + Math.floor(rand() * 2)
              : 7 + Math.floor(rand() * 2);
        events.push(
          ofCustomer(id(), day + 3, 'SurveyAnswered', {
            surveyId: 'post-purchase',
            nps,
            csat: Math.min(5, Math.max(1, Math.round(nps / 2))),
          }),
        );
        if (nps >= 9 && rand() < 0.3)
          events.push(ofCustomer(id(), day + 4, 'ReferralMade', { referralId: id() }));
      }
      if (rand() < (mood < 0.25 ? 0.3 : 0.05)) {
        const ticketId = id();
        events.push(
          ofCustomer(id(), day + 1, 'SupportTicketOpened', { ticketId, priority: pick(['normal', 'high']) }),
        );
        events.push(
          ofCustomer(id(), day + 1 + rand() * 6, 'SupportTicketResolved', {
            ticketId,
            satisfaction: mood < 0.25 ? 2 : 4,
          }),
        );
      }
      if (cadence === 0) break;
      // Detractors leave sooner; promoters stay longer. Some churned customers come back much later.
      const churn = mood < 0.25 ? 0.25 : mood > 0.6 ? 0.04 : 0.1;
      if (rand() < churn) {
        if (rand() < 0.15) day += cadence * (4 + rand() * 4);
        else alive = false;
      }
      day += cadence * (options.purchaseGaps === 'poisson' ? -Math.log(1 - rand()) : 0.7 + 0.6 * rand());
    }
    // Weekly newsletter for signed-up customers during their first weeks.
    for (let w = 0; w < Math.min(6, purchases + 2); w++) {
      const d = day - 7 * w - rand() * 3;
      if (d < 0 || d > options.days) continue;
      const campaignId = `weekly-${Math.floor(d / 7)}`;
      events.push(ofCustomer(id(), d, 'EmailSent', { campaignId }));
      if (rand() < 0.35) events.push(ofCustomer(id(), d + 0.2, 'EmailOpened', { campaignId }));
      if (rand() < 0.1)
        events.push(
          ofCustomer(id(), d + 0.3, 'EmailClicked', { campaignId, url: 'https://shop.example/new' }),
        );
    }
  }

  for (const [key, cents] of [...spend].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const [channel, weekText] = key.split('|') as [string, string];
    const week = Number(weekText);
    const periodStart = options.start + week * 7 * DAY;
    const periodEnd = periodStart + 7 * DAY - 1;
    events.push({
      eventId: id(),
      type: 'MarketingSpendRecorded',
      occurredAt: Math.min(periodEnd, horizon),
      receivedAt: Math.min(periodEnd, horizon),
      source: { kind: 'simulator', name: SIMULATOR_SOURCE },
      payload: {
        channel,
        campaign: CHANNELS.find((c) => c.id === channel)?.utm?.campaign ?? channel,
        amountMinor: cents,
        currency: 'USD',
        periodStart,
        periodEnd,
      },
    });
  }
  return events
    .filter((e) => e.occurredAt < horizon)
    .sort((a, b) => a.occurredAt - b.occurredAt || (a.eventId < b.eventId ? -1 : 1));
}
