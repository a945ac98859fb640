/**
 * The collector fuzzed over HTTP (the in-process app of ../server/fakes.ts on a loopback socket): random
 * Segment requests, valid and broken (wrong types, ids past 2^53, odd unicode, deep nesting, huge strings
 * and numbers, spec events from either kind of key), and byte soup (malformed JSON, random bytes, gzip of
 * either, gzip garbage, odd content types and encodings). With a fixed seed, so a failure repeats.
 *
 * For every request: no 500 or other 5xx but 503; a 2xx lists as eventIds exactly the touchpoints that
 * request produced, and as dead-lettered exactly its dead letters; any other answer produced no touchpoint.
 * And the collector still answers afterwards.
 */
import zlib from 'node:zlib';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import type { OutgoingMessage } from '../../infra/kafka/types';
import { isLinkCopy } from '../../schemas/topics';
import { loopbackInject } from '../../test/support/loopback';
import { API_KEY, WEB_KEY, basicAuth, testCollector } from '../server/fakes';
import { TRACK_MAPPERS } from './track-mappers';

const SEED = 20_2026;
const RUNS = 1500;

// --- what a fuzzed request is made of ------------------------------------------------------------------

const oddText = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.constantFrom('', ' ', '\u0000', '\ud800', '👩‍👩‍👧', 'ﷺ', '\u202e', '__proto__', 'constructor', 'null'),
);
const hugeText = fc.integer({ min: 5_000, max: 100_000 }).map((n) => 'x'.repeat(n));
const number = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(2 ** 53, 2 ** 53 + 2, -(2 ** 60), 1e21, 1e308, 5e-324, 0.1, -0),
);
const id = fc.oneof(fc.string({ minLength: 1, maxLength: 10 }), number, oddText, fc.constant(null));
const isoTime = fc
  .integer({ min: Date.UTC(1990, 0, 1), max: Date.UTC(2040, 0, 1) })
  .map((ms) => new Date(ms).toISOString());
const leafValue = fc.oneof(oddText, number, fc.boolean(), fc.constant(null), isoTime);

/** `[[[...]]]` or `{"a":{"a":...}}` `n` levels deep, past the collector's limit (the byte soup goes deeper). */
const deep = fc.tuple(fc.integer({ min: 20, max: 300 }), fc.boolean()).map(([n, arrays]) => {
  let v: unknown = 1;
  for (let i = 0; i < n; i++) v = arrays ? [v] : { a: v };
  return v;
});

const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: leafValue },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
  { weight: 1, arbitrary: fc.dictionary(oddText, leafValue, { maxKeys: 4 }) },
  { weight: 1, arbitrary: fc.array(leafValue, { maxLength: 4 }) },
);

/** A field that is usually what a Segment library sends, and now and then anything at all. */
const mostly = <T>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: 12, arbitrary: good }, { weight: 1, arbitrary: bad });

const TEST_TIME = Date.UTC(2026, 2, 14, 9, 30);
const recentTime = fc
  .integer({ min: TEST_TIME - 30 * 86_400_000, max: TEST_TIME + 60_000 })
  .map((ms) => new Date(ms).toISOString());
const customer = fc.constantFrom('cus_1', 'cus_2', 'cus_3', '42');
const anonymous = fc.constantFrom('anon_1', 'anon_2');
const money = fc.integer({ min: 0, max: 100_000 }).map((cents) => (cents / 100).toFixed(2));

const eventName = mostly(
  fc.constantFrom(...Object.keys(TRACK_MAPPERS), 'Video Played', 'Signed Up', 'Wishlist Added'),
  oddText,
);
const callType = mostly(fc.constantFrom('track', 'identify', 'page', 'screen', 'alias', 'group'), anyValue);

const goodProperties = fc.record(
  {
    order_id: fc.constantFrom('o1', 'o2', 1042),
    total: money,
    currency: fc.constantFrom('EUR', 'USD', 'JPY', 'KWD'),
    products: fc.array(
      fc.record({ sku: fc.constantFrom('a', 'b'), price: money, quantity: fc.integer({ min: 1, max: 3 }) }),
      { maxLength: 3 },
    ),
    channel: fc.constantFrom('ads', 'email'),
    amount: money,
    period_start: fc.constant('2026-03-01T00:00:00Z'),
    period_end: fc.constant('2026-03-07T00:00:00Z'),
    survey_id: fc.constant('s1'),
    nps: fc.integer({ min: 0, max: 10 }),
    subscription_id: fc.constant('sub_1'),
    plan: fc.constant('pro'),
    ticket_id: fc.constant('t1'),
    referral_id: fc.constant('r1'),
    campaign_id: fc.constant('c1'),
  },
  { requiredKeys: [] },
);

