/**
 * The collector's edge (issue 20) as users and attackers meet it, against `ciclo collect`, real Kafka and
 * registry, with the keys of the issue: `CICLO_WRITE_KEYS=web:pk,shop:sk CICLO_SNIPPET_SOURCES=web`.
 *
 * - Segment's own Node library (@segment/analytics-node) sends identify, group, track and page in one
 *   batch: every call is accepted, the three that ciclo records are on Kafka.
 * - A batch with one invalid call keeps its valid ones and dead-letters the invalid one, as sent, with
 *   its problems; a gzip batch is accepted.
 * - `Order Completed`, `Marketing Spend Recorded` and an alias of another id get 403 with pk and nothing
 *   of them reaches Kafka; with sk, 202.
 * - A fuzz run (test/support/segment-fuzz.ts): no 5xx but 503, and every event accepted is on Kafka.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import zlib from 'node:zlib';
import { Analytics } from '@segment/analytics-node';
import fc from 'fast-check';
import { connectTopicAdmin } from '../infra/kafka/admin';
import { connectConsumer, type MessageConsumer } from '../infra/kafka/consumer';
import type { IncomingMessage } from '../infra/kafka/types';
import type { PrivacyConnection } from '../infra/privacy/connect';
import { freePort } from '../infra/stack/processes';
import { DEAD_LETTER_HEADERS } from '../schemas/outputs';
import { deadLetterTopicFor, isLinkCopy, privacyTopicsFor } from '../schemas/topics';
import type { Touchpoint } from '../schemas/touchpoint';
import { openedTouchpoints } from './support/privacy';
import { CICLO_BIN } from './support/cli';
import { fuzzRequest, httpRequestOf } from './support/segment-fuzz';
import { eventually, testConfig, uniqueName } from './support/services';

const config = testConfig();
const { endpoints } = config;
const TOUCHPOINTS = uniqueName('it-edge-touchpoints');
const DEAD_LETTERS = deadLetterTopicFor(TOUCHPOINTS);
/** The issue's keys: pk a browser snippet's (public), sk a server's. */
const PK = 'pk';
const SK = 'sk';
const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;

