/**
 * The exactly-once loop of ../transactional-processor.ts on @platformatic/kafka, as far as that client
 * allows, to measure the two clients on the same work (bench/kafka-clients.ts). Consumes the input topic in
 * a consumer group (read_committed, ciclo's co-partitioned assignor); each input partition it owns gets a
 * transactional producer of its own, under the transactional id ciclo's runtime uses for it
 * (`<prefix>-<input topic>-<partition>`), so the two runtimes fence each other. A partition is acquired as
 * soon as it is assigned: InitProducerId fences the previous owner, then its changelog partition is read
 * (read_committed) and handed to the task. Each batch of a partition (batches.ts) is one transaction: the
 * task's outputs, then the batch's offset (TxnOffsetCommit with the group's generation and member id, so a
 * zombie of an older generation is refused, KIP-447), then the commit.
 *
 * What ciclo's runtime does and this one does not, because the client (2.12) offers no way to: seek a
 * partition to the offsets committed after the fence (the stream reads the group's offsets when it joins,
 * before the fence); pause one partition; read a partition without joining a group.
 * A lost partition (fenced, expired) therefore stops the processor instead of being acquired again, and
 * `coPartitionedTopics` and `idleFlushMs` are refused.
 *
 * Not for production as it is: 2.12.1 delivers, to read_committed readers, the records of an aborted
 * transaction when the same producer aborted another one later in the same fetch (its filter keeps one
 * aborted range per producer id), which a restore from the changelog would fold.
 */
import type { Consumer, Producer } from '@platformatic/kafka' with { 'resolution-mode': 'import' };
import { CicloError } from '../../errors';
import { coPartitionedAssignment } from '../co-partitioned-assigner';
import {
  chunkBySize,
  type OutputRecord,
  type RunningProcessor,
  type TransactionalProcessorOptions,
} from '../transactional-processor';
import type { IncomingMessage } from '../types';
import { partitionBatches } from './batches';
import { loadPlatformatic, type PlatformaticKafka } from './load';
import {
  fromPlatformaticMessage,
  javaCompatiblePartitioner,
  toPlatformaticMessage,
  type PlatformaticIncoming,
} from './messages';
import { partitionChains } from '../partition-chains';

type PlatformaticProducer = Producer<string, Buffer, string, string>;
type PlatformaticConsumer = Consumer<string, Buffer, string, string>;

/** Bytes of one produce request in a transaction: under the broker's 1 MiB per record batch, as ciclo's. */
const MAX_SEND_BYTES = 768 * 1024;
/** The assignor's name in the group protocol: kafkajs's CoPartitionedAssigner's, so both can share a group. */
const ASSIGNOR = 'CicloCoPartitionedAssigner';

/** Errors that mean another owner holds the partition's transactional id now (../ownership.ts). */
const OWNERSHIP_LOST = ['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED', 'INVALID_PRODUCER_ID_MAPPING'];

