/**
 * The projector on real Kafka, registry and ClickHouse: every valid event lands once (redeliveries
 * included), a poison message is dead-lettered with its reason, a 30-second ClickHouse outage during
 * projection loses and doubles nothing, and a batch spanning 150 month partitions lands whole.
 */
import { connectClickHouseServer } from '../infra/clickhouse/engine';
import type { ServiceEndpoints } from '../infra/config';
import { connectTopicAdmin } from '../infra/kafka/admin';
import { connectConsumer } from '../infra/kafka/consumer';
import { connectProducer } from '../infra/kafka/producer';
import type { IncomingMessage } from '../infra/kafka/types';
import { createLogger } from '../infra/log';
import { createAvroRegistry } from '../infra/registry/schema-registry';
import { loadMigrations, migrate } from '../projections/migrations/migrate';
import { startProjector } from '../projections/projector/projector';
import { CONTRACTS } from '../schemas/contracts';
import { CUSTOMER_SNAPSHOT_EXAMPLE, TOUCHPOINT_EXAMPLES } from '../schemas/examples';
import { DEAD_LETTER_HEADERS } from '../schemas/outputs';
import { createSerde } from '../infra/registry/serde';
import { MERGED_INTO_HEADER, SEQUENCE_HEADER, snapshotKey, valueSubject } from '../schemas/topics';
import type { CustomerSnapshot } from '../schemas/outputs';
import type { Touchpoint } from '../schemas/touchpoint';
import { startTcpProxy } from './support/tcp-proxy';
import { eventually, testConfig, uniqueName } from './support/services';

const base = testConfig().endpoints;
const log = createLogger({ level: 'silent' });

function purchases(prefix: string, n: number): Touchpoint[] {
  return Array.from({ length: n }, (_, i) => ({
    ...TOUCHPOINT_EXAMPLES.PurchaseCompleted,
    eventId: `${prefix}-${i}`,
    customerId: `${prefix}-c${i % 17}`,
    occurredAt: Date.UTC(1997, i % 12, 1 + (i % 28)),
    payload: {
      ...TOUCHPOINT_EXAMPLES.PurchaseCompleted.payload,
      orderId: `${prefix}-o${i}`,
      amountMinor: 100 + i,
    },
  }));
}

