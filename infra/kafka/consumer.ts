/**
 * Consuming from Kafka in a consumer group, batch by batch. Offsets are committed only after the handler
 * resolves for a batch (at-least-once); exactly-once processing uses the transactional runtime instead.
 */
import type { KafkaMessage } from 'kafkajs';
import type { Logger } from '../log';
import { createKafka } from './client';
import { handedOverCommits } from './handed-over-commits';
import type { IncomingMessage } from './types';

export interface BatchControl {
  /** Keeps the group membership alive while a handler waits (e.g. for a sink to come back). */
  heartbeat(): Promise<void>;
  /** False once stop() was called: a waiting handler should give up (its batch is redelivered). */
  isRunning(): boolean;
}

/** A batch a `runHandedOver` handler has taken: `done` settles once it is finished (e.g. inserted). */
export interface HandedOver {
  readonly done: Promise<void>;
}

export type BatchHandler<R> = (messages: readonly IncomingMessage[], control: BatchControl) => Promise<R>;

export interface MessageConsumer {
  /** Runs the handler for each batch until stop(); resolves once consuming has started. */
  run(handler: BatchHandler<void>): Promise<void>;
  /**
   * As `run`, but the handler only takes each batch: it resolves once the batch is taken (after any wait
   * it imposes to hold the consumer back) with the promise of the batch's end, and the consumer fetches on
   * meanwhile. A partition's offset is committed once its batches up to it are done, in order
   * (ordered-commits.ts); what is done while a commit is in flight goes in the next one. A batch whose end
   * fails restarts the consumer from the committed offsets, as a failing `run` handler does.
   */
  runHandedOver(handler: BatchHandler<HandedOver>): Promise<void>;
  /** Stops fetching, waits for the batches handed over to end and commits what they did, then leaves. */
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
  const handedOver = handedOverCommits({
    commitOffsets: (offsets) => consumer.commitOffsets(offsets),
    ...(options.log ? { log: options.log } : {}),
  });
  let handingOver = false;
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
    async runHandedOver(handler) {
      handingOver = true;
      consumer.on(consumer.events.GROUP_JOIN, () => handedOver.rejoined());
      await consumer.run({
        autoCommit: false,
        // The fetch position moves past a batch once it is taken; its commit waits for its end.
        eachBatchAutoResolve: true,
        partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 1,
        eachBatch: async (payload) => {
          handedOver.throwIfFailed();
          const { batch } = payload;
          if (batch.messages.length === 0) return;
          const messages = batch.messages.map((m) => fromKafkaMessage(batch.topic, batch.partition, m));
          const { done } = await handler(messages, {
            heartbeat: () => payload.heartbeat(),
            isRunning: () => payload.isRunning(),
          });
          // Taken once the handler took it (one batch of a partition at a time, in fetch order): a handler
          // that throws leaves nothing in line, and kafkajs hands the batch over again.
          handedOver.ends(
            handedOver.take(batch.topic, batch.partition, BigInt(batch.lastOffset()) + 1n),
            done,
          );
        },
      });
    },
    async stop() {
      if (handingOver) {
        consumer.pause(options.topics.map((topic) => ({ topic })));
        await handedOver.stopped();
      }
      await consumer.disconnect();
    },
  };
}
