/**
 * `ciclo collect` as users run it, against real Kafka and registry: a valid Segment batch gets 202 and
 * its events are on the touchpoint topic, decoded as typed touchpoints; a batch of invalid calls only gets
 * 400 listing each problem by field path and produces no touchpoint; a missing write key gets 401. Event
 * time is bounded where it enters (issue 18): a browser's wrong clock is corrected by sentAt, or clamped
 * to receivedAt and counted; a server key's timestamp more than a day ahead is refused naming `timestamp`.
 * It keeps less (issue 21): a page URL's query but utm_* and CICLO_URL_QUERY_ALLOWLIST, the referrer's
 * origin, the IP truncated as CICLO_COLLECTOR_IP says; a webhook names someone known by email only with the
 * keyed pseudonym of the installation's secret. Touchpoints are read with their sealed fields opened.
 * The collector's edge (issue 20: Segment's own library, dead letters, gzip, rights by key kind, fuzz) is
 * in collector-edge.int.spec.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { connectConsumer } from '../infra/kafka/consumer';
import { connectPrivacy, type PrivacyConnection } from '../infra/privacy/connect';
import { loadInstallationSecret } from '../infra/privacy/installation-secret';
import { privateSerde } from '../infra/privacy/personal-data';
import { createAvroRegistry } from '../infra/registry/schema-registry';
import { CONTRACTS } from '../schemas/contracts';
import { createSerde } from '../infra/registry/serde';
import { emailAnonymousId } from '../schemas/pseudonym';
import { deadLetterTopicFor, privacyTopicsFor, TOPICS, valueSubject } from '../schemas/topics';
import { connectTopicAdmin } from '../infra/kafka/admin';
import type { Touchpoint } from '../schemas/touchpoint';
import { collectedAs } from '../producers/simulate/segment-calls';
import { DEFAULT_START, simulate } from '../producers/simulate/simulate';
import { CICLO_BIN, runCiclo } from './support/cli';
import { eventually, testConfig, uniqueName } from './support/services';
import { freePort } from '../infra/stack/processes';

const config = testConfig();
const { endpoints } = config;
const TOUCHPOINTS = uniqueName('it-collect-touchpoints');
/** Where the collector keeps the keys it seals personal fields with, and the suppression list. */
const PRIVACY = privacyTopicsFor(TOUCHPOINTS);
const TYPEFORM_SECRET = uniqueName('tf');
/** The installation's secret, as `ciclo collect` loads it (the same CICLO_HOME). */
const SECRET = loadInstallationSecret(config.home, config.pseudonymSecret);

