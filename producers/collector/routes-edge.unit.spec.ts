/**
 * The collector's edge over HTTP, as Segment's libraries and hostile clients meet it: compressed bodies,
 * what each kind of write key may send, group calls, the rate limit per key, and 401s in the log.
 */
import zlib from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { loopbackInject, type LoopbackResponse } from '../../test/support/loopback';
import { isLinkCopy } from '../../schemas/topics';
import { sentDeadLetters, sentTouchpoints } from '../edge/fakes';
import {
  API_KEY,
  TEST_NOW,
  WEB_KEY,
  basicAuth,
  testCollectorsClosedAfterEach,
  type TestCollector,
} from '../server/fakes';
import { MAX_BATCH_CALLS } from './request';

/** The collector under test, closed after each test even when an expectation fails. */
const setup = testCollectorsClosedAfterEach();

const post = (
  app: FastifyInstance,
  url: string,
  payload: unknown,
  headers: Record<string, string> = { authorization: basicAuth(API_KEY) },
): Promise<LoopbackResponse> => loopbackInject(app, { method: 'POST', url, headers, payload });

/** The collector's counters, as GET /health shows them to a server key. */
const counters = async (app: FastifyInstance) =>
  (
    await loopbackInject(app, {
      method: 'GET',
      url: '/health',
      headers: { authorization: basicAuth(API_KEY) },
    })
  ).json<{ counters: Record<string, number> }>().counters;

/** The touchpoints produced, without the copies of links on other partitions (schemas/topics.ts). */
const facts = (producer: TestCollector['producer']) =>
  sentTouchpoints({
    ...producer,
    sent: producer.sent.map((s) => ({
      ...s,
      messages: s.messages.filter((m) => !isLinkCopy(m.headers ?? {})),
    })),
  });

const orderCompleted = {
  userId: 'cus_1',
  anonymousId: 'anon_1',
  event: 'Order Completed',
  properties: { order_id: 'ord_1', total: 10, currency: 'EUR' },
};
const spend = {
  event: 'Marketing Spend Recorded',
  anonymousId: 'anon_1',
  properties: {
    channel: 'ads',
    amount: 100,
    currency: 'EUR',
    period_start: '2026-03-01T00:00:00Z',
    period_end: '2026-03-07T00:00:00Z',
  },
};
const aliasOfOther = { userId: 'cus_2', anonymousId: 'anon_1', previousId: 'cus_1' };

describe('compressed bodies', () => {
  const batch = {
    batch: [
      { type: 'identify', userId: 'cus_1', messageId: 'm1', traits: { email: 'ana@example.com' } },
      { type: 'track', userId: 'cus_1', messageId: 'm2', event: 'Video Played' },
    ],
  };

  it('takes gzip and deflate bodies, JSON or text/plain, as Segment libraries send them', async () => {
    const { app, producer } = setup();
    const gzip = await post(app, '/v1/batch', zlib.gzipSync(JSON.stringify(batch)), {
      authorization: basicAuth(API_KEY),
      'content-type': 'application/json',
      'content-encoding': 'gzip',
    });
    expect(gzip.statusCode).toBe(202);
    expect(gzip.json()).toMatchObject({ accepted: 2, eventIds: ['seg:backend:m1', 'seg:backend:m2'] });
    const deflate = await post(
      app,
      '/v1/page',
      zlib.deflateSync(JSON.stringify({ writeKey: WEB_KEY, anonymousId: 'a1', messageId: 'p1' })),
      { 'content-type': 'text/plain', 'content-encoding': 'deflate' },
    );
    expect(deflate.statusCode).toBe(202);
    expect(sentTouchpoints(producer).map((tp) => tp.eventId)).toEqual([
      'seg:backend:m1',
      'seg:backend:m2',
      'seg:web:p1',
    ]);
  });

  it('applies the body limit to the decompressed size, and the ratio cap to bombs', async () => {
    const { app, producer } = setup({ config: { bodyLimitBytes: 2048 } });
    const large = zlib.gzipSync(JSON.stringify({ ...batch, note: 'x'.repeat(4000) }));
    expect(large.length).toBeLessThan(2048);
    const headers = {
      authorization: basicAuth(API_KEY),
      'content-type': 'application/json',
      'content-encoding': 'gzip',
    };
    const tooLarge = await post(app, '/v1/batch', large, headers);
    expect(tooLarge.statusCode).toBe(413);
    expect(tooLarge.json()).toMatchObject({ code: 'BODY_TOO_LARGE', produced: 0 });
    const { app: roomy } = setup({ config: { bodyLimitBytes: 64 * 1024 * 1024 } });
    const bomb = zlib.gzipSync(Buffer.alloc(20 * 1024 * 1024, ' '));
    const refused = await post(roomy, '/v1/batch', bomb, headers);
    expect(refused.statusCode).toBe(413);
    expect(refused.json()).toMatchObject({
      code: 'BODY_TOO_LARGE',
      detail: expect.stringContaining('100 times') as unknown,
    });
    expect(producer.sent).toEqual([]);
  });

  it('answers 400 for bytes that are not gzip, and 415 for an encoding it does not read', async () => {
    const { app } = setup();
    const garbage = await post(app, '/v1/batch', Buffer.from(JSON.stringify(batch)), {
      authorization: basicAuth(API_KEY),
      'content-type': 'application/json',
      'content-encoding': 'gzip',
    });
    expect(garbage.statusCode).toBe(400);
    expect(garbage.json()).toMatchObject({
      code: 'INVALID_REQUEST',
      problems: [
        { path: '', rule: 'invalid_encoding', message: expect.stringContaining('not valid gzip') as unknown },
      ],
    });
    const brotli = await post(app, '/v1/batch', zlib.brotliCompressSync(JSON.stringify(batch)), {
      authorization: basicAuth(API_KEY),
      'content-type': 'application/json',
      'content-encoding': 'br',
    });
    expect(brotli.statusCode).toBe(415);
    expect(brotli.json()).toMatchObject({ code: 'UNSUPPORTED_ENCODING' });
  });
});