export async function startPlatformaticTransactionalProcessor(
  options: TransactionalProcessorOptions,
): Promise<RunningProcessor> {
  if ((options.coPartitionedTopics ?? []).length > 0 || options.idleFlushMs !== undefined)
    throw new CicloError(
      'CONFIG_INVALID',
      'the @platformatic/kafka runtime has no co-partitioned topics nor idle flush (it cannot seek or pause a partition)',
    );
  const kafka = await loadPlatformatic();
  const { inputTopic, changelogTopic, task, log } = options;
  const clientId = options.clientId ?? options.groupId;
  const common = {
    clientId,
    bootstrapBrokers: [...options.brokers],
    connectTimeout: 3000,
    timeout: 30_000,
    retries: 8,
    retryDelay: 200,
  };
  const deserializers = {
    key: kafka.stringDeserializer,
    headerKey: kafka.stringDeserializer,
    headerValue: kafka.stringDeserializer,
  };
  const sessionTimeout = options.sessionTimeoutMs ?? 10_000;
  const consumer: PlatformaticConsumer = new kafka.Consumer<string, Buffer, string, string>({
    ...common,
    groupId: options.groupId,
    autocommit: false,
    isolationLevel: kafka.FetchIsolationLevels.READ_COMMITTED,
    sessionTimeout,
    rebalanceTimeout: Math.max(sessionTimeout, 60_000),
    heartbeatInterval: Math.min(3000, Math.floor(sessionTimeout / 3)),
    // As ciclo's kafkajs consumer fetches: kafkajs's byte limits, and an idle fetch answered within 1 s.
    maxWaitTime: 1000,
    maxBytes: 10 * 1024 * 1024,
    maxBytesPerPartition: 1024 * 1024,
    deserializers,
    protocols: [{ name: ASSIGNOR, version: 0 }],
    partitionAssigner: (_current, members, topics, metadata) => {
      const partitionsOf = new Map(
        [...topics].map((topic) => [
          topic,
          Array.from({ length: metadata.topics.get(topic)?.partitionsCount ?? 0 }, (_, p) => p),
        ]),
      );
      const byMember = coPartitionedAssignment([...members.keys()], [...partitionsOf.values()].flat());
      return [...byMember].map(([memberId, owned]) => ({
        memberId,
        assignments: new Map(
          [...partitionsOf]
            .map(([topic, partitions]) => ({
              topic,
              partitions: partitions.filter((p) => owned.includes(p)),
            }))
            .filter((a) => a.partitions.length > 0)
            .map((a) => [a.topic, a]),
        ),
      }));
    },
  });

  const producers = new Map<number, PlatformaticProducer>();
  const stopping = new AbortController();
  if (options.signal?.aborted) stopping.abort();
  options.signal?.addEventListener('abort', () => void stop(), { once: true });
  const chains = partitionChains();
  const withPartition = <T>(partition: number, work: () => Promise<T>): Promise<T> =>
    chains.run(partition, work);
  let crash!: (err: Error) => void;
  const crashed = new Promise<Error>((resolve) => (crash = resolve));
  let assigned = new Set<number>();

  async function release(partition: number): Promise<void> {
    const producer = producers.get(partition);
    producers.delete(partition);
    task.close(partition);
    await producer?.close(true).catch(() => undefined);
  }

  async function acquire(partition: number): Promise<void> {
    const producer: PlatformaticProducer = new kafka.Producer<string, Buffer, string, string>({
      ...common,
      idempotent: true,
      transactionalId: `${options.transactionalIdPrefix}-${inputTopic}-${partition}`,
      autocreateTopics: false,
      partitioner: javaCompatiblePartitioner(),
      serializers: {
        key: kafka.stringSerializer,
        headerKey: kafka.stringSerializer,
        headerValue: kafka.stringSerializer,
      },
    });
    try {
      // The first transaction's InitProducerId fences the previous owner (aborting what it left open); the
      // transaction itself is dropped locally, having written nothing.
      await (await producer.beginTransaction()).cancel();
      if (stopping.signal.aborted) throw new Error(`stopped while acquiring partition ${partition}`);
      const changelog = await readChangelogPartition(kafka, common, changelogTopic, partition);
      await task.open(partition, changelog);
      producers.set(partition, producer);
      log?.info({ partition, changelogRecords: changelog.length }, 'partition restored');
    } catch (err) {
      await producer.close(true).catch(() => undefined);
      throw err;
    }
  }

  async function commit(
    partition: number,
    records: readonly OutputRecord[],
    last: PlatformaticIncoming,
  ): Promise<void> {
    const producer = producers.get(partition);
    if (!producer) throw new Error(`partition ${partition} of ${inputTopic} is not owned`);
    const began = performance.now();
    const tx = await producer.beginTransaction();
    try {
      for (const chunk of chunkBySize(records, MAX_SEND_BYTES))
        await tx.send({ messages: chunk.map((r) => toPlatformaticMessage(r.topic, r)) });
      await tx.addConsumer(consumer);
      // Commits the last message's offset + 1, with the generation and member id it was fetched under.
      await tx.addOffset(last);
      await tx.commit();
    } catch (err) {
      await tx.abort().catch(() => undefined);
      await release(partition);
      throw err;
    }
    options.onTransaction?.({ partition, durationMs: performance.now() - began, records: records.length });
  }

  consumer.on('consumer:group:join', (payload) => {
    const previous = assigned;
    assigned = new Set(
      (payload.assignments ?? []).filter((a) => a.topic === inputTopic).flatMap((a) => a.partitions),
    );
    for (const partition of new Set([...previous, ...producers.keys()]))
      if (!assigned.has(partition)) void withPartition(partition, () => release(partition));
    for (const partition of assigned)
      void withPartition(partition, async () => {
        if (producers.has(partition) || !assigned.has(partition) || stopping.signal.aborted) return;
        await acquire(partition);
      }).catch((err: unknown) => log?.warn({ err, partition }, 'acquiring a partition failed'));
  });

  const stream = await consumer.consume({
    topics: [inputTopic],
    mode: 'committed',
    fallbackMode: 'earliest',
    autocommit: false,
  });
  stream.on('error', (err) => {
    if (!stopping.signal.aborted) crash(err);
  });
  const batches = partitionBatches(
    stream,
    (_topic, partition, messages) =>
      withPartition(partition, async () => {
        if (stopping.signal.aborted || !assigned.has(partition)) return;
        if (!producers.has(partition)) await acquire(partition);
        const incoming: IncomingMessage[] = messages.map(fromPlatformaticMessage);
        const records = await task.process(partition, incoming).catch(async (err: unknown) => {
          await release(partition);
          throw err;
        });
        await commit(partition, records, messages[messages.length - 1]!);
      }).catch((err: unknown) => {
        if (stopping.signal.aborted) return;
        // Without a seek, a partition lost here cannot be processed again from its committed offset by this
        // stream: the processor stops (ciclo's kafkajs runtime acquires it again and seeks).
        const lost = OWNERSHIP_LOST.some((id) => kafka.findErrorBy(err as Error, 'apiId', id) !== null);
        throw lost
          ? new Error(`partition ${partition} of ${inputTopic} lost to another owner`, { cause: err })
          : err;
      }),
    { concurrency: options.partitionsConsumedConcurrently ?? 4, maxQueued: 20_000 },
  );
  batches.failed.catch((err: unknown) => crash(err as Error));

  let stopped: Promise<void> | undefined;
  function stop(): Promise<void> {
    stopped ??= (async () => {
      stopping.abort();
      await stream.close().catch(() => undefined);
      await chains.settled();
      for (const partition of [...producers.keys()]) await release(partition);
      await consumer.close(true).catch(() => undefined);
    })();
    return stopped;
  }
  if (stopping.signal.aborted) await stop();
  return { ownedPartitions: () => [...producers.keys()].sort((a, b) => a - b), crashed, stop };
}

