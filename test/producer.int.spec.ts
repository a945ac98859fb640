/**
 * The producer adapter against real Kafka: one send larger than the broker takes in a request (its
 * message.max.bytes is 1 MiB) still delivers every message, in order per partition; concurrent sends are
 * coalesced and all delivered.
 */
import { connectTopicAdmin } from '../infra/kafka/admin';
import { connectConsumer } from '../infra/kafka/consumer';
import { connectProducer } from '../infra/kafka/producer';
import { eventually, testConfig, uniqueName } from './support/services';

const { endpoints } = testConfig();

describe('producer adapter', () => {
  const topic = uniqueName('it-producer');

  beforeAll(async () => {
    const admin = await connectTopicAdmin(endpoints.kafka.brokers);
    await admin.ensureTopics([{ name: topic, partitions: 2 }]);
    await admin.close();
  });

  afterAll(async () => {
    const admin = await connectTopicAdmin(endpoints.kafka.brokers);
    await admin.deleteTopics([topic]);
    await admin.close();
  });

  it('delivers a 3 MB send and concurrent small sends, each message once and in order per key', async () => {
    const producer = await connectProducer({ brokers: endpoints.kafka.brokers, clientId: 'it-producer' });
    const big = Array.from({ length: 3000 }, (_, i) => ({
      key: `k${i % 2}`,
      value: Buffer.from(`${String(i).padStart(6, '0')}${'x'.repeat(1000)}`),
      headers: { 'ciclo-n': String(i) },
    }));
    const small = Array.from({ length: 20 }, (_, i) => [
      { key: 's', value: Buffer.from(`small-${String(i).padStart(3, '0')}`) },
    ]);
    await Promise.all([producer.send(topic, big), ...small.map((m) => producer.send(topic, m))]);
    await producer.close();

    const seen: { key: string; value: string }[] = [];
    const consumer = await connectConsumer({
      brokers: endpoints.kafka.brokers,
      groupId: uniqueName('it-producer-read'),
      topics: [topic],
      fromBeginning: true,
      commitOffsets: false,
    });
    try {
      await consumer.run((batch) => {
        for (const m of batch) seen.push({ key: m.key ?? '', value: m.value!.toString().slice(0, 10) });
        return Promise.resolve();
      });
      await eventually(
        () => Promise.resolve(seen.length >= 3020 ? true : undefined),
        60_000,
        '3020 messages',
      );
    } finally {
      await consumer.stop();
    }
    expect(seen).toHaveLength(3020);
    for (const key of ['k0', 'k1']) {
      const order = seen.filter((m) => m.key === key).map((m) => Number(m.value.slice(0, 6)));
      expect(order).toEqual([...order].sort((a, b) => a - b));
      expect(order).toHaveLength(1500);
    }
    const smallSeen = seen.filter((m) => m.key === 's').map((m) => m.value);
    expect(new Set(smallSeen).size).toBe(20);
  });
});
