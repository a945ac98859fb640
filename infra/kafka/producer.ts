/**
 * Producing to Kafka: idempotent producer, acks from all in-sync replicas, so a resolved `send` means the
 * broker has the messages durably and a retried send does not duplicate them.
 *
 * Coalescing: an idempotent kafkajs producer has one request in flight, so sends that arrive while one is in
 * flight go out together as the next request (coalescing-sender.ts, shared with the @platformatic/kafka
 * producer measured against this one).
 */
import { CompressionTypes, Partitioners, type ICustomPartitioner } from 'kafkajs';
import { murmur2 } from '../../schemas/partitioner';
import type { Logger } from '../log';
import { createKafka } from './client';
import { coalescingSender } from './coalescing-sender';
import type { OutgoingMessage } from './types';

export interface MessageProducer {
  send(topic: string, messages: readonly OutgoingMessage[]): Promise<void>;
  close(): Promise<void>;
}

export function toKafkaHeaders(
  headers: Readonly<Record<string, string>> | undefined,
): Record<string, string> | undefined {
  return headers ? { ...headers } : undefined;
}

/**
 * kafkajs's default (Java-compatible) partitioner, placing every message where it does, with keyed messages
 * hashed by ciclo's murmur2 (schemas/partitioner.ts, tested to agree with kafkajs and the Java
 * client): kafkajs's own computes in 64-bit Long objects and filters the partition list for every message,
 * which was a twentieth of a busy collector's CPU. Messages with a partition or without a key go to kafkajs's.
 */
export const keyedPartitioner: ICustomPartitioner = () => {
  const kafkajsDefault = Partitioners.DefaultPartitioner();
  return (args) => {
    const { message, partitionMetadata } = args;
    if (message.partition !== null && message.partition !== undefined) return message.partition;
    const key = message.key;
    if (key === null || key === undefined) return kafkajsDefault(args);
    const bytes = Buffer.isBuffer(key) ? key : Buffer.from(String(key), 'utf8');
    return (murmur2(bytes) & 0x7fffffff) % partitionMetadata.length;
  };
};

export async function connectProducer(options: {
  brokers: readonly string[];
  clientId: string;
  log?: Logger;
  compression?: boolean;
}): Promise<MessageProducer> {
  const producer = createKafka({
    brokers: options.brokers,
    clientId: options.clientId,
    ...(options.log ? { log: options.log } : {}),
  }).producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: keyedPartitioner,
  });
  await producer.connect();
  const compression = options.compression ? CompressionTypes.GZIP : CompressionTypes.None;
  const send = coalescingSender((byTopic) =>
    producer
      .sendBatch({
        acks: -1,
        compression,
        topicMessages: [...byTopic].map(([topic, messages]) => ({
          topic,
          messages: messages.map((m) => ({
            key: m.key,
            value: m.value,
            headers: toKafkaHeaders(m.headers),
            ...(m.timestamp !== undefined ? { timestamp: String(m.timestamp) } : {}),
            ...(m.partition !== undefined ? { partition: m.partition } : {}),
          })),
        })),
      })
      .then(() => undefined),
  );
  return { send, close: () => producer.disconnect() };
}