describe('ciclo collect', () => {
  let child: ChildProcess;
  let base: string;
  const writeKey = uniqueName('key');
  const auth = `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
  /** A browser snippet's (public) key: source `browser`, listed in CICLO_SNIPPET_SOURCES. */
  const browserKey = uniqueName('pub');
  let privacy: PrivacyConnection;

  beforeAll(async () => {
    // A topic of the test's own, so nothing it sends reaches the pipeline reading ciclo.touchpoints.
    const admin = await connectTopicAdmin(endpoints.kafka.brokers);
    await admin.ensureTopics([
      { name: TOUCHPOINTS, partitions: 3 },
      { name: deadLetterTopicFor(TOUCHPOINTS), partitions: 1 },
      // Before anyone reads them: a reader subscribed to a topic that did not exist yet sees no key.
      { ...TOPICS.personKeys, name: PRIVACY.personKeys },
      { ...TOPICS.forgotten, name: PRIVACY.forgotten },
    ]);
    await admin.close();
    privacy = await connectPrivacy({
      brokers: endpoints.kafka.brokers,
      touchpointTopic: TOUCHPOINTS,
      secret: SECRET,
      clientId: uniqueName('it-col'),
      writable: false,
    });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    child = spawn(process.execPath, [CICLO_BIN, 'collect', '--port', String(port), '--topic', TOUCHPOINTS], {
      env: {
        ...process.env,
        CICLO_WRITE_KEYS: `web:${writeKey},browser:${browserKey}`,
        CICLO_SNIPPET_SOURCES: 'browser',
        CICLO_URL_QUERY_ALLOWLIST: 'page',
        CICLO_COLLECTOR_IP: 'truncated',
        CICLO_WEBHOOK_SECRETS: `typeform:${TYPEFORM_SECRET}`,
        CICLO_LOG_LEVEL: 'warn',
      },
      stdio: 'ignore',
    });
    await eventually(
      async () => ((await fetch(`${base}/health`)).ok ? true : undefined),
      60_000,
      'collector health',
    );
  });

  afterAll(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    await privacy?.close();
    const admin = await connectTopicAdmin(endpoints.kafka.brokers);
    await admin.deleteTopics([
      TOUCHPOINTS,
      deadLetterTopicFor(TOUCHPOINTS),
      PRIVACY.personKeys,
      PRIVACY.forgotten,
    ]);
    await admin.close();
  });

  /** The touchpoint serde with personal fields opened (infra/privacy/personal-data.ts), as the projector reads. */
  const openedSerde = async () =>
    privateSerde(
      await createSerde(
        createAvroRegistry(endpoints.schemaRegistry.url),
        CONTRACTS.touchpoint,
        valueSubject(TOUCHPOINTS),
      ),
      privacy.privacy,
    );

  const post = (path: string, body: unknown, headers: Record<string, string> = { authorization: auth }) =>
    fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });

  /** The touchpoints on the test's topic keyed by `customer`, once `count` of them have arrived. */
  async function touchpointsOf(customer: string, count: number): Promise<Touchpoint[]> {
    const serde = await openedSerde();
    const found = new Map<string, Touchpoint>();
    const consumer = await connectConsumer({
      brokers: endpoints.kafka.brokers,
      groupId: uniqueName('it-col-time'),
      topics: [TOUCHPOINTS],
      fromBeginning: true,
      commitOffsets: false,
    });
    try {
      await consumer.run(async (batch) => {
        for (const m of batch) {
          if (m.key !== customer) continue;
          const d = await serde.decode(m.value!);
          if (d.ok) found.set(d.value.eventId, d.value);
        }
      });
      await eventually(
        () => Promise.resolve(found.size >= count ? true : undefined),
        60_000,
        `${count} touchpoint(s) of ${customer} on Kafka`,
      );
    } finally {
      await consumer.stop();
    }
    return [...found.values()];
  }

  const clampedBySnippets = async (): Promise<number> => {
    // The counters are a detail: only a server key's /health shows them.
    const health = (await (await fetch(`${base}/health`, { headers: { authorization: auth } })).json()) as {
      counters: { clamped: { snippet: number } };
    };
    return health.counters.clamped.snippet;
  };

  const THREE_YEARS_MS = 3 * 365 * 86_400_000;
  const iso = (ms: number): string => new Date(ms).toISOString();

  it('answers 202 only once Kafka has the events, which arrive typed and decodable', async () => {
    const run = uniqueName('col');
    const res = await post('/v1/batch', {
      batch: [
        {
          type: 'identify',
          userId: `${run}-u`,
          anonymousId: `${run}-a`,
          messageId: `${run}-m1`,
          timestamp: '2026-03-01T10:00:00Z',
          traits: { email: 'ana@example.com', plan: 'pro' },
        },
        {
          type: 'track',
          userId: `${run}-u`,
          messageId: `${run}-m2`,
          timestamp: '2026-03-01T10:05:00Z',
          event: 'Order Completed',
          properties: {
            order_id: `${run}-o1`,
            total: 32.97,
            currency: 'EUR',
            products: [{ sku: 'CD-1', name: 'Kind of Blue', quantity: 1, price: 32.97 }],
          },
        },
      ],
    });
    expect(res.status).toBe(202);

    const serde = await openedSerde();
    const found = new Map<string, Touchpoint>();
    const consumer = await connectConsumer({
      brokers: endpoints.kafka.brokers,
      groupId: uniqueName('it-col'),
      topics: [TOUCHPOINTS],
      fromBeginning: true,
      commitOffsets: false,
    });
    await consumer.run(async (batch) => {
      for (const m of batch) {
        if (m.key !== `${run}-u`) continue;
        const d = await serde.decode(m.value!);
        if (d.ok) found.set(d.value.eventId, d.value);
      }
    });
    await eventually(
      () => Promise.resolve(found.size >= 2 ? true : undefined),
      60_000,
      'both events on Kafka',
    );
    await consumer.stop();
    const purchase = [...found.values()].find((t) => t.type === 'PurchaseCompleted');
    expect(purchase).toMatchObject({
      customerId: `${run}-u`,
      occurredAt: Date.parse('2026-03-01T10:05:00Z'),
      payload: { orderId: `${run}-o1`, amountMinor: 3297, currency: 'EUR' },
    });
    expect([...found.values()].find((t) => t.type === 'Identified')).toMatchObject({
      customerId: `${run}-u`,
      anonymousId: `${run}-a`,
    });
  });

  it('answers 400 listing each problem by field path when no call is valid, and 401 without a write key', async () => {
    const bad = await post('/v1/batch', {
      batch: [
        {
          type: 'track',
          userId: 'u',
          event: 'Order Completed',
          properties: { order_id: 'o', total: 'lots', currency: 'EUR' },
        },
        { type: 'page' },
      ],
    });
    expect(bad.status).toBe(400);
    const body = (await bad.json()) as { success: boolean; produced: number; problems: { path: string }[] };
    expect(body.success).toBe(false);
    expect(body.produced).toBe(0);
    expect(body.problems.map((p) => p.path)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^batch\.0\.properties\.total/),
        expect.stringMatching(/^batch\.1/),
      ]),
    );
    expect((await post('/v1/track', { userId: 'u', event: 'x' }, {})).status).toBe(401);
  });

  it('takes simulated journeys from `ciclo simulate --collector`, every event with its own id', async () => {
    const seed = 100_000 + Math.floor(Math.random() * 800_000);
    const expected = simulate({ customers: 40, seed, days: 120, start: DEFAULT_START });
    const sent = await runCiclo([
      'simulate',
      '--customers',
      '40',
      '--seed',
      String(seed),
      '--days',
      '120',
      '--collector',
      base,
      '--write-key',
      writeKey,
    ]);
    expect(sent.stderr).toBe('');
    expect(sent.stdout).toContain(`sent ${expected.length} touchpoints`);

    const serde = await openedSerde();
    const arrived = new Map<string, Touchpoint>();
    const consumer = await connectConsumer({
      brokers: endpoints.kafka.brokers,
      groupId: uniqueName('it-sim'),
      topics: [TOUCHPOINTS],
      fromBeginning: true,
      commitOffsets: false,
    });
    try {
      await consumer.run(async (batch) => {
        for (const m of batch) {
          const d = await serde.decode(m.value!);
          if (d.ok && d.value.eventId.startsWith(`seg:web:sim-${seed}-`))
            arrived.set(d.value.eventId, d.value);
        }
      });
      await eventually(
        () => Promise.resolve(arrived.size >= expected.length ? true : undefined),
        60_000,
        `${expected.length} simulated events on Kafka`,
      );
    } finally {
      await consumer.stop();
    }
    // Under the collector's ids: the simulator's scoped by the write key's source (schemas/event-id.ts).
    for (const tp of expected.map((e) => collectedAs(e, 'web'))) {
      expect(arrived.get(tp.eventId)).toMatchObject({
        type: tp.type,
        occurredAt: tp.occurredAt,
        payload: tp.payload,
        source: { kind: 'api', name: 'web' },
      });
    }
  });

  it("keeps of a page URL utm_* and the allowlist's parameters, of the referrer its origin, of the IP its /24", async () => {
    const run = uniqueName('less');
    const res = await post('/v1/page', {
      userId: `${run}-u`,
      messageId: `${run}-m1`,
      properties: { path: '/records?page=2&email=ana%40example.com', title: 'Records' },
      context: {
        page: {
          url: 'https://ana:pw@shop.example/records?page=2&email=ana%40example.com&utm_source=news#top',
          referrer: 'https://mail.example/inbox?msg=42',
        },
        ip: '203.0.113.57',
      },
    });
    expect(res.status).toBe(202);
    const [view] = await touchpointsOf(`${run}-u`, 1);
    expect(view).toMatchObject({
      context: {
        pageUrl: 'https://shop.example/records?page=2&utm_source=news',
        referrer: 'https://mail.example/',
        utmSource: 'news',
        ip: '203.0.113.0',
      },
      payload: { path: '/records?page=2', title: 'Records' },
    });
  });

  it("names a webhook's person known by email only with the keyed pseudonym of the installation's secret", async () => {
    const run = uniqueName('tf');
    const email = `${run}@example.com`;
    const body = JSON.stringify({
      event_id: `${run}-e`,
      event_type: 'form_response',
      form_response: {
        form_id: 'nps-form',
        token: `${run}-token`,
        submitted_at: new Date().toISOString(),
        hidden: { email },
        answers: [{ type: 'number', number: 9, field: { id: 'q1', type: 'nps', ref: 'nps' } }],
      },
    });
    const signature = `sha256=${createHmac('sha256', TYPEFORM_SECRET).update(body).digest('base64')}`;
    const res = await fetch(`${base}/webhooks/typeform`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'typeform-signature': signature },
      body,
    });
    expect(res.status).toBe(202);
    const id = emailAnonymousId(SECRET, email);
    const [answered] = await touchpointsOf(id, 1);
    expect(answered).toMatchObject({ type: 'SurveyAnswered', anonymousId: id, payload: { nps: 9 } });
    expect(JSON.stringify(answered)).not.toContain(email);
  });

  it('corrects a browser clock 3 years ahead by sentAt: the touchpoint happened within a minute of now', async () => {
    const run = uniqueName('skew');
    const sent = Date.now();
    const clockAhead = sent + THREE_YEARS_MS;
    // What a browser whose clock is 3 years ahead sends: a page view made 2 s before its batch left.
    const res = await post(
      '/v1/batch',
      {
        sentAt: iso(clockAhead),
        batch: [
          {
            type: 'page',
            userId: `${run}-u`,
            messageId: `${run}-m1`,
            timestamp: iso(clockAhead - 2_000),
            properties: { path: '/pricing' },
          },
        ],
      },
      { authorization: `Basic ${Buffer.from(`${browserKey}:`).toString('base64')}` },
    );
    expect(res.status).toBe(202);
    const [view] = await touchpointsOf(`${run}-u`, 1);
    expect(view).toMatchObject({
      eventId: `seg:browser:${run}-m1`,
      source: { kind: 'snippet', name: 'browser' },
    });
    expect(Math.abs(view!.occurredAt - sent)).toBeLessThan(60_000);
    expect(view!.occurredAt).toBeLessThanOrEqual(view!.receivedAt);
  });

  it('clamps a browser time 3 years ahead without sentAt to receivedAt, and counts it', async () => {
    const run = uniqueName('clamp');
    const before = await clampedBySnippets();
    const sent = Date.now();
    // The write key in the body and JSON as text/plain, as the snippet sends it; no sentAt anywhere.
    const res = await fetch(`${base}/v1/track`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify({
        writeKey: browserKey,
        userId: `${run}-u`,
        messageId: `${run}-m1`,
        timestamp: iso(sent + THREE_YEARS_MS),
        event: 'Video Played',
      }),
    });
    expect(res.status).toBe(202);
    const [played] = await touchpointsOf(`${run}-u`, 1);
    expect(played).toMatchObject({
      eventId: `seg:browser:${run}-m1`,
      source: { kind: 'snippet', name: 'browser' },
    });
    expect(played!.occurredAt).toBe(played!.receivedAt);
    expect(Math.abs(played!.receivedAt - sent)).toBeLessThan(60_000);
    expect(await clampedBySnippets()).toBe(before + 1);
  });

  it("refuses a server key's time 1 day and 1 hour ahead naming `timestamp`, call by call", async () => {
    const run = uniqueName('ahead');
    const ahead = iso(Date.now() + 25 * 3_600_000);
    const one = await post('/v1/track', {
      userId: `${run}-u`,
      messageId: `${run}-m1`,
      timestamp: ahead,
      event: 'Signed Up',
    });
    expect(one.status).toBe(400);
    const body = (await one.json()) as {
      code: string;
      produced: number;
      problems: { path: string; rule: string; message: string }[];
    };
    expect(body).toMatchObject({ code: 'INVALID_REQUEST', produced: 0 });
    expect(body.problems).toEqual([
      {
        path: 'timestamp',
        rule: 'too_far_ahead',
        message: expect.stringContaining(`timestamp ${ahead}`) as unknown,
      },
    ]);
    const batch = await post('/v1/batch', {
      batch: [
        { type: 'track', userId: `${run}-u`, messageId: `${run}-m2`, event: 'Signed Up' },
        { type: 'track', userId: `${run}-u`, messageId: `${run}-m3`, timestamp: ahead, event: 'Signed Up' },
      ],
    });
    // The batch keeps its valid call; the one ahead is dead-lettered and listed.
    expect(batch.status).toBe(202);
    const answer = (await batch.json()) as {
      eventIds: string[];
      rejected: { problems: { path: string }[] }[];
    };
    expect(answer.eventIds).toEqual([`seg:web:${run}-m2`]);
    expect(answer.rejected.flatMap((r) => r.problems.map((p) => p.path))).toEqual(['batch.1.timestamp']);
    const ok = await post('/v1/track', { userId: `${run}-u`, messageId: `${run}-m4`, event: 'Signed Up' });
    expect(ok.status).toBe(202);
    const arrived = await touchpointsOf(`${run}-u`, 2);
    expect(arrived.map((tp) => tp.eventId).sort()).toEqual([`seg:web:${run}-m2`, `seg:web:${run}-m4`]);
  });
});
