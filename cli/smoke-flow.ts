/**
 * The smoke flow: one trip through every real service. Registers an Avro schema, produces encoded messages
 * to Kafka, consumes and decodes them in a fresh consumer group, inserts them into ClickHouse and reads the
 * count back. `ciclo demo` runs it until the full pipeline replaces it.
 */
import crypto from 'node:crypto';
import type { ServiceEndpoints } from '../infra/config';
import { CicloError } from '../infra/errors';
import { connectClickHouseServer } from '../infra/clickhouse/engine';
import { connectTopicAdmin } from '../infra/kafka/admin';
import { connectConsumer } from '../infra/kafka/consumer';
import { connectProducer } from '../infra/kafka/producer';
import { createAvroRegistry } from '../infra/registry/schema-registry';

export const SMOKE_TOPIC = 'ciclo.smoke';
export const SMOKE_SCHEMA = {
  type: 'record',
  name: 'SmokeMessage',
  namespace: 'dev.ciclo.smoke',
  fields: [
    { name: 'runId', type: 'string' },
    { name: 'seq', type: 'int' },
    { name: 'amountMinor', type: 'long' },
  ],
} as const;

interface SmokeMessage {
  runId: string;
  seq: number;
  amountMinor: number;
}

export interface SmokeResult {
  readonly runId: string;
  readonly schemaId: number;
  readonly produced: number;
  readonly consumed: number;
  readonly rowsInClickHouse: number;
  readonly millis: number;
}

export async function runSmokeFlow(
  endpoints: ServiceEndpoints,
  count = 100,
  timeoutMs = 60_000,
): Promise<SmokeResult> {
  const started = Date.now();
  const runId = crypto.randomUUID();
  const registry = createAvroRegistry(endpoints.schemaRegistry.url);
  const schemaId = await registry.register(`${SMOKE_TOPIC}-value`, SMOKE_SCHEMA);

  const admin = await connectTopicAdmin(endpoints.kafka.brokers);
  await admin.ensureTopics([
    { name: SMOKE_TOPIC, partitions: 1, config: { 'retention.ms': String(24 * 3600 * 1000) } },
  ]);
  await admin.close();

  const producer = await connectProducer({ brokers: endpoints.kafka.brokers, clientId: 'ciclo-smoke' });
  const sent: SmokeMessage[] = Array.from({ length: count }, (_, seq) => ({
    runId,
    seq,
    amountMinor: 1999 + seq,
  }));
  await producer.send(
    SMOKE_TOPIC,
    await Promise.all(sent.map(async (m) => ({ key: runId, value: await registry.encode(schemaId, m) }))),
  );
  await producer.close();

  const received: SmokeMessage[] = [];
  const consumer = await connectConsumer({
    brokers: endpoints.kafka.brokers,
    groupId: `ciclo-smoke-${runId}`,
    topics: [SMOKE_TOPIC],
    fromBeginning: true,
  });
  let done!: () => void;
  const allReceived = new Promise<void>((resolve) => (done = resolve));
  await consumer.run(async (messages) => {
    for (const m of messages) {
      if (m.key !== runId || !m.value) continue;
      received.push(await registry.decode<SmokeMessage>(m.value));
    }
    if (received.length >= count) done();
  });
  const timer = setTimeout(done, timeoutMs);
  await allReceived;
  clearTimeout(timer);
  await consumer.stop();
  if (received.length < count) {
    throw new CicloError(
      'TIMEOUT',
      `smoke flow: consumed ${received.length} of ${count} messages in ${timeoutMs / 1000}s`,
    );
  }

  const server = connectClickHouseServer({ url: endpoints.clickhouse.url });
  const db = endpoints.clickhouse.database;
  await server.command(`CREATE DATABASE IF NOT EXISTS ${db}`);
  await server.command(
    `CREATE TABLE IF NOT EXISTS ${db}.smoke_events (run_id String, seq UInt32, amount_minor Int64) ENGINE = MergeTree ORDER BY (run_id, seq)`,
  );
  await server.insert(
    `${db}.smoke_events`,
    received.map((m) => ({ run_id: m.runId, seq: m.seq, amount_minor: m.amountMinor })),
  );
  const [row] = await server.query<{ n: string }>(
    `SELECT count() AS n FROM ${db}.smoke_events WHERE run_id = '${runId}'`,
  );
  await server.close();

  return {
    runId,
    schemaId,
    produced: count,
    consumed: received.length,
    rowsInClickHouse: Number(row?.n ?? 0),
    millis: Date.now() - started,
  };
}
