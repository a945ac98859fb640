/**
 * `ciclo collect` as users run it, against real Kafka and registry: a valid Segment batch gets 202 and
 * its events are on the touchpoint topic, decoded as typed touchpoints; an invalid batch gets 400 listing
 * each problem by field path and produces nothing; a missing write key gets 401.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connectConsumer } from '../infra/kafka/consumer';
import { createAvroRegistry } from '../infra/registry/schema-registry';
import { CONTRACTS } from '../schemas/contracts';
import { createSerde } from '../schemas/serde';
import { valueSubject } from '../schemas/topics';
import { connectTopicAdmin } from '../infra/kafka/admin';
import type { Touchpoint } from '../schemas/touchpoint';
import { DEFAULT_START, simulate } from '../producers/simulate/simulate';
import { CICLO_BIN, runCiclo } from './support/cli';
import { eventually, testConfig, uniqueName } from './support/services';
import { freePort } from '../infra/stack/processes';

const { endpoints } = testConfig();
const TOUCHPOINTS = uniqueName('it-collect-touchpoints');

describe('ciclo collect', () => {
  let child: ChildProcess;
  let base: string;
  const writeKey = uniqueName('key');
  const auth = `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;

  beforeAll(async () => {
    // A topic of the test's own, so nothing it sends reaches the pipeline reading ciclo.touchpoints.
    const admin = await connectTopicAdmin(endpoints.kafka.brokers);
    await admin.ensureTopics([{ name: TOUCHPOINTS, partitions: 3 }]);
    await admin.close();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    child = spawn(process.execPath, [CICLO_BIN, 'collect', '--port', String(port), '--topic', TOUCHPOINTS], {
      env: { ...process.env, CICLO_WRITE_KEYS: `web:${writeKey}`, CICLO_LOG_LEVEL: 'warn' },
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
    const admin = await connectTopicAdmin(endpoints.kafka.brokers);
    await admin.deleteTopics([TOUCHPOINTS]);
    await admin.close();
  });

  const post = (path: string, body: unknown, headers: Record<string, string> = { authorization: auth }) =>
    fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });

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

    const serde = await createSerde(
      createAvroRegistry(endpoints.schemaRegistry.url),
      CONTRACTS.touchpoint,
      valueSubject(TOUCHPOINTS),
    );
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

  it('answers 400 listing each problem by field path, and 401 without a write key', async () => {
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

    const serde = await createSerde(
      createAvroRegistry(endpoints.schemaRegistry.url),
      CONTRACTS.touchpoint,
      valueSubject(TOUCHPOINTS),
    );
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
          if (d.ok && d.value.eventId.startsWith(`sim-${seed}-`)) arrived.set(d.value.eventId, d.value);
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
    for (const tp of expected) {
      expect(arrived.get(tp.eventId)).toMatchObject({
        type: tp.type,
        occurredAt: tp.occurredAt,
        payload: tp.payload,
        source: { kind: 'api', name: 'web' },
      });
    }
  });
});