const badProperties = fc.oneof(
  fc.record(
    {
      order_id: id,
      total: fc.oneof(number, oddText, fc.constantFrom('12,99', '1e400', '-5', '0.001')),
      currency: fc.oneof(fc.constantFrom('eur', 'EURO'), oddText),
      products: fc.array(
        fc.record(
          { sku: id, price: fc.oneof(number, oddText), quantity: fc.oneof(number, oddText) },
          { requiredKeys: [] },
        ),
        { maxLength: 3 },
      ),
      nps: number,
      note: fc.oneof(oddText, hugeText),
    },
    { requiredKeys: [] },
  ),
  anyValue,
  deep,
);

const segmentCall = fc.record(
  {
    type: callType,
    userId: mostly(customer, id),
    anonymousId: mostly(anonymous, id),
    messageId: mostly(fc.uuid(), id),
    previousId: mostly(fc.oneof(anonymous, customer), id),
    groupId: mostly(fc.constantFrom('acme', 7), id),
    event: eventName,
    timestamp: mostly(recentTime, fc.oneof(isoTime, oddText, number)),
    sentAt: mostly(recentTime, fc.oneof(isoTime, oddText)),
    properties: mostly(goodProperties, badProperties),
    traits: mostly(
      fc.record(
        { email: fc.constantFrom('ana@example.com'), name: fc.string(), plan: customer },
        { requiredKeys: [] },
      ),
      fc.oneof(fc.record({ email: oddText, name: oddText, plan: id }, { requiredKeys: [] }), anyValue),
    ),
    context: mostly(
      fc.record(
        {
          page: fc.record(
            { url: fc.webUrl({ withQueryParameters: true }), referrer: fc.webUrl() },
            { requiredKeys: [] },
          ),
          campaign: fc.record(
            { source: fc.constantFrom('ads', 'news'), name: fc.string() },
            { requiredKeys: [] },
          ),
          locale: fc.constantFrom('es-ES', 'en-GB'),
        },
        { requiredKeys: [] },
      ),
      fc.oneof(
        fc.record({ page: anyValue, campaign: anyValue, locale: oddText }, { requiredKeys: [] }),
        anyValue,
      ),
    ),
  },
  { requiredKeys: ['type'] },
);

type Route = 'batch' | 'track' | 'identify' | 'page' | 'screen' | 'alias' | 'group';
interface FuzzRequest {
  readonly route: Route;
  readonly key: 'api' | 'web' | 'none' | 'unknown';
  readonly contentType: string;
  readonly encoding: 'none' | 'gzip' | 'deflate' | 'br';
  readonly body: Buffer;
}

const jsonBody = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      batch: fc.array(segmentCall, { minLength: 1, maxLength: 12 }),
      sentAt: recentTime,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      batch: fc.oneof(anyValue, fc.array(anyValue, { maxLength: 3 })),
      context: anyValue,
    }),
  },
  { weight: 4, arbitrary: segmentCall },
  { weight: 1, arbitrary: anyValue },
);

/** Bytes: JSON (maybe cut short), or soup. */
const bodyBytes = fc.oneof(
  { weight: 12, arbitrary: jsonBody.map((b) => Buffer.from(JSON.stringify(b) ?? 'null', 'utf8')) },
  {
    weight: 1,
    arbitrary: fc.tuple(jsonBody, fc.nat()).map(([b, cut]) => {
      const text = JSON.stringify(b) ?? 'null';
      return Buffer.from(text.slice(0, cut % (text.length + 1)), 'utf8');
    }),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 1, max: 150_000 }), fc.constantFrom('[', '{"a":'))
      .map(([n, open]) => Buffer.from(open.repeat(n) + (open === '[' ? ']' : '1}').repeat(n), 'utf8')),
  },
);

const SINGLE_ROUTES = ['track', 'identify', 'page', 'screen', 'alias', 'group'] as const;
const toBytes = (b: unknown): Buffer => Buffer.from(JSON.stringify(b) ?? 'null', 'utf8');

/** A body and the route it goes to: mostly the route its calls are for, now and then another. */
const routedBody: fc.Arbitrary<{ route: Route; body: Buffer }> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .record({ batch: fc.array(segmentCall, { minLength: 1, maxLength: 12 }), sentAt: recentTime })
      .map((b): { route: Route; body: Buffer } => ({ route: 'batch', body: toBytes(b) })),
  },
  {
    weight: 4,
    arbitrary: segmentCall.map((call) => {
      const type = (call as { type?: unknown }).type;
      const route = (SINGLE_ROUTES as readonly unknown[]).includes(type) ? (type as Route) : 'track';
      return { route, body: toBytes(call) };
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ route: fc.constantFrom<Route>('batch', ...SINGLE_ROUTES), body: bodyBytes }),
  },
);

