/**
 * connectConsumer (../consumer.ts) on @platformatic/kafka: a consumer group read batch by batch
 * (batches.ts), read_committed, offsets committed after the handler resolves for a batch (at-least-once).
 */
import type { MessageConsumer } from '../consumer';
import { partitionBatches } from './batches';
import { loadPlatformatic } from './load';
import { fromPlatformaticMessage } from './messages';

export async function connectPlatformaticConsumer(options: {
  brokers: readonly string[];
  groupId: string;
  topics: readonly string[];
  fromBeginning: boolean;
  clientId?: string;
  /** False for readers that must not move the group's offsets. */
  commitOffsets?: boolean;
  minBytes?: number;
  maxWaitTimeMs?: number;
  /** Batches of different partitions handled at once. Default 1. */
  partitionsConsumedConcurrently?: number;
}): Promise<MessageConsumer> {
  const { Consumer, FetchIsolationLevels, stringDeserializer } = await loadPlatformatic();
  const consumer = new Consumer<string, Buffer, string, string>({
    clientId: options.clientId ?? options.groupId,
    bootstrapBrokers: [...options.brokers],
    groupId: options.groupId,
    autocommit: false,
    isolationLevel: FetchIsolationLevels.READ_COMMITTED,
    // kafkajs's fetch defaults, so both clients fetch as much at a time.
    maxBytes: 10 * 1024 * 1024,
    maxBytesPerPartition: 1024 * 1024,
    minBytes: options.minBytes ?? 1,
    maxWaitTime: options.maxWaitTimeMs ?? 5000,
    sessionTimeout: 30_000,
    heartbeatInterval: 3000,
    deserializers: {
      key: stringDeserializer,
      headerKey: stringDeserializer,
      headerValue: stringDeserializer,
    },
    connectTimeout: 3000,
    timeout: 30_000,
    retries: 8,
    retryDelay: 200,
  });
  const commit = options.commitOffsets ?? true;
  let stream: Awaited<ReturnType<typeof consumer.consume>> | undefined;
  const self: MessageConsumer = {
    async run(handler) {
      const started = await consumer.consume({
        topics: [...options.topics],
        mode: 'committed',
        fallbackMode: options.fromBeginning ? 'earliest' : 'latest',
        autocommit: false,
      });
      stream = started;
      const batches = partitionBatches(
        started,
        async (_topic, _partition, messages) => {
          await handler(messages.map(fromPlatformaticMessage), {
            heartbeat: () => Promise.resolve(), // the client heartbeats on its own timer
            isRunning: () => started.isActive(),
          });
          if (commit) await messages[messages.length - 1]!.commit();
        },
        { concurrency: options.partitionsConsumedConcurrently ?? 1, maxQueued: 20_000 },
      );
      // A failed handler ends the stream with its error (an unhandled stream error ends the process: loud).
      batches.failed.catch((err: unknown) => void started.destroy(err as Error));
    },
    /** Each batch's end awaited before its commit, as `run` does: handed over, but not pipelined here. */
    runHandedOver(handler) {
      return self.run(async (messages, control) => {
        const { done } = await handler(messages, control);
        await done;
      });
    },
    async stop() {
      await stream?.close();
      await consumer.close();
    },
  };
  return self;
}