describe('the collector edge, on Kafka', () => {
  let child: ChildProcess;
  let base: string;
  let consumer: MessageConsumer | undefined;
  let privacy: PrivacyConnection | undefined;
  /** Every touchpoint fact on the test's topic so far, by eventId; and every dead letter. */
  const touchpoints = new Map<string, Touchpoint>();
  const deadLetters: IncomingMessage[] = [];

  beforeAll(async () => {
    const admin = await connectTopicAdmin(endpoints.kafka.brokers);
    await admin.ensureTopics([
      { name: TOUCHPOINTS, partitions: 3 },
      { name: DEAD_LETTERS, partitions: 1 },
    ]);
    await admin.close();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    child = spawn(process.execPath, [CICLO_BIN, 'collect', '--port', String(port), '--topic', TOUCHPOINTS], {
      env: {
        ...process.env,
        CICLO_WRITE_KEYS: `web:${PK},shop:${SK}`,
        CICLO_SNIPPET_SOURCES: 'web',
        CICLO_LOG_LEVEL: 'warn',
      },
      stdio: 'ignore',
    });
    // Personal fields and dead letters are sealed (infra/privacy/): read them as the projector does.
    // Personal fields and dead letters are sealed (infra/privacy/): read them as the projector does.
    const opened = await openedTouchpoints(config, TOUCHPOINTS, 'it-edge');
    privacy = opened.privacy;
    const serde = opened.serde;
    consumer = await connectConsumer({
      brokers: endpoints.kafka.brokers,
      groupId: uniqueName('it-edge'),
      topics: [TOUCHPOINTS, DEAD_LETTERS],
      fromBeginning: true,
      commitOffsets: false,
    });
    await consumer.run(async (batch) => {
      for (const m of batch) {
        if (m.topic === DEAD_LETTERS) {
          const opened = m.key && m.value ? await privacy!.privacy.openBytes(m.key, m.key, m.value) : m.value;
          deadLetters.push({ ...m, value: opened ?? null });
          continue;
        }
        if (isLinkCopy(m.headers)) continue;
        const d = await serde.decode(m.value!);
        if (!d.ok) throw new Error(`undecodable touchpoint at ${m.partition}@${m.offset}: ${d.error}`);
        touchpoints.set(d.value.eventId, d.value);
      }
    });
    await eventually(
      async () => ((await fetch(`${base}/health`)).ok ? true : undefined),
      60_000,
      'collector health',
    );
  });

  afterAll(async () => {
    await consumer?.stop();
    await privacy?.close();
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    const admin = await connectTopicAdmin(endpoints.kafka.brokers);
    await admin.deleteTopics([TOUCHPOINTS, DEAD_LETTERS, ...Object.values(privacyTopicsFor(TOUCHPOINTS))]);
    await admin.close();
  });

  const post = (path: string, body: unknown, key: string, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: basic(key), ...headers },
      body: Buffer.isBuffer(body) ? body : JSON.stringify(body),
    });

  /** Until every one of `eventIds` is on the topic; then those touchpoints. */
  async function onKafka(eventIds: readonly string[], what: string): Promise<Touchpoint[]> {
    await eventually(
      () => Promise.resolve(eventIds.every((id) => touchpoints.has(id)) ? true : undefined),
      60_000,
      what,
    );
    return eventIds.map((id) => touchpoints.get(id)!);
  }

  const counters = async (): Promise<Record<string, number>> =>
    (
      (await (await fetch(`${base}/health`, { headers: { authorization: basic(SK) } })).json()) as {
        counters: Record<string, number>;
      }
    ).counters;

  it("takes identify, group, track and page in one batch from Segment's Node library", async () => {
    const run = uniqueName('ajs');
    const ignoredBefore = (await counters()).ignored ?? 0;
    const statuses: number[] = [];
    const analytics = new Analytics({
      writeKey: SK,
      host: base,
      flushAt: 4,
      flushInterval: 60_000,
      maxRetries: 0,
      httpClient: async (url, init) => {
        const res = await fetch(url, init);
        statuses.push(res.status);
        return res;
      },
    });
    const delivered: Promise<string>[] = [];
    const call = (send: (cb: (err?: unknown, ctx?: { event: { messageId?: string } }) => void) => void) =>
      delivered.push(
        new Promise((resolve, reject) =>
          send((err, ctx) =>
            err
              ? reject(new Error('analytics-node reported an error', { cause: err }))
              : resolve(ctx?.event.messageId ?? ''),
          ),
        ),
      );
    const userId = `${run}-u`;
    call((cb) => analytics.identify({ userId, traits: { email: 'ana@example.com', plan: 'pro' } }, cb));
    call((cb) => analytics.group({ userId, groupId: `${run}-acme`, traits: { name: 'Acme' } }, cb));
    call((cb) =>
      analytics.track(
        {
          userId,
          event: 'Order Completed',
          properties: { order_id: `${run}-o1`, total: 32.97, currency: 'EUR' },
        },
        cb,
      ),
    );
    call((cb) => analytics.page({ userId, name: 'Pricing', properties: { path: '/pricing' } }, cb));
    const messageIds = await Promise.all(delivered);
    await analytics.closeAndFlush();
    // One batch, accepted: every call, the group among them, was answered 2xx.
    expect(statuses).toEqual([202]);
    const [identified, , purchased, viewed] = messageIds.map((id) => `seg:shop:${id}`);
    const arrived = await onKafka([identified!, purchased!, viewed!], "the library's calls on Kafka");
    expect(arrived.map((tp) => tp.type)).toEqual(['Identified', 'PurchaseCompleted', 'PageViewed']);
    expect(arrived[1]).toMatchObject({
      customerId: userId,
      source: { kind: 'api', name: 'shop' },
      payload: { orderId: `${run}-o1`, amountMinor: 3297, currency: 'EUR' },
    });
    expect((await counters()).ignored).toBe(ignoredBefore + 1);
  });

  it('keeps the valid calls of a batch with an invalid one, and dead-letters that one with its problems', async () => {
    const run = uniqueName('dlq');
    const invalid = {
      type: 'track',
      userId: `${run}-u`,
      messageId: `${run}-bad`,
      event: 'Order Completed',
      properties: { order_id: `${run}-o`, total: 'lots' },
    };
    const res = await post(
      '/v1/batch',
      {
        batch: [{ type: 'track', userId: `${run}-u`, messageId: `${run}-good`, event: 'Signed Up' }, invalid],
      },
      SK,
    );
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({
      accepted: 1,
      eventIds: [`seg:shop:${run}-good`],
      rejected: [
        {
          index: 1,
          outcome: 'dead-lettered',
          problems: [{ path: 'batch.1.properties.total', rule: 'invalid_format' }],
        },
      ],
    });
    await onKafka([`seg:shop:${run}-good`], 'the valid call on Kafka');
    await eventually(
      () => Promise.resolve(deadLetters.some((m) => m.key === `${run}-u`) ? true : undefined),
      60_000,
      'the dead letter',
    );
    const letter = deadLetters.find((m) => m.key === `${run}-u`)!;
    expect(JSON.parse(letter.value!.toString('utf8'))).toEqual(invalid);
    expect(letter.headers).toMatchObject({
      [DEAD_LETTER_HEADERS.reason]: 'invalid',
      [DEAD_LETTER_HEADERS.stage]: 'collector',
      [DEAD_LETTER_HEADERS.sender]: 'shop',
      [DEAD_LETTER_HEADERS.call]: 'batch.1',
    });
    expect(JSON.parse(letter.headers[DEAD_LETTER_HEADERS.problems]!)).toEqual([
      expect.objectContaining({ path: 'batch.1.properties.total', rule: 'invalid_format' }),
    ]);
    expect(touchpoints.has(`seg:shop:${run}-bad`)).toBe(false);
  });

  it('accepts a gzip batch', async () => {
    const run = uniqueName('gzip');
    const body = zlib.gzipSync(
      JSON.stringify({
        batch: [
          { type: 'identify', userId: `${run}-u`, messageId: `${run}-m1`, traits: { plan: 'pro' } },
          { type: 'page', userId: `${run}-u`, messageId: `${run}-m2`, properties: { path: '/' } },
        ],
      }),
    );
    const res = await post('/v1/batch', body, SK, { 'content-encoding': 'gzip' });
    expect(res.status).toBe(202);
    const arrived = await onKafka([`seg:shop:${run}-m1`, `seg:shop:${run}-m2`], 'the gzip batch on Kafka');
    expect(arrived.map((tp) => tp.type)).toEqual(['Identified', 'PageViewed']);
  });

  it('answers 403 to pk for a purchase, spend and an alias of another id, producing nothing; 202 to sk', async () => {
    const run = uniqueName('rights');
    const calls = (who: string) =>
      [
        [
          '/v1/track',
          {
            userId: `${run}-${who}`,
            messageId: `${run}-${who}-order`,
            event: 'Order Completed',
            properties: { order_id: `${run}-${who}-o`, total: 10, currency: 'EUR' },
          },
        ],
        [
          '/v1/track',
          {
            anonymousId: `${run}-${who}-anon`,
            messageId: `${run}-${who}-spend`,
            event: 'Marketing Spend Recorded',
            properties: {
              channel: 'ads',
              amount: 1000,
              currency: 'EUR',
              period_start: '2026-03-01T00:00:00Z',
              period_end: '2026-03-31T00:00:00Z',
            },
          },
        ],
        [
          '/v1/alias',
          {
            userId: `${run}-${who}`,
            anonymousId: `${run}-${who}-anon`,
            previousId: `${run}-someone-else`,
            messageId: `${run}-${who}-alias`,
          },
        ],
      ] as const;
    const forbidden = [];
    for (const [path, body] of calls('pk')) forbidden.push(await post(path, body, PK));
    expect(forbidden.map((r) => r.status)).toEqual([403, 403, 403]);
    expect(await forbidden[0]!.json()).toMatchObject({
      code: 'FORBIDDEN',
      produced: 0,
      problems: [{ path: 'event', rule: 'browser_key_event_forbidden' }],
    });
    expect(await forbidden[2]!.json()).toMatchObject({
      problems: [{ path: 'previousId', rule: 'browser_key_alias_of_other_id' }],
    });
    const allowed = [];
    for (const [path, body] of calls('sk')) allowed.push(await post(path, body, SK));
    expect(allowed.map((r) => r.status)).toEqual([202, 202, 202]);
    const arrived = await onKafka(
      ['order', 'spend', 'alias'].map((m) => `seg:shop:${run}-sk-${m}`),
      "sk's calls on Kafka",
    );
    expect(arrived.map((tp) => tp.type)).toEqual(['PurchaseCompleted', 'MarketingSpendRecorded', 'Aliased']);
    // pk's were sent first, on the same producer: nothing of them is on either topic.
    const fromPk = [...touchpoints.keys()].filter((id) => id.includes(`${run}-pk`));
    expect(fromPk).toEqual([]);
    expect(deadLetters.filter((m) => m.value?.toString('utf8').includes(`${run}-pk`))).toEqual([]);
  });

  it('answers random requests and byte soup without a 5xx but 503, and every event it accepted is on Kafka', async () => {
    const requests = fc.sample(fuzzRequest, { seed: 2026_12, numRuns: 200 });
    const accepted: string[] = [];
    const statuses = new Map<number, number>();
    for (const req of requests) {
      const { path, headers, payload } = httpRequestOf(req, { api: SK, web: PK });
      const res = await fetch(`${base}${path}`, { method: 'POST', headers, body: payload });
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      expect(res.status < 500 || res.status === 503).toBe(true);
      const text = await res.text();
      if (res.status === 200 || res.status === 202)
        accepted.push(...(JSON.parse(text) as { eventIds: string[] }).eventIds);
    }
    expect(accepted.length).toBeGreaterThan(100);
    expect(statuses.get(202)).toBeGreaterThan(20);
    await onKafka(accepted, `the ${accepted.length} events the fuzzed requests had accepted`);
    // Still serving.
    expect((await fetch(`${base}/health`)).status).toBe(200);
  });
});
