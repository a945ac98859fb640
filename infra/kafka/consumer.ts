/**
 * Consuming from Kafka in a consumer group, batch by batch. Offsets are committed only after the handler
 * resolves for a batch (at-least-once); exactly-once processing uses the transactional runtime instead.
 */
import type { KafkaMessage } from 'kafkajs';
import type { Logger } from '../log';
import { createKafka } from './client';
import type { IncomingMessage } from './types';

export interface BatchControl {
  /** Keeps the group membership alive while a handler waits (e.g. for a sink to come back). */
  heartbeat(): Promise<void>;
  /** False once stop() was called: a waiting handler should give up (its batch is redelivered). */
  isRunning(): boolean;
}

export interface MessageConsumer {
  /** Runs the handler for each batch until stop(); resolves once consuming has started. */
  run(handler: (messages: readonly IncomingMessage[], control: BatchControl) => Promise<void>): Promise<void>;
  stop(): Promise<void>;
}

export function fromKafkaMessage(topic: string, partition: number, m: KafkaMessage): IncomingMessage {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.headers ?? {})) {
    if (v === undefined) continue;
    headers[k] = Array.isArray(v) ? v.map(String).join(',') : v.toString();
  }
  return {
    topic,
    partition,
    offset: m.offset,
    key: m.key ? m.key.toString('utf8') : null,
    value: m.value,
    headers,
    timestamp: Number(m.timestamp),
  };
}

export async function connectConsumer(options: {
  brokers: readonly string[];
  groupId: string;
  topics: readonly string[];
  fromBeginning: boolean;
  clientId?: string;
  log?: Logger;
  /** False for readers that must not move the group's offsets (e.g. `topics tail`). */
  commitOffsets?: boolean;
  /** Broker-side batching: a fetch returns once it has minBytes or maxWaitTimeMs has passed. */
  minBytes?: number;
  maxWaitTimeMs?: number;
  /** Batches of different partitions handled at once (the handler must be safe for that). Default 1. */
  partitionsConsumedConcurrently?: number;
}): Promise<MessageConsumer> {
  const consumer = createKafka({
    brokers: options.brokers,
    clientId: options.clientId ?? options.groupId,
    ...(options.log ? { log: options.log } : {}),
  }).consumer({
    groupId: options.groupId,
    readUncommitted: false,
    allowAutoTopicCreation: false,
    ...(options.minBytes !== undefined ? { minBytes: options.minBytes } : {}),
    ...(options.maxWaitTimeMs !== undefined ? { maxWaitTimeInMs: options.maxWaitTimeMs } : {}),
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [...options.topics], fromBeginning: options.fromBeginning });
  return {
    async run(handler) {
      await consumer.run({
        autoCommit: options.commitOffsets ?? true,
        eachBatchAutoResolve: true,
        partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 1,
        eachBatch: async (payload) => {
          const { batch } = payload;
          const messages = batch.messages.map((m) => fromKafkaMessage(batch.topic, batch.partition, m));
          await handler(messages, {
            heartbeat: () => payload.heartbeat(),
            isRunning: () => payload.isRunning(),
          });
        },
      });
    },
    stop: () => consumer.disconnect(),
  };
}
