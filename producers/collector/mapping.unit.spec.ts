import type { Touchpoint } from '../../schemas/touchpoint';
import type { ValidationProblem } from '../../schemas/validation';
import { isContractChecked } from '../edge/check';
import { mapSegmentCall, type ClampedTime, type CollectContext } from './mapping';
import { judgeSegmentRequest, type SegmentRoute } from './request';
import { TRACK_MAPPERS } from './track-mappers';
import type { SegmentCallType } from './segment';

const receivedAt = Date.UTC(2026, 2, 14, 9, 30, 1);
const api: CollectContext = {
  source: { kind: 'api', name: 'backend' },
  receivedAt,
  defaultCurrency: 'EUR',
  urlQueryAllowlist: [],
  ipRetention: 'none',
};
const snippet: CollectContext = { ...api, source: { kind: 'snippet', name: 'web' } };

/** Given a Segment call of `type`, when it is mapped, then it is this touchpoint (or these problems). */
function mapped(type: SegmentCallType, call: Record<string, unknown>, ctx: CollectContext = api): Touchpoint {
  const result = mapSegmentCall(type, call, ctx);
  if (!result.ok) throw new Error(`expected a touchpoint, got problems: ${JSON.stringify(result.problems)}`);
  return result.value;
}

/**
 * A request as the collector judges it (request.ts): its touchpoints and clamped calls when every call is
 * accepted or ignored, else the problems of every call refused (and of the body, when it is no request).
 */
function mapSegmentRequest(
  route: SegmentRoute,
  body: unknown,
  ctx: CollectContext,
):
  | { ok: true; value: readonly Touchpoint[]; clamped: readonly ClampedTime[] }
  | { ok: false; problems: readonly ValidationProblem[] } {
  const judged = judgeSegmentRequest(route, body, ctx);
  if (!judged.ok) return judged;
  const refused = judged.verdicts.flatMap((v) =>
    v.kind === 'invalid' || v.kind === 'forbidden' ? v.problems : [],
  );
  if (refused.length > 0) return { ok: false, problems: refused };
  return { ok: true, value: judged.touchpoints, clamped: judged.clamped };
}

function problems(route: SegmentRoute, body: unknown, ctx: CollectContext = api): ValidationProblem[] {
  const result = mapSegmentRequest(route, body, ctx);
  if (result.ok) throw new Error(`expected problems, got ${JSON.stringify(result.value)}`);
  return [...result.problems];
}

