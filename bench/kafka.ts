/**
 * The raw Kafka baselines of `npm run bench`: kafkajs produce (idempotent, acks=all, 4 batches of 1,000 in
 * flight) and produce+consume of 300-byte messages on 6 partitions. Used by run.ts and collector.ts, so a
 * pipeline figure is always compared with a baseline measured in the same run.
 */
import { performance } from 'node:perf_hooks';
import { connectTopicAdmin } from '../infra/kafka/admin';
import { connectConsumer } from '../infra/kafka/consumer';
import { connectProducer } from '../infra/kafka/producer';
import { median, RUNS } from './fold';

export async function rawKafka(
  brokers: readonly string[],
  messages: number,
): Promise<{ produce: number; produceConsume: number }> {
  const topic = `ciclo.bench.raw.${Date.now()}`;
  const admin = await connectTopicAdmin(brokers);
  await admin.ensureTopics([{ name: topic, partitions: 6 }]);
  await admin.close();
  const value = Buffer.alloc(300, 7); // about the size of an Avro touchpoint
  const producer = await connectProducer({ brokers, clientId: 'bench' });
  const produceRates: number[] = [];
  const bothRates: number[] = [];
  try {
    for (let r = 0; r < RUNS; r++) {
      const t0 = performance.now();
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
      const batches: Promise<void>[] = [];
      for (let i = 0; i < messages; i += 1000) {
        batches.push(
          producer.send(
            topic,
            Array.from({ length: Math.min(1000, messages - i) }, (_, k) => ({
              key: `k${(i + k) % 5000}`,
              value,
            })),
          ),
        );
        if (batches.length >= 4) await batches.shift();
      }
      await Promise.all(batches);
      const produced = performance.now();
      await all;
      const end = performance.now();
      await consumer.stop();
      produceRates.push(messages / ((produced - start) / 1000));
      bothRates.push(messages / ((end - start) / 1000));
      void t0;
    }
  } finally {
    await producer.close();
    const cleanup = await connectTopicAdmin(brokers);
    await cleanup.deleteTopics([topic]);
    await cleanup.close();
  }
  return { produce: median(produceRates), produceConsume: median(bothRates) };
}
