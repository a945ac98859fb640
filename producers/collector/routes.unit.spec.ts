import { loopbackInject } from '../../test/support/loopback';
import { TOPICS } from '../../schemas/topics';
import { sentDeadLetters, sentTouchpoints } from '../edge/fakes';
import {
  API_KEY,
  TEST_NOW,
  WEB_KEY,
  basicAuth,
  ORDER_COMPLETED_CALL,
  testCollectorsClosedAfterEach,
} from '../server/fakes';
import { writeKeyFrom } from './routes';

/** The collector under test, closed after each test even when an expectation fails. */
const setup = testCollectorsClosedAfterEach();

const orderCompleted = ORDER_COMPLETED_CALL;

describe('POST /v1/*', () => {
  it('answers 202 once Kafka has the touchpoint: keyed by customer, stamped with receivedAt', async () => {
    const { app, producer } = setup();
    const res = await loopbackInject(app, {
      method: 'POST',
      url: '/v1/track',
      headers: { authorization: basicAuth(API_KEY), 'x-request-id': 'req-42' },
      payload: { ...orderCompleted, messageId: 'msg-1' },
    });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ success: true, accepted: 1, eventIds: ['seg:backend:msg-1'] });
    expect(res.headers['x-request-id']).toBe('req-42');
    expect(producer.sent).toHaveLength(1);
    expect(producer.sent[0]!.topic).toBe(TOPICS.touchpoints.name);
    expect(producer.sent[0]!.messages[0]).toMatchObject({ key: 'cus_8c1f2a', timestamp: TEST_NOW });
    expect(sentTouchpoints(producer)).toEqual([
      expect.objectContaining({
        eventId: 'seg:backend:msg-1',
        type: 'PurchaseCompleted',
        occurredAt: Date.UTC(2026, 2, 14, 9, 29),
        receivedAt: TEST_NOW,
        source: { kind: 'api', name: 'backend' },
      }),
    ]);
  });

  it('takes the write key from the body and JSON sent as text/plain, as analytics.js beacons do', async () => {
    const { app, producer } = setup();
    const res = await loopbackInject(app, {
      method: 'POST',
      url: '/v1/page',
      headers: { 'content-type': 'text/plain' },
      payload: JSON.stringify({ writeKey: WEB_KEY, anonymousId: 'anon_1', properties: { path: '/pricing' } }),
    });
    expect(res.statusCode).toBe(202);
    expect(sentTouchpoints(producer)[0]).toMatchObject({
      type: 'PageViewed',
      source: { kind: 'snippet', name: 'web' },
      payload: { path: '/pricing' },
    });
  });

  it('answers 401 for a missing or unknown write key and produces nothing', async () => {
    const { app, producer } = setup();
    const missing = await loopbackInject(app, { method: 'POST', url: '/v1/track', payload: orderCompleted });
    const unknown = await loopbackInject(app, {
      method: 'POST',
      url: '/v1/track',
      headers: { authorization: basicAuth('wk_nope') },
      payload: orderCompleted,
    });
    expect([missing.statusCode, unknown.statusCode]).toEqual([401, 401]);
    expect(missing.json()).toMatchObject({ success: false, code: 'UNAUTHORIZED', produced: 0 });
    expect(unknown.json()).toMatchObject({ detail: 'the write key belongs to no configured source' });
    expect(producer.sent).toEqual([]);
  });

  it('judges a batch call by call: produces the valid, dead-letters the invalid, lists each', async () => {
    const { app, producer } = setup();
    const invalidCall = {
      type: 'track',
      userId: 'u1',
      messageId: 'bad-1',
      event: 'Order Completed',
      properties: { order_id: 'o', total: 'free' },
    };
    const res = await loopbackInject(app, {
      method: 'POST',
      url: '/v1/batch',
      headers: { authorization: basicAuth(API_KEY) },
      payload: {
        batch: [
          { type: 'track', messageId: 'good-1', ...orderCompleted },
          invalidCall,
          { type: 'identify', traits: { email: 'ana@example.com' } },
        ],
      },
    });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({
      success: true,
      accepted: 1,
      eventIds: ['seg:backend:good-1'],
      rejected: [
        {
          index: 1,
          outcome: 'dead-lettered',
          problems: [
            {
              path: 'batch.1.properties.total',
              rule: 'invalid_format',
              message: 'must be a decimal amount such as 12.99, got "free"',
            },
          ],
        },
        {
          index: 2,
          outcome: 'dead-lettered',
          problems: [
            { path: 'batch.2.userId', rule: 'custom', message: 'userId or anonymousId is required' },
          ],
        },
      ],
    });
    expect(sentTouchpoints(producer).map((tp) => tp.eventId)).toEqual(['seg:backend:good-1']);
    const letters = sentDeadLetters(producer);
    expect(letters.map((l) => [l.topic, l.key])).toEqual([
      [`${TOPICS.touchpoints.name}.dlq`, 'u1'],
      [`${TOPICS.touchpoints.name}.dlq`, null],
    ]);
    // The call as sent, and every problem with it, and who sent it.
    expect(JSON.parse(letters[0]!.value)).toEqual(invalidCall);
    expect(letters[0]!.headers).toMatchObject({
      'ciclo-dlq-reason': 'invalid',
      'ciclo-dlq-stage': 'collector',
      'ciclo-dlq-sender': 'backend',
      'ciclo-dlq-call': 'batch.1',
      'ciclo-dlq-failed-at': new Date(TEST_NOW).toISOString(),
    });
    expect(JSON.parse(letters[0]!.headers['ciclo-dlq-problems']!)).toEqual([
      expect.objectContaining({ path: 'batch.1.properties.total', rule: 'invalid_format' }),
    ]);
    expect(letters[0]!.headers).not.toHaveProperty('ciclo-dlq-source-topic');
  });

  it('answers 400 listing every problem when no call of the request is valid, and dead-letters them', async () => {
    const { app, producer } = setup();
    const res = await loopbackInject(app, {
      method: 'POST',
      url: '/v1/batch',
      headers: { authorization: basicAuth(API_KEY) },
      payload: {
        batch: [
          {
            type: 'track',
            userId: 'u1',
            event: 'Order Completed',
            properties: { order_id: 'o', total: 'free' },
          },
          { type: 'identify', traits: { email: 'ana@example.com' } },
        ],
      },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({
      success: false,
      code: 'INVALID_REQUEST',
      message: 'the request has problems; no event in it was produced',
      produced: 0,
      detail: '2 of 2 call(s) invalid, kept on the dead-letter topic with their problems; none was produced',
      problems: [
        {
          path: 'batch.0.properties.total',
          rule: 'invalid_format',
          message: 'must be a decimal amount such as 12.99, got "free"',
        },
        { path: 'batch.1.userId', rule: 'custom', message: 'userId or anonymousId is required' },
      ],
    });
    expect(sentTouchpoints(producer)).toEqual([]);
    expect(sentDeadLetters(producer)).toHaveLength(2);
  });

  it('answers 400 for a batch without a list of calls, keeping nothing', async () => {
    const { app, producer } = setup();
    const res = await loopbackInject(app, {
      method: 'POST',
      url: '/v1/batch',
      headers: { authorization: basicAuth(API_KEY) },
      payload: { batch: 'none' },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'INVALID_REQUEST', problems: [{ path: 'batch' }] });
    expect(producer.sent).toEqual([]);
  });

  it('answers 400 for a body that is not JSON', async () => {
    const { app } = setup();
    const res = await loopbackInject(app, {
      method: 'POST',
      url: '/v1/track',
      headers: { authorization: basicAuth(API_KEY), 'content-type': 'application/json' },
      payload: '{"event": ',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({
      code: 'INVALID_REQUEST',
      problems: [{ path: '', rule: 'invalid_json' }],
    });
  });

  it('answers 413 for a body over the limit, producing nothing', async () => {
    const { app, producer } = setup({ config: { bodyLimitBytes: 1024 } });
    const res = await loopbackInject(app, {
      method: 'POST',
      url: '/v1/track',
      headers: { authorization: basicAuth(API_KEY) },
      payload: { ...orderCompleted, properties: { note: 'x'.repeat(2000) } },
    });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ success: false, code: 'BODY_TOO_LARGE', produced: 0 });
    expect(producer.sent).toEqual([]);
  });

  it.each([
    ['rejects', 'reject'],
    ['never answers', 'hang'],
  ] as const)('answers 503 with Retry-After when Kafka %s', async (_what, behaviour) => {
    const { app, producer } = setup({ config: { sendTimeoutMs: 50, retryAfterSeconds: 7 } });
    producer.behaviour = behaviour;
    const res = await loopbackInject(app, {
      method: 'POST',
      url: '/v1/track',
      headers: { authorization: basicAuth(API_KEY) },
      payload: orderCompleted,
    });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('7');
    expect(res.json()).toMatchObject({ success: false, code: 'UNAVAILABLE', produced: 0 });
  });

  it('gives a retried call without messageId the same eventId', async () => {
    const { app } = setup();
    const send = (sentAt: string) =>
      loopbackInject(app, {
        method: 'POST',
        url: '/v1/track',
        headers: { authorization: basicAuth(API_KEY) },
        payload: { ...orderCompleted, sentAt },
      });
    const first = (await send('2026-03-14T09:29:01Z')).json<{ eventIds: string[] }>();
    const retry = (await send('2026-03-14T09:29:31Z')).json<{ eventIds: string[] }>();
    expect(retry.eventIds).toEqual(first.eventIds);
  });

  it('gives a raw HTTP retry with the same messageId and no timestamp the same eventId', async () => {
    let clock = TEST_NOW;
    const { app, producer } = setup({ clock: () => clock });
    const send = () =>
      loopbackInject(app, {
        method: 'POST',
        url: '/v1/track',
        headers: { authorization: basicAuth(API_KEY) },
        payload: { ...orderCompleted, timestamp: undefined, messageId: 'ord-1042-completed' },
      });
    const first = (await send()).json<{ eventIds: string[] }>();
    clock += 30_000;
    const retry = (await send()).json<{ eventIds: string[] }>();
    const id = 'seg:backend:ord-1042-completed';
    expect([first.eventIds, retry.eventIds]).toEqual([[id], [id]]);
    expect(sentTouchpoints(producer).map((tp) => [tp.eventId, tp.occurredAt])).toEqual([
      [id, TEST_NOW],
      [id, TEST_NOW + 30_000],
    ]);
  });

  it("corrects a browser's clock by sentAt, clamps what is still out of bounds, counts and logs it", async () => {
    const threeYears = 3 * 365 * 86_400_000;
    const iso = (ms: number) => new Date(ms).toISOString();
    const { app, producer, logs } = setup({ logLevel: 'debug' });
    const res = await loopbackInject(app, {
      method: 'POST',
      url: '/v1/batch',
      headers: { 'content-type': 'text/plain' },
      payload: JSON.stringify({
        writeKey: WEB_KEY,
        sentAt: iso(TEST_NOW + threeYears),
        batch: [
          {
            type: 'page',
            anonymousId: 'anon_1',
            messageId: 'm1',
            timestamp: iso(TEST_NOW + threeYears - 60_000),
          },
          {
            type: 'page',
            anonymousId: 'anon_1',
            messageId: 'm2',
            timestamp: iso(TEST_NOW + threeYears),
            sentAt: 'garbage',
          },
          {
            type: 'page',
            anonymousId: 'anon_1',
            messageId: 'm3',
            timestamp: iso(TEST_NOW),
            sentAt: iso(TEST_NOW - threeYears),
          },
        ],
      }),
    });
    expect(res.statusCode).toBe(202);
    // m2's own sentAt is unreadable, so the batch's corrects it; m3's own (3 years behind) wins and
    // puts it 3 years ahead: clamped.
    expect(sentTouchpoints(producer).map((tp) => [tp.eventId, tp.occurredAt])).toEqual([
      ['seg:web:m1', TEST_NOW - 60_000],
      ['seg:web:m2', TEST_NOW],
      ['seg:web:m3', TEST_NOW],
    ]);
    const health = await loopbackInject(app, {
      method: 'GET',
      url: '/health',
      headers: { authorization: basicAuth(API_KEY) },
    });
    expect(health.json()).toMatchObject({ counters: { produced: 3, clamped: { snippet: 1, api: 0 } } });
    const clamped = logs()
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === 'event time clamped');
    expect(clamped).toEqual([
      expect.objectContaining({
        level: 20,
        source: 'web',
        kind: 'snippet',
        call: 'batch.2',
        eventId: 'seg:web:m3',
        timestamp: TEST_NOW,
        sentAt: TEST_NOW - threeYears,
        correctedAt: TEST_NOW + threeYears,
        receivedAt: TEST_NOW,
        occurredAt: TEST_NOW,
        reason: 'ahead',
      }),
    ]);
  });

  it("refuses a server key's time more than a day ahead, naming timestamp, call by call", async () => {
    const { app, producer } = setup();
    const ahead = new Date(TEST_NOW + 25 * 3_600_000).toISOString();
    const one = await loopbackInject(app, {
      method: 'POST',
      url: '/v1/track',
      headers: { authorization: basicAuth(API_KEY) },
      payload: { ...orderCompleted, timestamp: ahead },
    });
    expect(one.statusCode).toBe(400);
    expect(one.json()).toMatchObject({
      code: 'INVALID_REQUEST',
      produced: 0,
      problems: [
        {
          path: 'timestamp',
          rule: 'too_far_ahead',
          message: `timestamp ${ahead} is 1 d 1 h 0 min ahead of the collector's clock (${new Date(TEST_NOW).toISOString()}); a server key's timestamp may be at most 1 day ahead`,
        },
      ],
    });
    const batch = await loopbackInject(app, {
      method: 'POST',
      url: '/v1/batch',
      headers: { authorization: basicAuth(API_KEY) },
      payload: {
        batch: [
          { type: 'track', ...orderCompleted },
          { type: 'track', ...orderCompleted, timestamp: ahead },
        ],
      },
    });
    expect(batch.statusCode).toBe(202);
    expect(batch.json()).toMatchObject({
      accepted: 1,
      rejected: [{ index: 1, problems: [{ path: 'batch.1.timestamp', rule: 'too_far_ahead' }] }],
    });
    expect(sentTouchpoints(producer)).toHaveLength(1);
    expect(sentDeadLetters(producer)).toHaveLength(2);
    // An old one is a backfill, kept as it is.
    const old = await loopbackInject(app, {
      method: 'POST',
      url: '/v1/track',
      headers: { authorization: basicAuth(API_KEY) },
      payload: { ...orderCompleted, timestamp: '2019-05-01T00:00:00Z' },
    });
    expect(old.statusCode).toBe(202);
    expect(sentTouchpoints(producer)[1]!.occurredAt).toBe(Date.parse('2019-05-01T00:00:00Z'));
  });

  it('answers CORS preflights for browser snippets', async () => {
    const { app } = setup({ config: { corsOrigins: ['https://shop.example'] } });
    const res = await loopbackInject(app, {
      method: 'OPTIONS',
      url: '/v1/batch',
      headers: {
        origin: 'https://shop.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(res.statusCode).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe('https://shop.example');
  });

  it('logs each request with its id, and no personal data or write key', async () => {
    const { app, logs } = setup();
    await loopbackInject(app, {
      method: 'POST',
      url: '/v1/identify',
      headers: { authorization: basicAuth(API_KEY), 'x-request-id': 'req-7' },
      payload: {
        userId: 'cus_1',
        traits: { email: 'ana@example.com', name: 'Ana Ruiz' },
        context: { ip: '203.0.113.7' },
      },
    });
    const lines = logs();
    expect(lines.some((l) => l.includes('"reqId":"req-7"') && l.includes('touchpoints produced'))).toBe(true);
    for (const secret of ['ana@example.com', 'Ana Ruiz', '203.0.113.7', API_KEY, 'remoteAddress']) {
      expect(lines.join('\n')).not.toContain(secret);
    }
  });
});

describe('writeKeyFrom', () => {
  it('reads the Basic auth user name, else writeKey in the body', () => {
    expect(writeKeyFrom(basicAuth('k1'), { writeKey: 'k2' })).toBe('k1');
    expect(writeKeyFrom(`basic ${Buffer.from('k1').toString('base64')}`, undefined)).toBe('k1');
    expect(writeKeyFrom(undefined, { writeKey: 'k2' })).toBe('k2');
    expect(writeKeyFrom('Bearer k1', [])).toBeUndefined();
  });
});