const fuzzRequest: fc.Arbitrary<FuzzRequest> = fc
  .record({
    routed: routedBody,
    key: fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom<FuzzRequest['key']>('api', 'web') },
      { weight: 1, arbitrary: fc.constantFrom<FuzzRequest['key']>('none', 'unknown') },
    ),
    contentType: fc.oneof(
      {
        weight: 24,
        arbitrary: fc.constantFrom('application/json', 'text/plain', 'application/json; charset=utf-8'),
      },
      { weight: 1, arbitrary: fc.constantFrom('image/png', 'application/x-www-form-urlencoded') },
    ),
    encoding: fc.oneof(
      { weight: 12, arbitrary: fc.constantFrom<FuzzRequest['encoding']>('none', 'none', 'gzip', 'deflate') },
      { weight: 1, arbitrary: fc.constant<FuzzRequest['encoding']>('br') },
    ),
  })
  .map(({ routed, ...rest }) => ({ ...rest, ...routed }));

function encoded(body: Buffer, encoding: FuzzRequest['encoding']): Buffer {
  if (encoding === 'gzip') return zlib.gzipSync(body);
  if (encoding === 'deflate') return zlib.deflateSync(body);
  // 'br' is refused; 'none' sent as is. Either way some bytes claim an encoding they are not.
  return body;
}

// --- the property ---------------------------------------------------------------------------------------

const eventIdOf = (m: OutgoingMessage): string =>
  (JSON.parse((m.value ?? Buffer.alloc(0)).toString('utf8')) as { eventId: string }).eventId;

describe('the collector, fuzzed', () => {
  let app: FastifyInstance | undefined;
  afterAll(async () => {
    await app?.close();
  });

  it(`answers ${RUNS} random requests without a 5xx but 503, and produces exactly what it accepts`, async () => {
    const collector = testCollector({ config: { rateLimit: undefined } });
    app = collector.app;
    const { producer } = collector;
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(fuzzRequest, fc.boolean(), async (req, gzipGarbage) => {
        const headers: Record<string, string> = { 'content-type': req.contentType };
        if (req.key === 'api') headers.authorization = basicAuth(API_KEY);
        if (req.key === 'web') headers.authorization = basicAuth(WEB_KEY);
        if (req.key === 'unknown') headers.authorization = basicAuth('wk_guess');
        let payload = encoded(req.body, req.encoding);
        if (req.encoding !== 'none') {
          headers['content-encoding'] = req.encoding;
          // Now and then the bytes after a valid gzip header are garbage.
          if (gzipGarbage && req.encoding === 'gzip')
            payload = Buffer.concat([payload.subarray(0, 10), req.body.subarray(0, 64)]);
        }
        const before = producer.sent.length;
        const res = await loopbackInject(app!, { method: 'POST', url: `/v1/${req.route}`, headers, payload });
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        expect(res.statusCode < 500 || res.statusCode === 503).toBe(true);
        const sends = producer.sent.slice(before);
        const produced = sends
          .filter((s) => !s.topic.endsWith('.dlq'))
          .flatMap((s) => s.messages.filter((m) => !isLinkCopy(m.headers ?? {})).map(eventIdOf));
        const deadLetters = sends.filter((s) => s.topic.endsWith('.dlq')).flatMap((s) => s.messages);
        if (res.statusCode === 200 || res.statusCode === 202) {
          const body = res.json<{
            accepted: number;
            eventIds: string[];
            rejected?: { outcome: string }[];
          }>();
          expect(produced).toEqual(body.eventIds);
          expect(body.accepted).toBe(produced.length);
          expect(deadLetters.length).toBe(
            (body.rejected ?? []).filter((r) => r.outcome === 'dead-lettered').length,
          );
        } else {
          expect(res.statusCode).not.toBe(201);
          expect(produced).toEqual([]);
          // Only a 400 of calls judged invalid one by one keeps them, as dead letters.
          if (deadLetters.length > 0) expect([400, 403]).toContain(res.statusCode);
        }
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    // Still up, and every kind of answer was seen.
    expect((await loopbackInject(app, { method: 'GET', url: '/health' })).statusCode).toBe(200);
    expect([...statuses.keys()].sort()).toEqual(expect.arrayContaining([200, 202, 400, 401, 403, 413, 415]));
  }, 60_000);
});
