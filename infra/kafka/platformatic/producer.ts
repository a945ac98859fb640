/**
 * The collector's producer (../producer.ts) on @platformatic/kafka: idempotent, acks from all in-sync
 * replicas, one request in flight, and sends coalesced into requests by the same queue
 * (../coalescing-sender.ts), so a resolved `send` means what it means there. Keyed messages go where the Java
 * client, kafkajs and ciclo's murmur2 put them (partitioner.ts); a message may name its partition.
 */
import { coalescingSender } from '../coalescing-sender';
import type { MessageProducer } from '../producer';
import { loadPlatformatic } from './load';
import { javaCompatiblePartitioner, toPlatformaticMessage } from './messages';

export async function connectPlatformaticProducer(options: {
  brokers: readonly string[];
  clientId: string;
  compression?: boolean;
}): Promise<MessageProducer> {
  const { Producer, stringSerializer } = await loadPlatformatic();
  const producer = new Producer<string, Buffer, string, string>({
    clientId: options.clientId,
    bootstrapBrokers: [...options.brokers],
    idempotent: true,
    acks: -1,
    autocreateTopics: false,
    partitioner: javaCompatiblePartitioner(),
    serializers: { key: stringSerializer, headerKey: stringSerializer, headerValue: stringSerializer },
    // kafkajs's connection timeout and retries as ciclo sets them (../client.ts).
    connectTimeout: 3000,
    timeout: 30_000,
    retries: 8,
    retryDelay: 200,
  });
  // Connects and fetches the producer id now rather than at the first send, as kafkajs's connect() does.
  await producer.initIdempotentProducer({});
  const compression = options.compression ? 'gzip' : 'none';
  const send = coalescingSender(async (byTopic) => {
    const messages = [];
    for (const [topic, list] of byTopic) for (const m of list) messages.push(toPlatformaticMessage(topic, m));
    await producer.send({ messages, compression });
  });
  return { send, close: () => producer.close() };
}
