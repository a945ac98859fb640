/**
 * The first trip through every real service: register an Avro schema, produce with kafkajs, consume and
 * decode, insert into ClickHouse with @clickhouse/client, read it back.
 */
import { connectClickHouseServer } from '../infra/clickhouse/engine';
import { connectTopicAdmin } from '../infra/kafka/admin';
import { connectConsumer } from '../infra/kafka/consumer';
import { connectProducer } from '../infra/kafka/producer';
import type { IncomingMessage } from '../infra/kafka/types';
import { createAvroRegistry } from '../infra/registry/schema-registry';
import { CONTRACTS } from '../schemas/contracts';
import { TOUCHPOINT_EXAMPLES } from '../schemas/examples';
import { TOUCHPOINT_TYPES } from '../schemas/touchpoint';
import { eventually, testConfig, uniqueName } from './support/services';

interface Visit {
  visitId: string;
  customerId: string;
  amountMinor: number;
  note: string | null;
}

const VisitSchema = {
  type: 'record',
  name: 'Visit',
  namespace: 'dev.ciclo.test',
  fields: [
    { name: 'visitId', type: 'string' },
    { name: 'customerId', type: 'string' },
    { name: 'amountMinor', type: 'long' },
    { name: 'note', type: ['null', 'string'], default: null },
  ],
};

describe('one trip through Kafka, the Schema Registry and ClickHouse', () => {
  const { endpoints } = testConfig();
  const topic = uniqueName('it-round-trip');
  const table = `it_round_trip_${Date.now()}`;
  const clickhouse = connectClickHouseServer({ url: endpoints.clickhouse.url });

  afterAll(async () => {
    const admin = await connectTopicAdmin(endpoints.kafka.brokers);
    await admin.deleteTopics([topic]);
    await admin.close();
    await clickhouse.command(`DROP TABLE IF EXISTS default.${table}`);
    await clickhouse.close();
  });

  it('registers, produces, consumes, decodes, stores and reads back every record', async () => {
    const registry = createAvroRegistry(endpoints.schemaRegistry.url);
    const schemaId = await registry.register(`${topic}-value`, VisitSchema);
    expect(schemaId).toBeGreaterThan(0);
    // Registering the same schema again is idempotent.
    await expect(registry.register(`${topic}-value`, VisitSchema)).resolves.toBe(schemaId);

    const admin = await connectTopicAdmin(endpoints.kafka.brokers);
    expect(await admin.ensureTopics([{ name: topic, partitions: 3 }])).toEqual([topic]);
    expect(await admin.ensureTopics([{ name: topic, partitions: 3 }])).toEqual([]);
    await admin.close();

    const visits: Visit[] = Array.from({ length: 50 }, (_, i) => ({
      visitId: `v-${i}`,
      customerId: `c-${i % 7}`,
      amountMinor: 100 * i + 1,
      note: i % 2 === 0 ? null : `odd ${i}`,
    }));
    const producer = await connectProducer({ brokers: endpoints.kafka.brokers, clientId: 'it-round-trip' });
    await producer.send(
      topic,
      await Promise.all(
        visits.map(async (v) => ({
          key: v.customerId,
          value: await registry.encode(schemaId, v),
          headers: { source: 'test' },
        })),
      ),
    );
    await producer.close();

    const received: IncomingMessage[] = [];
    const consumer = await connectConsumer({
      brokers: endpoints.kafka.brokers,
      groupId: uniqueName('it-group'),
      topics: [topic],
      fromBeginning: true,
    });
    await consumer.run((batch) => {
      received.push(...batch);
      return Promise.resolve();
    });
    await eventually(
      () => Promise.resolve(received.length >= visits.length ? true : undefined),
      30_000,
      'all messages consumed',
    );
    await consumer.stop();

    expect(received).toHaveLength(visits.length);
    // The Confluent wire format: magic byte 0, then the 4-byte schema id.
    expect(received[0]!.value![0]).toBe(0);
    expect(received[0]!.value!.readInt32BE(1)).toBe(schemaId);
    expect(received.every((m) => m.headers.source === 'test')).toBe(true);
    // One customer's messages share a key and so a partition.
    const partitionsByCustomer = new Map<string, Set<number>>();
    for (const m of received)
      partitionsByCustomer.set(m.key!, (partitionsByCustomer.get(m.key!) ?? new Set()).add(m.partition));
    expect([...partitionsByCustomer.values()].every((s) => s.size === 1)).toBe(true);

    const decoded = await Promise.all(received.map((m) => registry.decode<Visit>(m.value!)));
    expect(decoded.sort((a, b) => a.amountMinor - b.amountMinor)).toEqual(visits);

    await clickhouse.command(
      `CREATE TABLE default.${table} (visit_id String, customer_id String, amount_minor Int64, note Nullable(String)) ENGINE = MergeTree ORDER BY visit_id`,
    );
    await clickhouse.insert(
      `default.${table}`,
      decoded.map((v) => ({
        visit_id: v.visitId,
        customer_id: v.customerId,
        amount_minor: v.amountMinor,
        note: v.note,
      })),
    );
    const rows = await clickhouse.query<{
      visit_id: string;
      customer_id: string;
      amount_minor: string;
      note: string | null;
    }>(`SELECT visit_id, customer_id, amount_minor, note FROM default.${table} ORDER BY amount_minor`);
    expect(
      rows.map((r) => ({
        visitId: r.visit_id,
        customerId: r.customer_id,
        amountMinor: Number(r.amount_minor),
        note: r.note,
      })),
    ).toEqual(visits);
  });
});

describe('decoding through the Schema Registry', () => {
  const { endpoints } = testConfig();

  it('gives every contract value in its checked form, so the zod parse is skipped (schemas/fast-check.ts)', async () => {
    const registry = createAvroRegistry(endpoints.schemaRegistry.url);
    const subject = `${uniqueName('it-checked-form')}-value`;
    const contract = CONTRACTS.touchpoint;
    const schemaId = await registry.register(subject, contract.avro);
    for (const type of TOUCHPOINT_TYPES) {
      const example = TOUCHPOINT_EXAMPLES[type];
      const message = await registry.encode(schemaId, contract.toAvro(example));
      const candidate = contract.fromAvro(await registry.decode(message, contract.avro));
      // Records with avsc's prototype methods, or nulls left in, would be refused and parsed by zod instead.
      expect([type, contract.isCheckedForm(candidate)]).toEqual([type, true]);
      expect(candidate).toEqual(example);
    }
  });
});