/**
 * Every committed record of one changelog partition, oldest first. The client reads only partitions a group
 * assigned, so a fresh group of one member reads the whole topic and keeps this partition's records, until
 * its end offset as of now: the last stable offset, as the reader lists offsets read committed. The last
 * offsets may be transaction markers or aborted records, which no message delivers, so the read ends when
 * the stream's fetch position (past every batch fetched, markers included) reaches the end, not when the
 * partition has been quiet for a while, which a fetch stalled by a broker failover also is.
 */
export async function readChangelogPartition(
  kafka: PlatformaticKafka,
  common: { clientId: string; bootstrapBrokers: string[] },
  topic: string,
  partition: number,
): Promise<IncomingMessage[]> {
  const reader = new kafka.Consumer<string, Buffer, string, string>({
    ...common,
    groupId: `ciclo-restore-${topic}-${partition}-${process.pid}-${Date.now()}`,
    autocommit: false,
    isolationLevel: kafka.FetchIsolationLevels.READ_COMMITTED,
    deserializers: {
      key: kafka.stringDeserializer,
      headerKey: kafka.stringDeserializer,
      headerValue: kafka.stringDeserializer,
    },
  });
  try {
    const offsetsAt = async (timestamp: bigint): Promise<bigint> =>
      (await reader.listOffsets({ topics: [topic], partitions: { [topic]: [partition] }, timestamp })).get(
        topic,
      )?.[partition] ?? 0n;
    const [start, end] = await Promise.all([
      offsetsAt(kafka.ListOffsetTimestamps.EARLIEST),
      offsetsAt(kafka.ListOffsetTimestamps.LATEST),
    ]);
    if (end <= start) return [];
    const stream = await reader.consume({ topics: [topic], mode: 'earliest', autocommit: false });
    const records: IncomingMessage[] = [];
    const position = (): bigint => stream.offsetsToFetch.get(`${topic}:${partition}`) ?? start;
    await new Promise<void>((resolve, reject) => {
      stream.on('error', reject);
      // Emitted as each fetch answers, just before the stream reads its batches in the same callback
      // (messages-stream.js), so the position is looked at once that is done.
      stream.on('fetch', () =>
        setImmediate(() => {
          if (position() >= end) resolve();
        }),
      );
      stream.on('data', (m: PlatformaticIncoming) => {
        if (m.partition !== partition || m.offset >= end) return;
        records.push(fromPlatformaticMessage(m));
        if (m.offset + 1n >= end) resolve();
      });
    });
    await stream.close();
    return records;
  } finally {
    await reader.close(true).catch(() => undefined);
  }
}