describe('rights by key kind', () => {
  it('answers 403 to a browser key sending a purchase, spend or an alias of another id: nothing on Kafka', async () => {
    const { app, producer } = setup();
    const web = { authorization: basicAuth(WEB_KEY) };
    const answers = [
      await post(app, '/v1/track', orderCompleted, web),
      await post(app, '/v1/track', spend, web),
      await post(app, '/v1/alias', aliasOfOther, web),
      await post(
        app,
        '/v1/batch',
        {
          batch: [
            { type: 'track', ...orderCompleted },
            { type: 'alias', ...aliasOfOther },
          ],
        },
        web,
      ),
    ];
    expect(answers.map((a) => a.statusCode)).toEqual([403, 403, 403, 403]);
    expect(answers[0]!.json()).toMatchObject({
      code: 'FORBIDDEN',
      produced: 0,
      problems: [
        {
          path: 'event',
          rule: 'browser_key_event_forbidden',
          message: expect.stringContaining(
            '"Order Completed" is recorded for a business from its server',
          ) as unknown,
        },
      ],
    });
    expect(answers[2]!.json()).toMatchObject({
      problems: [{ path: 'previousId', rule: 'browser_key_alias_of_other_id' }],
    });
    expect(answers[3]!.json()).toMatchObject({
      problems: [{ path: 'batch.0.event' }, { path: 'batch.1.previousId' }],
    });
    expect(producer.sent).toEqual([]);
    expect(await counters(app)).toMatchObject({ forbidden: 5, produced: 0, deadLettered: 0 });
  });

  it('takes the same calls from a server key', async () => {
    const { app, producer } = setup();
    const answers = [
      await post(app, '/v1/track', orderCompleted),
      await post(app, '/v1/track', spend),
      await post(app, '/v1/alias', aliasOfOther),
    ];
    expect(answers.map((a) => a.statusCode)).toEqual([202, 202, 202]);
    expect(facts(producer).map((tp) => tp.type)).toEqual([
      'PurchaseCompleted',
      'MarketingSpendRecorded',
      'Aliased',
    ]);
  });

  it("refuses a browser batch's forbidden calls one by one and produces the rest", async () => {
    const { app, producer } = setup();
    const res = await post(
      app,
      '/v1/batch',
      {
        batch: [
          { type: 'page', anonymousId: 'anon_1', messageId: 'p1' },
          { type: 'track', messageId: 't1', ...orderCompleted },
          { type: 'alias', userId: 'cus_1', anonymousId: 'anon_1', previousId: 'anon_1', messageId: 'a1' },
        ],
      },
      { authorization: basicAuth(WEB_KEY) },
    );
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({
      success: true,
      accepted: 2,
      eventIds: ['seg:web:p1', 'seg:web:a1'],
      rejected: [
        {
          index: 1,
          outcome: 'forbidden',
          problems: [expect.objectContaining({ path: 'batch.1.event', rule: 'browser_key_event_forbidden' })],
        },
      ],
    });
    expect(facts(producer).map((tp) => tp.type)).toEqual(['PageViewed', 'Aliased']);
    expect(sentDeadLetters(producer)).toEqual([]);
  });
});

