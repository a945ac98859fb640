/**
 * Consuming from Kafka in a consumer group, batch by batch. Offsets are committed only after the handler
 * resolves for a batch (at-least-once); exactly-once processing uses the transactional runtime instead.
 */
import type { Consumer, KafkaMessage } from 'kafkajs';
import type { Logger } from '../log';
import { createKafka } from './client';
import { OrderedCommits, type BatchTicket } from './ordered-commits';
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
  const handedOver = handOverCommits(consumer, options.log);
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
        await handedOver.settled();
      }
      await consumer.disconnect();
    },
  };
}

/**
 * The commits of `runHandedOver`: each batch's end moves its partition's offset (ordered-commits.ts), and
 * one request at a time carries every offset moved since the last.
 */
function handOverCommits(consumer: Consumer, log: Logger | undefined) {
  const commits = new OrderedCommits();
  const moved = new Map<string, { topic: string; partition: number; offset: string }>();
  const ending = new Set<Promise<void>>();
  let committing: Promise<void> | undefined;
  let failure: Error | undefined;

  const commit = (): Promise<void> =>
    (committing ??= (async () => {
      while (moved.size > 0) {
        const offsets = [...moved.values()];
        moved.clear();
        // A commit refused (a rebalance under way) is covered by the next one, or by fetching again.
        await consumer
          .commitOffsets(offsets)
          .catch((err: unknown) =>
            log?.warn({ err }, 'committing offsets failed; fetched again if not covered'),
          );
      }
    })().finally(() => (committing = undefined)));

  return {
    take: (topic: string, partition: number, next: bigint): BatchTicket =>
      commits.take(topic, partition, next),
    ends(ticket: BatchTicket, done: Promise<void>): void {
      const end = done.then(
        () => {
          const offset = commits.done(ticket);
          if (offset === undefined) return;
          moved.set(`${ticket.topic}\u0000${ticket.partition}`, {
            topic: ticket.topic,
            partition: ticket.partition,
            offset: offset.toString(),
          });
          void commit();
        },
        (err: unknown) => {
          commits.failed(ticket);
          // Retriable to kafkajs (consumer/index.js onCrash), which restarts the consumer instead of leaving it stopped.
          failure ??= Object.assign(
            new Error(
              `a batch of ${ticket.topic} partition ${ticket.partition} failed: ${err instanceof Error ? err.message : String(err)}`,
            ),
            { retriable: true },
          );
          log?.error(
            { err, topic: ticket.topic, partition: ticket.partition },
            'a batch failed; consuming again from the committed offsets',
          );
        },
      );
      ending.add(end);
      void end.finally(() => ending.delete(end));
    },
    /** A failed batch fails the next one taken: kafkajs restarts the consumer, which joins anew. */
    throwIfFailed(): void {
      if (failure) throw failure;
    },
    /** The group was joined (a rebalance, a restart): fetching starts again from the committed offsets. */
    rejoined(): void {
      commits.newGeneration();
      failure = undefined;
    },
    async settled(): Promise<void> {
      while (ending.size > 0) await Promise.allSettled([...ending]);
      await commit();
    },
  };
}
