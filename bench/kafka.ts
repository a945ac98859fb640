/**
 * The raw Kafka baselines of `npm run bench`: kafkajs produce (idempotent, acks=all, 4 batches of 1,000 in
 * flight) and produce+consume of the pipeline runs' own records on 6 partitions, with no work on either
 * side. Used by run.ts and single.ts, so a pipeline figure is always compared with a baseline measured in the
 * same run, on the same messages.
 */
import { performance } from 'node:perf_hooks';
import avro from 'avsc';
import { connectTopicAdmin } from '../infra/kafka/admin';
import { connectConsumer } from '../infra/kafka/consumer';
import { connectProducer } from '../infra/kafka/producer';
import { CONTRACTS } from '../schemas/contracts';
import { touchpointRecords } from '../schemas/topics';
import type { Touchpoint } from '../schemas/touchpoint';
import { median, RUNS } from './fold';

/** The raw baseline topic's partitions, as many as the pipeline's. */
export const BASELINE_PARTITIONS = 6;

export interface BaselineRecord {
  readonly key: string;
  readonly value: Buffer;
  readonly headers?: Record<string, string>;
  readonly partition?: number;
}

/**
 * The records the e2e and topology runs produce for `events`, byte for byte but for the schema id: each
 * touchpoint in Avro behind the registry's 5-byte header, keyed as `touchpointRecords` keys it (a link
 * writes a copy to every other partition). The baseline used to send 300-byte values under synthetic keys, while the
 * simulated touchpoints average about 125 bytes and a link is written twice: other messages than the ones it
 * is the baseline for (its level came out about the same).
 */
export function baselineRecords(events: readonly Touchpoint[], partitions: number): BaselineRecord[] {
  const contract = CONTRACTS.touchpoint;
  const writer = avro.Type.forSchema(contract.avro as avro.Schema);
  const header = Buffer.from([0, 0, 0, 0, 1]);
  const records: BaselineRecord[] = [];
  for (const tp of events)
    records.push(
      ...touchpointRecords(tp, Buffer.concat([header, writer.toBuffer(contract.toAvro(tp))]), partitions),
    );
  return records;
}

/**
 * Touchpoints per second through kafkajs alone: `records` (what `touchpoints` touchpoints are written as)
 * produced with no consumer running (produce alone), and produced while a consumer in the same process reads
 * them (produce+consume), as fast as kafkajs goes. Per touchpoint, as the pipeline figures are.
 *
 * Until session 8 the produce figure was the producing phase of the produce+consume run: with the consumer
 * taking its share of the same process's CPU, not produce alone as the issue defines it.
 */
export async function rawKafka(
  brokers: readonly string[],
  records: readonly BaselineRecord[],
  touchpoints: number,
): Promise<{ produce: number; produceConsume: number }> {
  const messages = records.length;
  const topic = `ciclo.bench.raw.${Date.now()}`;
  const admin = await connectTopicAdmin(brokers);
  await admin.ensureTopics([{ name: topic, partitions: BASELINE_PARTITIONS }]);
  await admin.close();
  const producer = await connectProducer({ brokers, clientId: 'bench' });
  const produceRates: number[] = [];
  const bothRates: number[] = [];
  /** Sends every record, four sends of 1,000 in flight, and resolves when all are acknowledged. */
  const produceAll = async (): Promise<void> => {
    const batches: Promise<void>[] = [];
    for (let i = 0; i < messages; i += 1000) {
      batches.push(producer.send(topic, records.slice(i, i + 1000)));
      if (batches.length >= 4) await batches.shift();
    }
    await Promise.all(batches);
  };
  try {
    for (let r = 0; r < RUNS; r++) {
      const alone = performance.now();
      await produceAll();
      produceRates.push(touchpoints / ((performance.now() - alone) / 1000));
      let consumed = 0;
      const consumer = await connectConsumer({
        brokers,
        groupId: `bench-${Date.now()}-${r}`,
        topics: [topic],
        fromBeginning: false,
        commitOffsets: false,
      });
      let done!: () => void;
      const all = new Promise<void>((resolve) => (done = resolve));
      await consumer.run((batch) => {
        consumed += batch.length;
        if (consumed >= messages) done();
        return Promise.resolve();
      });
      await new Promise((r2) => setTimeout(r2, 3000)); // group joined, positioned at the end
      const start = performance.now();
      await produceAll();
      await all;
      const end = performance.now();
      await consumer.stop();
      bothRates.push(touchpoints / ((end - start) / 1000));
    }
  } finally {
    await producer.close();
    const cleanup = await connectTopicAdmin(brokers);
    await cleanup.deleteTopics([topic]);
    await cleanup.close();
  }
  return { produce: median(produceRates), produceConsume: median(bothRates) };
}
