/**
 * Producing to Kafka: idempotent producer, acks from all in-sync replicas, so a resolved `send` means the
 * broker has the messages durably and a retried send does not duplicate them.
 */
import { CompressionTypes } from 'kafkajs';
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
  });
  await producer.connect();
  return {
    async send(topic, messages) {
      if (messages.length === 0) return;
      await producer.send({
        topic,
        acks: -1,
        compression: options.compression ? CompressionTypes.GZIP : CompressionTypes.None,
        messages: messages.map((m) => ({
          key: m.key,
          value: m.value,
          headers: toKafkaHeaders(m.headers),
          ...(m.timestamp !== undefined ? { timestamp: String(m.timestamp) } : {}),
        })),
      });
    },
    close: () => producer.disconnect(),
  };
}