describe('group', () => {
  it('is answered 2xx and listed as ignored, alone or in a batch', async () => {
    const { app, producer } = setup();
    const group = { userId: 'cus_1', groupId: 'acme', traits: { name: 'Acme', plan: 'enterprise' } };
    const alone = await post(app, '/v1/group', group);
    expect(alone.statusCode).toBe(200);
    expect(alone.json()).toEqual({
      success: true,
      accepted: 0,
      eventIds: [],
      ignored: [{ index: 0, type: 'group', reason: expect.stringContaining('not recorded') as unknown }],
    });
    const batch = await post(app, '/v1/batch', {
      batch: [
        { type: 'group', ...group },
        { type: 'page', userId: 'cus_1', messageId: 'p1' },
      ],
    });
    expect(batch.statusCode).toBe(202);
    expect(batch.json()).toMatchObject({ accepted: 1, ignored: [{ index: 0, type: 'group' }] });
    expect(sentTouchpoints(producer)).toHaveLength(1);
    expect(await counters(app)).toMatchObject({ ignored: 2, produced: 1 });
  });
});

describe('limits', () => {
  it('holds each write key to its rate: 429 with Retry-After, counted, nothing kept', async () => {
    let now = TEST_NOW;
    const { app, producer } = setup({
      clock: () => now,
      config: { rateLimit: { callsPerSecond: 2, burst: 3 } },
    });
    const pages = (n: number) => ({
      batch: Array.from({ length: n }, (_, i) => ({
        type: 'page',
        anonymousId: 'a',
        messageId: `${now}-${i}`,
      })),
    });
    expect((await post(app, '/v1/batch', pages(3))).statusCode).toBe(202);
    const limited = await post(app, '/v1/batch', pages(2));
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBe('1');
    expect(limited.json()).toMatchObject({ code: 'RATE_LIMITED', produced: 0 });
    // Another key has a bucket of its own.
    expect(
      (await post(app, '/v1/page', { anonymousId: 'a' }, { authorization: basicAuth(WEB_KEY) })).statusCode,
    ).toBe(202);
    now += 1000;
    expect((await post(app, '/v1/batch', pages(2))).statusCode).toBe(202);
    expect(sentTouchpoints(producer)).toHaveLength(6);
    expect(await counters(app)).toMatchObject({ rateLimited: 2 });
  });

  it('answers 413 to a batch of more calls than MAX_BATCH_CALLS', async () => {
    const { app, producer } = setup({ config: { rateLimit: undefined } });
    const res = await post(app, '/v1/batch', {
      batch: Array.from({ length: MAX_BATCH_CALLS + 1 }, () => ({})),
    });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({
      code: 'BODY_TOO_LARGE',
      detail: expect.stringContaining('split it') as unknown,
    });
    expect(producer.sent).toEqual([]);
  });

  it('counts every 401 and logs them at most once per 10 s, saying how many it did not log', async () => {
    let now = TEST_NOW;
    const { app, logs } = setup({ clock: () => now });
    for (let i = 0; i < 30; i++)
      await post(app, '/v1/page', { anonymousId: 'a' }, { authorization: basicAuth(`guess-${i}`) });
    now += 10_000;
    await post(app, '/v1/batch', { batch: [{}, {}] }, {});
    const lines = logs()
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === 'request without a valid write key');
    expect(lines.map((l) => [l.key, l.notLogged])).toEqual([
      ['unknown', 0],
      ['missing', 29],
    ]);
    expect(JSON.stringify(lines)).not.toContain('guess-');
    expect(await counters(app)).toMatchObject({ unauthorized: 32 });
  });
});
