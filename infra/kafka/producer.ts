/**
 * Producing to Kafka: idempotent producer, acks from all in-sync replicas, so a resolved `send` means the
 * broker has the messages durably and a retried send does not duplicate them.
 *
 * Coalescing: an idempotent kafkajs producer has one request in flight, so concurrent sends (a busy
 * collector's requests) would each wait a full round trip in turn. Sends that arrive while one is in flight
 * are queued and go out together, in arrival order, as the next request; each caller's promise settles
 * with the request that carried its messages (Kafka's linger, without a timer).
 */
import { CompressionTypes, Partitioners, type ICustomPartitioner } from 'kafkajs';
import { murmur2 } from '../../schemas/partitioner';
import type { Logger } from '../log';
import { createKafka } from './client';
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

  interface Pending {
    readonly topic: string;
    readonly messages: readonly OutgoingMessage[];
    readonly bytes: number;
    resolve(): void;
    reject(err: unknown): void;
  }
  const queue: Pending[] = [];
  let inFlight = false;

  async function drain(): Promise<void> {
    if (inFlight) return;
    inFlight = true;
    try {
      while (queue.length > 0) {
        // Up to MAX_COALESCED_BYTES per request, and always at least one send, however large.
        const taken: Pending[] = [queue.shift()!];
        let bytes = taken[0]!.bytes;
        while (queue.length > 0 && bytes + queue[0]!.bytes <= MAX_COALESCED_BYTES) {
          bytes += queue[0]!.bytes;
          taken.push(queue.shift()!);
        }
        const byTopic = new Map<string, OutgoingMessage[]>();
        for (const p of taken) {
          const list = byTopic.get(p.topic);
          if (list) list.push(...p.messages);
          else byTopic.set(p.topic, [...p.messages]);
        }
        try {
          await producer.sendBatch({
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
          });
          for (const p of taken) p.resolve();
        } catch (err) {
          for (const p of taken) p.reject(err);
        }
      }
    } finally {
      inFlight = false;
    }
  }

  return {
    async send(topic, messages) {
      // A send larger than one request may carry goes out as several, in order; it resolves when Kafka
      // has all of them (a broker refuses a record batch over its message.max.bytes outright).
      const parts: { messages: OutgoingMessage[]; bytes: number }[] = [];
      let current: OutgoingMessage[] = [];
      let bytes = 0;
      for (const m of messages) {
        let size = (m.value?.length ?? 0) + (m.key?.length ?? 0) * 3 + 64;
        for (const [k, v] of Object.entries(m.headers ?? {})) size += (k.length + v.length) * 3;
        if (current.length > 0 && bytes + size > MAX_COALESCED_BYTES) {
          parts.push({ messages: current, bytes });
          current = [];
          bytes = 0;
        }
        current.push(m);
        bytes += size;
      }
      if (current.length > 0) parts.push({ messages: current, bytes });
      await Promise.all(
        parts.map(
          (part) =>
            new Promise<void>((resolve, reject) => {
              queue.push({ topic, messages: part.messages, bytes: part.bytes, resolve, reject });
              void drain();
            }),
        ),
      );
    },
    close: () => producer.disconnect(),
  };
}

/** Bytes of messages per coalesced request: under the broker's 1 MiB per record batch for any partition. */
const MAX_COALESCED_BYTES = 768 * 1024;