describe('projector', () => {
  const run = uniqueName('it-proj').replace(/-/g, '_');
  const topics = {
    touchpoints: `${run}.tp`,
    stageChanges: `${run}.sc`,
    customerSnapshots: `${run}.cs`,
    deadLetter: `${run}.dlq`,
  };
  const database = `it_${run}`;
  const endpoints: ServiceEndpoints = { ...base, clickhouse: { ...base.clickhouse, database } };
  const clickhouse = connectClickHouseServer({ url: base.clickhouse.url });

  beforeAll(async () => {
    const admin = await connectTopicAdmin(base.kafka.brokers);
    await admin.ensureTopics(Object.values(topics).map((name) => ({ name, partitions: 2 })));
    await admin.close();
    await migrate(clickhouse, database);
  });

  afterAll(async () => {
    const admin = await connectTopicAdmin(base.kafka.brokers);
    await admin.deleteTopics(Object.values(topics));
    await admin.close();
    await clickhouse.command(`DROP DATABASE IF EXISTS ${database}`);
    await clickhouse.close();
  });

  async function produce(events: Touchpoint[], extra: { key: string; value: Buffer }[] = []): Promise<void> {
    const serde = await createSerde(
      createAvroRegistry(base.schemaRegistry.url),
      CONTRACTS.touchpoint,
      valueSubject(topics.touchpoints),
    );
    const producer = await connectProducer({ brokers: base.kafka.brokers, clientId: 'it-proj' });
    await producer.send(topics.touchpoints, [
      ...(await Promise.all(events.map(async (e) => ({ key: e.customerId!, value: await serde.encode(e) })))),
      ...extra,
    ]);
    await producer.close();
  }

  const countIn = async (table: string): Promise<number> =>
    Number(
      (await clickhouse.query<{ n: string }>(`SELECT count() AS n FROM ${database}.${table} FINAL`))[0]!.n,
    );

  it('projects every valid event once, including redeliveries, and dead-letters a poison message', async () => {
    const events = purchases(`${run}-a`, 200);
    await produce(events, [{ key: 'poison', value: Buffer.from('not avro at all') }]);
    await produce(events.slice(0, 50)); // redelivered by an upstream retry

    const projector = await startProjector({ endpoints, groupId: `${run}-g1`, log, topics });
    await eventually(
      async () =>
        (await countIn('touchpoints')) === 200 && projector.counters.deadLettered === 1 ? true : undefined,
      60_000,
      '200 rows and 1 dead letter',
    );
    await projector.stop();
    const dups = await clickhouse.query<{ n: string }>(
      `SELECT count() - uniqExact(event_id) AS n FROM ${database}.touchpoints FINAL`,
    );
    expect(Number(dups[0]!.n)).toBe(0);

    const dead: IncomingMessage[] = [];
    const reader = await connectConsumer({
      brokers: base.kafka.brokers,
      groupId: uniqueName('it-dlq'),
      topics: [topics.deadLetter],
      fromBeginning: true,
    });
    await reader.run((batch) => {
      dead.push(...batch);
      return Promise.resolve();
    });
    await eventually(
      () => Promise.resolve(dead.length >= 1 ? true : undefined),
      30_000,
      'dead letter readable',
    );
    await reader.stop();
    expect(dead[0]!.value!.toString()).toBe('not avro at all');
    expect(dead[0]!.headers[DEAD_LETTER_HEADERS.reason]).toBe('undecodable');
    expect(dead[0]!.headers[DEAD_LETTER_HEADERS.sourceTopic]).toBe(topics.touchpoints);
    expect(dead[0]!.headers[DEAD_LETTER_HEADERS.error]).toContain('Confluent wire format');
  });

  it("keeps each customer's latest snapshot when a batch holds several of it", async () => {
    // 40 customers, 6 snapshots each in order, as a backlog of processor batches leaves them: the sequence
    // only moves with a stage change, so most snapshots share it and only the last one's orders are current.
    const snapshots: CustomerSnapshot[] = [];
    for (let k = 0; k < 6; k++)
      for (let c = 0; c < 40; c++)
        snapshots.push({
          ...CUSTOMER_SNAPSHOT_EXAMPLE,
          customerId: `${run}-s${c}`,
          sequence: 3 + Math.floor(k / 4),
          orders: 2 + k,
          netRevenueMinor: 1000 * (k + 1) + c,
        });
    const serde = await createSerde(
      createAvroRegistry(base.schemaRegistry.url),
      CONTRACTS.customerSnapshot,
      valueSubject(topics.customerSnapshots),
    );
    const producer = await connectProducer({ brokers: base.kafka.brokers, clientId: 'it-proj' });
    await producer.send(
      topics.customerSnapshots,
      await Promise.all(snapshots.map(async (v) => ({ key: v.customerId, value: await serde.encode(v) }))),
    );
    await producer.close();

    const projector = await startProjector({ endpoints, groupId: `${run}-g3`, log, topics });
    const current = async (): Promise<{ customer_id: string; orders: number; net_revenue_minor: string }[]> =>
      clickhouse.query(
        `SELECT customer_id, orders, net_revenue_minor FROM ${database}.customer_state FINAL
         WHERE customer_id LIKE '${run}-s%' ORDER BY customer_id`,
      );
    await eventually(
      async () => ((await current()).length === 40 && projector.counters.received >= 240 ? true : undefined),
      60_000,
      '40 customers',
    );
    await projector.stop();
    const rows = await current();
    for (const row of rows) {
      const c = Number(row.customer_id.slice(`${run}-s`.length));
      expect([Number(row.orders), Number(row.net_revenue_minor)]).toEqual([7, 6000 + c]);
    }
    // Fewer rows than snapshots: the earlier ones of each batch were never inserted. (This group also
    // projects the touchpoints the tests before it left in their topic, so `inserted` counts those too.)
    expect(projector.counters.superseded).toBeGreaterThan(0);
    expect(projector.counters.superseded).toBeLessThan(240);
  });

  it('ends a merged profile with a removal row after its last snapshot, in another batch or the same', async () => {
    // Two anonymous profiles merged into one customer: the first's snapshot and removal in separate sends
    // (separate batches), the second's in one. Both end with no stage and the survivor named.
    const serde = await createSerde(
      createAvroRegistry(base.schemaRegistry.url),
      CONTRACTS.customerSnapshot,
      valueSubject(topics.customerSnapshots),
    );
    const snapshot = async (
      customerId: string,
      sequence: number,
    ): Promise<{ key: string; value: Buffer }> => ({
      key: snapshotKey('five-stage', customerId),
      value: await serde.encode({ ...CUSTOMER_SNAPSHOT_EXAMPLE, customerId, stage: 'reach', sequence }),
    });
    const removal = (customerId: string, sequence: number) => ({
      key: snapshotKey('five-stage', customerId),
      value: null,
      headers: { [MERGED_INTO_HEADER]: `${run}-m-cust`, [SEQUENCE_HEADER]: String(sequence) },
    });
    const [a, b] = [`${run}-m-anon1`, `${run}-m-anon2`];
    const producer = await connectProducer({ brokers: base.kafka.brokers, clientId: 'it-proj' });
    await producer.send(topics.customerSnapshots, [await snapshot(a, 1), await snapshot(`${run}-m-cust`, 2)]);
    const projector = await startProjector({ endpoints, groupId: `${run}-g4`, log, topics });
    const rows = async (): Promise<{ customer_id: string; stage: string; merged_into: string }[]> =>
      clickhouse.query(
        `SELECT customer_id, stage, merged_into FROM ${database}.customer_state FINAL
         WHERE customer_id LIKE '${run}-m-%' ORDER BY customer_id`,
      );
    await eventually(async () => ((await rows()).length === 2 ? true : undefined), 60_000, 'two snapshots');
    await producer.send(topics.customerSnapshots, [removal(a, 1), await snapshot(b, 1), removal(b, 1)]);
    await producer.close();
    await eventually(async () => ((await rows()).length === 3 ? true : undefined), 60_000, 'three rows');
    await eventually(
      async () => ((await rows()).filter((r) => r.merged_into !== '').length === 2 ? true : undefined),
      60_000,
      'two removals',
    );
    await projector.stop();
    expect(await rows()).toEqual([
      { customer_id: a, stage: '', merged_into: `${run}-m-cust` },
      { customer_id: b, stage: '', merged_into: `${run}-m-cust` },
      { customer_id: `${run}-m-cust`, stage: 'reach', merged_into: '' },
    ]);
  });

  it('refuses to start on a database that lacks a migration, naming it', async () => {
    const bare = `${database}_bare`;
    await migrate(clickhouse, bare, { migrations: loadMigrations(bare).slice(0, 2) });
    try {
      await expect(
        startProjector({
          endpoints: { ...endpoints, clickhouse: { ...endpoints.clickhouse, database: bare } },
          groupId: `${run}-g5`,
          log,
          topics,
        }),
      ).rejects.toThrow(
        /lacks migrations 003_merged_profiles, 004_identity_resolved_revenue, 005_column_comments, 006_analyst_views: run ciclo migrate/,
      );
    } finally {
      await clickhouse.command(`DROP DATABASE IF EXISTS ${bare}`);
    }
  });

  it('survives ClickHouse being away mid-projection, through several failed inserts, with nothing lost or doubled', async () => {
    const url = new URL(base.clickhouse.url);
    const proxy = await startTcpProxy(url.hostname, Number(url.port || 8123));
    const throughProxy: ServiceEndpoints = {
      ...endpoints,
      // Only through the proxy: with the server's own URL beside it, the projector would fail over to it.
      clickhouse: {
        ...endpoints.clickhouse,
        url: `http://127.0.0.1:${proxy.port}`,
        urls: [`http://127.0.0.1:${proxy.port}`],
      },
    };
    const before = await countIn('touchpoints');
    const events = purchases(`${run}-b`, 300);

    const projector = await startProjector({
      endpoints: throughProxy,
      groupId: `${run}-g2`,
      log,
      topics,
      maxBackoffMs: 2000,
    });
    await produce(events.slice(0, 100));
    await eventually(
      async () => ((await countIn('touchpoints')) >= before + 100 ? true : undefined),
      60_000,
      'first 100 rows',
    );
    await proxy.cut();
    await produce(events.slice(100));
    // Away long enough for several inserts to fail and be retried with backoff.
    await eventually(
      () => Promise.resolve(projector.counters.insertRetries >= 3 ? true : undefined),
      60_000,
      'three failed inserts while ClickHouse is away',
    );
    await proxy.restore();
    await eventually(
      async () => ((await countIn('touchpoints')) === before + 300 ? true : undefined),
      60_000,
      'all rows after the outage',
    );
    await projector.stop();
    await proxy.close();
    const rows = await clickhouse.query<{ n: string; u: string }>(
      `SELECT count() AS n, uniqExact(event_id) AS u FROM ${database}.touchpoints FINAL WHERE event_id LIKE '${run}-b-%'`,
    );
    expect(rows[0]).toEqual({ n: '300', u: '300' });
  });

  it('lands a batch of touchpoints spanning 150 months exactly once, in inserts under the partition limit', async () => {
    // Its own touchpoint topic, so the batch holds only these and nothing else is dead-lettered.
    const own = { ...topics, touchpoints: `${run}.tp150` };
    const admin = await connectTopicAdmin(base.kafka.brokers);
    await admin.ensureTopics([{ name: own.touchpoints, partitions: 2 }]);
    await admin.close();
    const months = 150; // twelve and a half years: more partitions than a modern server takes in one insert
    const events: Touchpoint[] = Array.from({ length: months * 2 }, (_, i) => ({
      ...TOUCHPOINT_EXAMPLES.PurchaseCompleted,
      eventId: `${run}-y-${i}`,
      customerId: `${run}-y-c${i % 7}`,
      occurredAt: Date.UTC(2000, i % months, 1 + (i % 28), 12),
      payload: { ...TOUCHPOINT_EXAMPLES.PurchaseCompleted.payload, orderId: `${run}-y-o${i}` },
    }));
    const serde = await createSerde(
      createAvroRegistry(base.schemaRegistry.url),
      CONTRACTS.touchpoint,
      valueSubject(own.touchpoints),
    );
    const encoded = await Promise.all(
      events.map(async (e) => ({ key: e.customerId!, value: await serde.encode(e) })),
    );
    const producer = await connectProducer({ brokers: base.kafka.brokers, clientId: 'it-proj' });
    await producer.send(own.touchpoints, [...encoded, ...encoded.slice(0, 50)]); // 50 redelivered
    await producer.close();

    // 18.16 has no partition limit; a modern server's is 100 by default. A cap of 40 makes the projector split
    // on either, so the split itself is what lands the rows.
    const projector = await startProjector({
      endpoints,
      groupId: `${run}-g6`,
      log,
      topics: own,
      maxPartitionsPerInsert: 40,
    });
    const landed = async (): Promise<{ n: string; ids: string; months: string }> =>
      (
        await clickhouse.query<{ n: string; ids: string; months: string }>(
          `SELECT count() AS n, uniqExact(event_id) AS ids, uniqExact(toYYYYMM(occurred_at)) AS months
           FROM ${database}.touchpoints FINAL WHERE event_id LIKE '${run}-y-%'`,
        )
      )[0]!;
    try {
      await eventually(
        async () =>
          Number((await landed()).n) === events.length && projector.counters.received >= events.length + 50
            ? true
            : undefined,
        60_000,
        `${events.length} rows over ${months} months`,
      );
    } finally {
      await projector.stop();
      const cleanup = await connectTopicAdmin(base.kafka.brokers);
      await cleanup.deleteTopics([own.touchpoints]);
      await cleanup.close();
    }
    expect(await landed()).toEqual({ n: '300', ids: '300', months: '150' });
    expect(projector.counters.splitInserts).toBeGreaterThan(0);
    expect(projector.counters.deadLettered).toBe(0);
    expect(projector.counters.insertRetries).toBe(0);
  });
});
