/**
 * Random requests to a collector's /v1 routes, for its fuzz tests (producers/collector/fuzz.unit.spec.ts
 * in process, test/collector-edge.int.spec.ts against the real one): Segment calls as libraries send them
 * with now and then a field that is anything at all (wrong types, ids past 2^53, odd unicode, deep
 * nesting, huge strings and numbers, spec events from either kind of key), batches and single calls, and
 * byte soup (malformed or cut JSON, random bytes, 150,000 levels of brackets), plain, gzip (sometimes
 * garbage after a gzip header), deflate or with an encoding the collector does not read.
 */
import zlib from 'node:zlib';
import fc from 'fast-check';
import { TRACK_MAPPERS } from '../../producers/collector/track-mappers';

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

export type Route = 'batch' | 'track' | 'identify' | 'page' | 'screen' | 'alias' | 'group';
export interface FuzzRequest {
  readonly route: Route;
  readonly key: 'api' | 'web' | 'none' | 'unknown';
  readonly contentType: string;
  readonly encoding: 'none' | 'gzip' | 'deflate' | 'br';
  readonly body: Buffer;
  /** With gzip: keep the header, then garbage. */
  readonly gzipGarbage: boolean;
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

export const fuzzRequest: fc.Arbitrary<FuzzRequest> = fc
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
    gzipGarbage: fc.boolean(),
  })
  .map(({ routed, ...rest }) => ({ ...rest, ...routed }));

function encoded(body: Buffer, encoding: FuzzRequest['encoding']): Buffer {
  if (encoding === 'gzip') return zlib.gzipSync(body);
  if (encoding === 'deflate') return zlib.deflateSync(body);
  // 'br' is refused; 'none' sent as is. Either way some bytes claim an encoding they are not.
  return body;
}

/** The HTTP request for a fuzzed one: path, headers (write keys as given) and body bytes. */
export function httpRequestOf(
  req: FuzzRequest,
  keys: { readonly api: string; readonly web: string },
): { path: string; headers: Record<string, string>; payload: Buffer } {
  const headers: Record<string, string> = { 'content-type': req.contentType };
  const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;
  if (req.key === 'api') headers.authorization = basic(keys.api);
  if (req.key === 'web') headers.authorization = basic(keys.web);
  if (req.key === 'unknown') headers.authorization = basic('wk_guess');
  let payload = encoded(req.body, req.encoding);
  if (req.encoding !== 'none') {
    headers['content-encoding'] = req.encoding;
    // Now and then the bytes after a valid gzip header are garbage.
    if (req.gzipGarbage && req.encoding === 'gzip')
      payload = Buffer.concat([payload.subarray(0, 10), req.body.subarray(0, 64)]);
  }
  return { path: `/v1/${req.route}`, headers, payload };
}