const track = (event: string, properties: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  mapped('track', { userId: 'cus_8c1f2a', messageId: 'msg-1', event, properties, ...extra });

describe('page and screen', () => {
  it("maps Segment's page call, context and all, to PageViewed, keeping less of URLs and no IP", () => {
    const tp = mapped(
      'page',
      {
        anonymousId: 'anon_5d0e77',
        messageId: 'ajs-next-1773480600000-6f0e',
        timestamp: '2026-03-14T09:30:00.000Z',
        name: 'Pricing',
        context: {
          page: {
            url: 'https://shop.example/pricing?email=ana%40example.com&utm_source=newsletter#plans',
            referrer: 'https://mail.example/inbox/ana?msg=42',
            path: '/pricing',
            title: 'Pricing | Shop',
          },
          campaign: { source: 'newsletter', medium: 'email', name: 'spring-sale' },
          userAgent: 'Mozilla/5.0',
          ip: '203.0.113.7',
          locale: 'es-ES',
        },
      },
      snippet,
    );
    expect(tp).toEqual({
      eventId: 'seg:web:ajs-next-1773480600000-6f0e',
      type: 'PageViewed',
      anonymousId: 'anon_5d0e77',
      occurredAt: Date.UTC(2026, 2, 14, 9, 30),
      receivedAt,
      source: { kind: 'snippet', name: 'web' },
      context: {
        pageUrl: 'https://shop.example/pricing?utm_source=newsletter',
        referrer: 'https://mail.example/',
        utmSource: 'newsletter',
        utmMedium: 'email',
        utmCampaign: 'spring-sale',
        userAgent: 'Mozilla/5.0',
        locale: 'es-ES',
      },
      payload: { path: '/pricing', title: 'Pricing | Shop' },
    });
  });

  it('takes UTM parameters from the page URL when the call has no campaign context', () => {
    const tp = mapped('page', {
      anonymousId: 'a1',
      properties: {
        url: 'https://shop.example/?utm_source=google&utm_medium=cpc&utm_campaign=brand&utm_term=cd',
      },
    });
    expect(tp.context).toEqual({
      pageUrl: 'https://shop.example/?utm_source=google&utm_medium=cpc&utm_campaign=brand&utm_term=cd',
      utmSource: 'google',
      utmMedium: 'cpc',
      utmCampaign: 'brand',
      utmTerm: 'cd',
    });
  });

  it('reads UTM parameters however the URL encodes them, and context campaign fields first', () => {
    const tp = mapped('page', {
      anonymousId: 'a1',
      context: { campaign: { source: 'newsletter' } },
      properties: { url: 'https://shop.example/?utm_source=google&%75tm_term=c%20d&utm_content=a+b' },
    });
    expect(tp.context).toMatchObject({ utmSource: 'newsletter', utmTerm: 'c d', utmContent: 'a b' });
    expect(
      mapped('page', { anonymousId: 'a1', properties: { url: 'not a url utm_term=x' } }).context,
    ).toEqual({ pageUrl: 'not a url utm_term=x' });
  });

  it('keeps the allowed query parameters, a path with its kept query, and a truncated IP when configured', () => {
    const keeping: CollectContext = { ...snippet, urlQueryAllowlist: ['page'], ipRetention: 'truncated' };
    const tp = mapped(
      'page',
      {
        anonymousId: 'a1',
        properties: {
          url: 'https://ana:secret@shop.example/records?page=2&session=s1&utm_medium=cpc',
          path: '/records?page=2&session=s1#top',
          referrer: 'https://search.example/?q=ana+lima',
        },
        context: { ip: '2001:db8:85a3:8d3:1319:8a2e:370:7348' },
      },
      keeping,
    );
    expect(tp.context).toEqual({
      pageUrl: 'https://shop.example/records?page=2&utm_medium=cpc',
      referrer: 'https://search.example/',
      utmMedium: 'cpc',
      ip: '2001:db8:85a3::',
    });
    expect(tp.payload).toEqual({ path: '/records?page=2' });
    expect(mapped('page', { anonymousId: 'a1', context: { ip: '203.0.113.7' } }, keeping).context).toEqual({
      ip: '203.0.113.0',
    });
    // Not one address: it cannot be truncated, so nothing of it is kept.
    expect(
      mapped('page', { anonymousId: 'a1', context: { ip: 'proxy.internal' } }, keeping),
    ).not.toHaveProperty('context');
  });

  it('maps screen to PageViewed titled by the screen name', () => {
    const tp = mapped('screen', { userId: 'u1', name: 'Checkout', category: 'shop' });
    expect(tp).toMatchObject({ type: 'PageViewed', payload: { title: 'Checkout', category: 'shop' } });
  });

  it('stamps occurredAt with receivedAt when the call has no timestamp', () => {
    expect(mapped('page', { anonymousId: 'a1' }).occurredAt).toBe(receivedAt);
  });
});

describe('identify and alias', () => {
  it('maps identify to Identified: email, name and plan, other traits as strings', () => {
    const tp = mapped('identify', {
      userId: 'cus_8c1f2a',
      anonymousId: 'anon_5d0e77',
      traits: {
        email: 'ana@example.com',
        firstName: 'Ana',
        lastName: 'Ruiz',
        plan: 'pro',
        company: 'Example SL',
        age: 41,
        vip: true,
        address: { city: 'Madrid' },
      },
    });
    expect(tp).toMatchObject({
      type: 'Identified',
      customerId: 'cus_8c1f2a',
      anonymousId: 'anon_5d0e77',
      payload: {
        email: 'ana@example.com',
        name: 'Ana Ruiz',
        plan: 'pro',
        traits: {
          firstName: 'Ana',
          lastName: 'Ruiz',
          company: 'Example SL',
          age: '41',
          vip: 'true',
          address: '{"city":"Madrid"}',
        },
      },
    });
  });

  it('maps alias to Aliased: userId is the customer, previousId the id merged into it', () => {
    const tp = mapped('alias', { userId: 'cus_8c1f2a', previousId: 'anon_5d0e77' });
    expect(tp).toMatchObject({
      type: 'Aliased',
      customerId: 'cus_8c1f2a',
      payload: { previousId: 'anon_5d0e77' },
    });
  });

  it('accepts numeric ids, as some servers send them', () => {
    expect(mapped('alias', { userId: 42, previousId: 7 })).toMatchObject({
      customerId: '42',
      payload: { previousId: '7' },
    });
  });

  it('refuses numeric ids past 2^53, which two different ids would share after parsing', () => {
    // 9007199254740993 parses as 9007199254740992: String() would make them one customer.
    const message = expect.stringContaining('at most 2^53 - 1') as unknown;
    expect(problems('identify', JSON.parse('{"userId": 9007199254740993, "anonymousId": 1e21}'))).toEqual([
      { path: 'userId', rule: 'custom', message },
      { path: 'anonymousId', rule: 'custom', message },
    ]);
    expect(problems('alias', { userId: 'u', previousId: 2 ** 53 })).toEqual([
      { path: 'previousId', rule: 'custom', message },
    ]);
    expect(mapped('identify', { userId: Number.MAX_SAFE_INTEGER }).customerId).toBe('9007199254740991');
  });
});

describe('track: Segment spec events become typed touchpoints', () => {
  it('"Order Completed" -> PurchaseCompleted, money converted exactly to minor units', () => {
    const tp = track('Order Completed', {
      order_id: 1042,
      total: 59.97,
      currency: 'eur',
      coupon: 'SPRING10',
      products: [
        { product_id: 'CD-0042', name: 'Kind of Blue', category: 'jazz', price: 19.99, quantity: 1 },
        { sku: 'CD-0107', name: 'Blue Train', price: '19.99', quantity: '2' },
      ],
    });
    expect(tp).toMatchObject({
      type: 'PurchaseCompleted',
      payload: {
        orderId: '1042',
        amountMinor: 5997,
        currency: 'EUR',
        coupon: 'SPRING10',
        lineItems: [
          { sku: 'CD-0042', name: 'Kind of Blue', category: 'jazz', quantity: 1, unitPriceMinor: 1999 },
          { sku: 'CD-0107', name: 'Blue Train', quantity: 2, unitPriceMinor: 1999 },
        ],
      },
    });
  });

  it('"Order Completed" without a total sums its products; without a currency uses the default', () => {
    const tp = track('Order Completed', {
      order_id: 'ord_1',
      products: [
        { sku: 'a', price: 0.1, quantity: 3 },
        { sku: 'b', price: 0.2 },
      ],
    });
    expect(tp.payload).toMatchObject({ amountMinor: 50, currency: 'EUR' });
  });

  it('"Order Refunded" -> RefundIssued; without a refund id the call itself identifies the refund', () => {
    const tp = track('Order Refunded', {
      order_id: 'ord_1042',
      total: '9.99',
      currency: 'EUR',
      reason: 'damaged',
    });
    expect(tp).toMatchObject({
      type: 'RefundIssued',
      payload: {
        orderId: 'ord_1042',
        refundId: 'seg:backend:msg-1',
        amountMinor: 999,
        currency: 'EUR',
        reason: 'damaged',
      },
    });
  });

  it.each([
    ['Email Sent', 'EmailSent'],
    ['Email Delivered', 'EmailDelivered'],
    ['Email Opened', 'EmailOpened'],
    ['Email Link Clicked', 'EmailClicked'],
    ['Email Bounced', 'EmailBounced'],
    ['Unsubscribed', 'EmailUnsubscribed'],
    ['Email Marked as Spam', 'EmailUnsubscribed'],
  ])('"%s" -> %s', (event, type) => {
    const tp = track(event, {
      email_id: 'msg_20260314_001',
      campaign_id: 'cmp_spring',
      link_url: 'https://shop.example/spring?utm_campaign=spring&subscriber=ana%40example.com',
    });
    expect(tp.type).toBe(type);
    expect(tp.payload).toMatchObject({ campaignId: 'cmp_spring', messageId: 'msg_20260314_001' });
    if (type === 'EmailClicked')
      expect(tp.payload).toMatchObject({ url: 'https://shop.example/spring?utm_campaign=spring' });
  });

  it('files email events without a campaign under "uncategorized"', () => {
    expect(track('Email Opened', {}).payload).toEqual({ campaignId: 'uncategorized' });
  });

  it('maps the lifecycle events ciclo models', () => {
    expect(
      track('Subscription Started', {
        subscription_id: 'sub_9',
        plan: 'vinyl-club',
        amount: 15,
        currency: 'EUR',
        interval: 'Monthly',
      }),
    ).toMatchObject({
      type: 'SubscriptionStarted',
      payload: {
        subscriptionId: 'sub_9',
        plan: 'vinyl-club',
        amountMinor: 1500,
        currency: 'EUR',
        interval: 'month',
      },
    });
    expect(
      track('Subscription Canceled', { subscription_id: 'sub_9', reason: 'too expensive' }),
    ).toMatchObject({
      type: 'SubscriptionCancelled',
      payload: { subscriptionId: 'sub_9', reason: 'too expensive' },
    });
    expect(
      track('Survey Answered', { survey_id: 'nps_q1', nps: '9', comment: 'Fast delivery' }),
    ).toMatchObject({
      type: 'SurveyAnswered',
      payload: { surveyId: 'nps_q1', nps: 9, comment: 'Fast delivery' },
    });
    expect(track('Ticket Opened', { ticket_id: 311, subject: 'Damaged', priority: 'High' })).toMatchObject({
      type: 'SupportTicketOpened',
      payload: { ticketId: '311', subject: 'Damaged', priority: 'high' },
    });
    expect(track('Ticket Resolved', { ticket_id: 'tck_311', satisfaction: 4 })).toMatchObject({
      type: 'SupportTicketResolved',
      payload: { ticketId: 'tck_311', satisfaction: 4 },
    });
    expect(track('Referral Made', { referral_id: 'ref_12', referee_id: 'cus_2b9d10' })).toMatchObject({
      type: 'ReferralMade',
      payload: { referralId: 'ref_12', refereeId: 'cus_2b9d10' },
    });
  });

  it('"Marketing Spend Recorded" needs no customer: it describes the business', () => {
    const tp = mapped('track', {
      event: 'Marketing Spend Recorded',
      properties: {
        channel: 'paid-search',
        campaign: 'spring-sale',
        amount: '2500.00',
        currency: 'EUR',
        period_start: '2026-03-01T00:00:00Z',
        period_end: Date.UTC(2026, 2, 31),
      },
    });
    expect(tp).toMatchObject({
      type: 'MarketingSpendRecorded',
      payload: { amountMinor: 250000, periodStart: Date.UTC(2026, 2, 1), periodEnd: Date.UTC(2026, 2, 31) },
    });
    expect(tp.customerId).toBeUndefined();
  });

  it('maps any other event to Tracked with its properties as strings', () => {
    const tp = track('Wishlist Added', { sku: 'CD-0042', price: 12.99, tags: ['jazz'], gift: false });
    expect(tp).toMatchObject({
      type: 'Tracked',
      payload: {
        event: 'Wishlist Added',
        properties: { sku: 'CD-0042', price: '12.99', tags: '["jazz"]', gift: 'false' },
      },
    });
  });

  it('does not treat inherited object keys as spec events', () => {
    expect(track('constructor', {}).type).toBe('Tracked');
    expect(Object.keys(TRACK_MAPPERS)).toContain('Order Completed');
  });
});

describe('eventId: the same call always gets the same id', () => {
  const call = {
    userId: 'u1',
    event: 'Wishlist Added',
    properties: { sku: 'a' },
    timestamp: '2026-03-14T09:30:00Z',
  };

  it("is Segment's messageId when the call has one, scoped by the write key's source", () => {
    expect(mapped('track', { ...call, messageId: 'node-next-1773480600-abc' }).eventId).toBe(
      'seg:backend:node-next-1773480600-abc',
    );
    expect(mapped('track', { ...call, messageId: 'node-next-1773480600-abc' }, snippet).eventId).toBe(
      'seg:web:node-next-1773480600-abc',
    );
  });

  it('never equals an id another source mints, whatever messageId a client sends', () => {
    for (const shadow of ['csv:shop:PurchaseCompleted:1042', 'stripe:evt_1N2b3c', 'sim-42-1', 'seg:0a1b'])
      expect(mapped('track', { ...call, messageId: shadow }, snippet).eventId).toBe(`seg:web:${shadow}`);
    // A messageId that spells a hashed id is hashed itself, so it cannot equal another messageId's hash.
    const hashed = mapped('track', { ...call, messageId: '{7c9e 6679}' }, snippet).eventId;
    const spelled = mapped('track', { ...call, messageId: hashed.slice('seg:web:'.length) }, snippet);
    expect(spelled.eventId).toMatch(/^seg:web:h\.[0-9a-f]{40}$/);
    expect(spelled.eventId).not.toBe(hashed);
  });

  it('is a hash of the content otherwise, unchanged by a retry with a new sentAt or key placement', () => {
    const first = mapped('track', { ...call, sentAt: '2026-03-14T09:30:01Z' });
    const retry = mapped('track', {
      writeKey: 'k',
      sentAt: '2026-03-14T09:31:07Z',
      timestamp: call.timestamp,
      properties: { sku: 'a' },
      event: call.event,
      userId: call.userId,
    });
    expect(first.eventId).toMatch(/^seg:[0-9a-f]{32}$/);
    expect(retry.eventId).toBe(first.eventId);
    expect(mapped('track', { ...call, properties: { sku: 'b' } }).eventId).not.toBe(first.eventId);
    expect(mapped('track', call, snippet).eventId).not.toBe(first.eventId);
    const inBatch = mapSegmentRequest('batch', { batch: [{ type: 'track', ...call }] }, api);
    expect(inBatch.ok && inBatch.value[0]?.eventId).toBe(first.eventId);
  });

  it('is the messageId of a raw HTTP retry without a timestamp, though each arrival has its own time', () => {
    const call = { userId: 'u1', messageId: 'ord-1042-completed', event: 'Order Completed' };
    const props = { order_id: 'ord_1042', total: 32.97 };
    const first = mapped('track', { ...call, properties: props });
    const retry = mapped(
      'track',
      { ...call, properties: props },
      { ...api, receivedAt: receivedAt + 90_000 },
    );
    expect([first.eventId, retry.eventId]).toEqual([
      'seg:backend:ord-1042-completed',
      'seg:backend:ord-1042-completed',
    ]);
    // Without a timestamp each arrival is stamped with its own receivedAt: dedupe is by eventId alone.
    expect([first.occurredAt, retry.occurredAt]).toEqual([receivedAt, receivedAt + 90_000]);
  });

  it('hashes a messageId the contract cannot carry, stably', () => {
    const id = mapped('track', { ...call, messageId: '{7c9e 6679}' }).eventId;
    expect(id).toMatch(/^seg:backend:h\.[0-9a-f]{40}$/);
    expect(mapped('track', { ...call, messageId: '{7c9e 6679}' }).eventId).toBe(id);
  });
});

describe('problems are reported in the sender terms, for the whole request', () => {
  it("marks a request's touchpoints as checked by the contract, so publishing does not check them again", () => {
    const result = mapSegmentRequest('batch', { batch: [{ type: 'page', anonymousId: 'a1' }] }, api);
    expect(result.ok && isContractChecked(result.value)).toBe(true);
    const one = mapSegmentRequest('page', { anonymousId: 'a1' }, api);
    expect(one.ok && isContractChecked(one.value)).toBe(true);
  });

  it('every problem of every call of a batch, with its path and rule', () => {
    const found = problems('batch', {
      batch: [
        { type: 'track', userId: 'u1', event: 'Signed Up' },
        {
          type: 'track',
          userId: 'u1',
          event: 'Order Completed',
          properties: { order_id: 'o1', total: '12,99' },
        },
        { type: 'page', name: 'Home' },
        { type: 'group', userId: 'u1', groupId: 'g1' }, // ignored: no problem
        { type: 'identify', userId: 'u1', traits: { email: 'not-an-email' }, timestamp: 'yesterday' },
        { type: 'track', userId: 'u1', event: 'Survey Answered', properties: { survey_id: 's', nps: 11 } },
        {
          type: 'track',
          userId: 'u1',
          event: 'Order Completed',
          properties: {
            order_id: 'o2',
            products: [
              { sku: 'a', price: 5, quantity: 0 },
              { name: 'no sku', price: 1 },
            ],
          },
        },
      ],
    });
    expect(found).toEqual([
      {
        path: 'batch.1.properties.total',
        rule: 'invalid_format',
        message: 'must be a decimal amount such as 12.99, got "12,99"',
      },
      { path: 'batch.2.userId', rule: 'custom', message: 'userId or anonymousId is required' },
      {
        path: 'batch.4.timestamp',
        rule: 'invalid_format',
        message: 'must be an ISO 8601 date-time with a timezone, e.g. 2026-03-14T09:30:00Z',
      },
      { path: 'batch.5.properties.nps', rule: 'too_big', message: 'NPS must be 0-10' },
      { path: 'batch.6.properties.products.0.quantity', rule: 'too_small', message: 'quantity must be >= 1' },
      expect.objectContaining({ path: 'batch.6.properties.products.1.sku', rule: 'invalid_type' }),
    ]);
  });

  it('reports contract rules at the field the sender wrote', () => {
    expect(problems('identify', { userId: 'u1', traits: { email: 'nope' } })).toEqual([
      { path: 'traits.email', rule: 'invalid_format', message: 'must be an email address' },
    ]);
    expect(
      problems('track', {
        userId: 'u1',
        event: 'Order Completed',
        properties: { order_id: 'o', products: [{ sku: 'a' }] },
      }),
    ).toEqual([{ path: 'properties.products.0.price', rule: 'required', message: 'price is required' }]);
    expect(
      problems('track', { userId: 'u1', event: 'Order Refunded', properties: { order_id: 'o' } }),
    ).toEqual([{ path: 'properties.total', rule: 'required', message: 'total or products is required' }]);
    expect(
      problems('track', { userId: 'u1', event: 'Survey Answered', properties: { survey_id: 's' } }),
    ).toEqual([
      { path: 'properties', rule: 'custom', message: 'a survey answer needs nps, csat or comment' },
    ]);
    expect(problems('track', { anonymousId: 'a', event: '' })).toEqual([
      { path: 'event', rule: 'too_small', message: 'must not be empty' },
    ]);
  });

  it('rejects a body that is not a batch', () => {
    expect(problems('batch', { batch: [] })).toEqual([
      { path: 'batch', rule: 'too_small', message: 'must contain at least one call' },
    ]);
    expect(problems('batch', [])).toEqual([expect.objectContaining({ path: '', rule: 'invalid_type' })]);
  });
});

describe('batch', () => {
  it("maps every call in order, each taking the batch's shared context field by field under its own", () => {
    const result = mapSegmentRequest(
      'batch',
      {
        context: { locale: 'es-ES', campaign: { source: 'newsletter' } },
        batch: [
          { type: 'identify', userId: 'u1', traits: { plan: 'pro' } },
          { type: 'track', userId: 'u1', event: 'Wishlist Added', context: { locale: 'en-GB' } },
        ],
      },
      api,
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value.map((tp) => [tp.type, tp.context])).toEqual([
      ['Identified', { locale: 'es-ES', utmSource: 'newsletter' }],
      ['Tracked', { locale: 'en-GB', utmSource: 'newsletter' }],
    ]);
  });
});

describe('event time: corrected by sentAt, bounded by the kind of write key (event-time.ts)', () => {
  const YEAR = 365 * 24 * 3_600_000;
  const iso = (ms: number) => new Date(ms).toISOString();
  const page = { type: 'page', anonymousId: 'a1' };

  it("corrects a browser's clock by the batch's sentAt, and a call's own sentAt wins", () => {
    const result = mapSegmentRequest(
      'batch',
      {
        sentAt: iso(receivedAt + 3 * YEAR - 500),
        batch: [
          { ...page, messageId: 'm1', timestamp: iso(receivedAt + 3 * YEAR - 60_500) },
          { ...page, messageId: 'm2', timestamp: iso(receivedAt - 2_000), sentAt: iso(receivedAt - 1_000) },
        ],
      },
      snippet,
    );
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    expect(result.value.map((tp) => tp.occurredAt)).toEqual([receivedAt - 60_000, receivedAt - 1_000]);
    expect(result.clamped).toEqual([]);
  });

  it("clamps a browser's time outside the window to receivedAt and says which call, and why", () => {
    const threeYearsAhead = receivedAt + 3 * YEAR;
    const result = mapSegmentRequest(
      'batch',
      {
        sentAt: 'not a time', // unreadable: corrects nothing
        batch: [
          { ...page, messageId: 'm1', timestamp: iso(receivedAt - 1_000) },
          { ...page, messageId: 'm2', timestamp: iso(threeYearsAhead) },
        ],
      },
      snippet,
    );
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    expect(result.value.map((tp) => [tp.occurredAt, tp.receivedAt])).toEqual([
      [receivedAt - 1_000, receivedAt],
      [receivedAt, receivedAt],
    ]);
    expect(result.clamped).toEqual([
      {
        path: 'batch.1',
        eventId: 'seg:web:m2',
        timestamp: threeYearsAhead,
        sentAt: undefined,
        correctedAt: threeYearsAhead,
        occurredAt: receivedAt,
        reason: 'ahead',
      },
    ]);
    const single = mapSegmentRequest(
      'page',
      { anonymousId: 'a1', timestamp: iso(receivedAt - 8 * 24 * 3_600_000) },
      snippet,
    );
    expect(single.ok && single.clamped).toEqual([expect.objectContaining({ path: '', reason: 'too_old' })]);
  });

  it("keeps a server key's old timestamps as they are: backfills", () => {
    expect(mapped('page', { anonymousId: 'a1', timestamp: '2019-05-01T00:00:00Z' }).occurredAt).toBe(
      Date.parse('2019-05-01T00:00:00Z'),
    );
  });

  it("refuses a server key's timestamp more than a day ahead at the field, naming the call in a batch", () => {
    const ahead = iso(receivedAt + 25 * 3_600_000);
    const one = mapSegmentRequest('track', { userId: 'u1', event: 'Signed Up', timestamp: ahead }, api);
    expect(one.ok ? one.value : one.problems).toEqual([
      {
        path: 'timestamp',
        rule: 'too_far_ahead',
        message: expect.stringMatching(
          /^timestamp .* is 1 d 1 h 0 min ahead .* at most 1 day ahead$/,
        ) as unknown,
      },
    ]);
    expect(
      problems('batch', {
        batch: [
          { ...page, timestamp: iso(receivedAt) },
          { ...page, timestamp: ahead },
          { type: 'page', timestamp: ahead },
        ],
      }),
    ).toEqual([
      expect.objectContaining({ path: 'batch.1.timestamp', rule: 'too_far_ahead' }),
      expect.objectContaining({ path: 'batch.2.timestamp', rule: 'too_far_ahead' }),
      expect.objectContaining({ path: 'batch.2.userId', rule: 'custom' }),
    ]);
  });

  it("corrects a server key's timestamp by sentAt too, as Segment does, before judging it", () => {
    const tp = mapped('page', {
      anonymousId: 'a1',
      timestamp: iso(receivedAt + 3 * YEAR - 5_000),
      sentAt: iso(receivedAt + 3 * YEAR),
    });
    expect(tp.occurredAt).toBe(receivedAt - 5_000);
  });
});
