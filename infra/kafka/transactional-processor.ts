/**
 * Exactly-once consume-transform-produce on Kafka. Consumes an input topic in a consumer group; for each
 * input partition it owns, it first restores that partition's state from a compacted changelog topic, then
 * hands batches to a StreamTask and writes the task's outputs, its changelog records and the input offsets
 * in ONE Kafka transaction. A crash at any point either commits all of it or none of it: nothing is lost
 * and nothing is written twice (read_committed readers).
 *
 * Fencing: the transactional id is derived from the input partition, so whichever instance owns a
 * partition next initialises the same id and fences the previous owner (Kafka's EOS "v1" scheme, which
 * kafkajs supports; it has no KIP-447 consumer-metadata fencing). The changelog is partitioned like the
 * input: a task writes a partition's state to the same partition number. Partitions are acquired (fenced and
 * restored) as soon as they are assigned, so a crashed owner's open transaction is aborted at once instead
 * of holding back read_committed readers until its transaction timeout.
 *
 * Stopping, also while starting or restoring, aborts restores in progress, leaves the group (its partitions
 * move to the other instances at once, not after the session timeout) and closes every producer.
 */
import type { Consumer, EachBatchPayload, Producer, Transaction } from 'kafkajs';
import { watchEventLoopDelay } from '../event-loop-delay';
import type { Logger } from '../log';
import { createKafka } from './client';
import { heartbeatingWhile } from './heartbeating';
import { keyedPartitioner } from './producer';
import { CoPartitionedAssigner } from './co-partitioned-assigner';
import { ConsumedPositions } from './consumed-positions';
import { fromKafkaMessage } from './consumer';
import { isOwnershipLost, PartitionNotOwnedError } from './ownership';
import type { IncomingMessage, MessageHeaders } from './types';
import { partitionChains } from './partition-chains';

export interface OutputRecord {
  readonly topic: string;
  /** Set for changelog records: the input partition they belong to. Unset: the key decides. */
  readonly partition?: number;
  readonly key: string | null;
  readonly value: Buffer | null;
  readonly headers?: MessageHeaders;
}

/** What the runtime asks of a processor; implemented outside this folder, with no kafkajs in sight. */
export interface StreamTask {
  /** Called once per owned partition before its first batch, with the partition's changelog records. */
  open(partition: number, changelog: readonly IncomingMessage[]): Promise<void> | void;
  /**
   * Processes a batch of one topic (the input or a co-partitioned one; each message names its topic); the
   * returned records are written in the same transaction as the batch's offsets.
   */
  process(partition: number, messages: readonly IncomingMessage[]): Promise<readonly OutputRecord[]>;
  /** Called when the partition is revoked or its state must be rebuilt after a failed transaction. */
  close(partition: number): void;
  /** Called when no input arrived for idleFlushMs on an owned partition; may return records to write. */
  idle?(partition: number): Promise<readonly OutputRecord[]> | readonly OutputRecord[];
}

export interface TransactionalProcessorOptions {
  readonly brokers: readonly string[];
  readonly groupId: string;
  readonly inputTopic: string;
  /**
   * More input topics partitioned like `inputTopic`: partition p of each is consumed by the owner of input
   * partition p, into the same task state and transactions (e.g. messages between the task's partitions).
   */
  readonly coPartitionedTopics?: readonly string[];
  readonly changelogTopic: string;
  /** Prefix of the per-partition transactional ids; instances of one processor share it. */
  readonly transactionalIdPrefix: string;
  readonly task: StreamTask;
  readonly log?: Logger;
  readonly idleFlushMs?: number;
  readonly clientId?: string;
  /** How soon a crashed instance's partitions move to others (Kafka's group session timeout). */
  readonly sessionTimeoutMs?: number;
  /** Input partitions processed at once (default 4). */
  readonly partitionsConsumedConcurrently?: number;
  /**
   * Called after each committed transaction (a batch's, or an idle flush's) with how long the commit took,
   * from beginning the transaction to the broker's acknowledgement of its end, and how many records it
   * wrote (offsets not counted). For metrics: it must not throw.
   */
  readonly onTransaction?: (committed: { partition: number; durationMs: number; records: number }) => void;
  /**
   * Stops the processor when aborted, as stop() does. Aborted while starting, the start still resolves, with
   * a processor that has left the group and closed its clients: a stop request never waits for a restore.
   */
  readonly signal?: AbortSignal;
}

export interface RunningProcessor {
  /** Input partitions this instance owns and has restored. */
  ownedPartitions(): number[];
  /** Idempotent; aborts restores in progress, leaves the group, closes all producers. */
  stop(): Promise<void>;
  /** Resolves when the consumer crashed for good (kafkajs gave up); never resolves on a clean stop. */
  readonly crashed: Promise<Error>;
}

/**
 * Upper bound on the bytes of one produce request. A batch's outputs all go to a few partitions (its
 * changelog records to one), and a record batch over the broker's message.max.bytes (1 MiB by default) is
 * refused, which would crash the consumer on exactly the large batches a backlog produces. Several sends
 * inside one transaction are still one atomic commit.
 */
const MAX_SEND_BYTES = 768 * 1024;

/** Splits records into runs whose keys, values and headers add up to at most maxBytes (one record always fits). */
export function chunkBySize(records: readonly OutputRecord[], maxBytes: number): OutputRecord[][] {
  const chunks: OutputRecord[][] = [];
  let current: OutputRecord[] = [];
  let bytes = 0;
  for (const r of records) {
    let size = 70 + (r.key?.length ?? 0) * 3 + (r.value?.length ?? 0); // record overhead; keys may be UTF-8
    for (const [k, v] of Object.entries(r.headers ?? {})) size += k.length + (v?.length ?? 0) + 8;
    if (current.length > 0 && bytes + size > maxBytes) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(r);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

export async function startTransactionalProcessor(
  options: TransactionalProcessorOptions,
): Promise<RunningProcessor> {
  const { inputTopic, changelogTopic, task, log } = options;
  const inputTopics = [inputTopic, ...(options.coPartitionedTopics ?? [])];
  const kafka = createKafka({
    brokers: options.brokers,
    clientId: options.clientId ?? options.groupId,
    ...(log ? { log } : {}),
  });
  const producers = new Map<number, Producer>();
  /** Aborted by stop(): restores in progress give up, and no new partition is acquired. */
  const stopping = new AbortController();
  let running = false;
  // Asked to stop while starting: nothing is acquired from then on, and the stop follows the start.
  const onStopSignal = (): void => void (running ? stop() : stopping.abort());
  if (options.signal?.aborted) stopping.abort();
  else options.signal?.addEventListener('abort', onStopSignal, { once: true });
  const chains = partitionChains();
  const withPartition = <T>(partition: number, work: () => Promise<T>): Promise<T> =>
    chains.run(partition, work);
  const lastInput = new Map<number, number>();
  /**
   * Input partitions whose latest batch left more of the input topic to fetch. Such a partition is not
   * idle however long its next batch takes (a restore, a rebalance, a slow fetch): an idle flush applies
   * what waits in the task's buffers as if nothing older could still come, which must wait until the
   * partition has caught up.
   */
  const behind = new Set<number>();
  /**
   * How far each owned partition's state has consumed each input topic (consumed-positions.ts): from the
   * offsets committed when it was acquired (positionsAfterFence), then past each batch committed. What
   * kafkajs fetches below it (a seek that took effect late, a kept partition's offsets read again at a
   * rebalance before its last commit was materialized) the state has folded already, and is skipped.
   */
  const consumedPositions = new ConsumedPositions();
  const sessionTimeout = options.sessionTimeoutMs ?? 10_000;
  const heartbeatInterval = Math.min(3000, Math.floor(sessionTimeout / 3));
  const consumer: Consumer = kafka.consumer({
    groupId: options.groupId,
    readUncommitted: false,
    allowAutoTopicCreation: false,
    sessionTimeout,
    heartbeatInterval,
    // kafkajs heartbeats between fetches and a stop waits for the fetch in flight: an idle fetch that waits
    // 5 s (the default) makes a rebalance and a stop wait as long.
    maxWaitTimeInMs: 1000,
    partitionAssigners: [CoPartitionedAssigner],
  });
  let crash!: (err: Error) => void;
  const crashed = new Promise<Error>((resolve) => (crash = resolve));

  async function release(partition: number): Promise<void> {
    const producer = producers.get(partition);
    producers.delete(partition);
    lastInput.delete(partition);
    behind.delete(partition);
    consumedPositions.released(partition);
    task.close(partition);
    await producer?.disconnect().catch(() => undefined);
  }

  /**
   * Fence the previous owner, then restore: the changelog we read is exactly what was committed. Gives up
   * (and closes its producer) as soon as stop() is called.
   */
  async function acquire(partition: number): Promise<void> {
    const stopped = stopping.signal;
    const ifStopped = (): void => {
      if (stopped.aborted) throw new Error(`stopped while acquiring partition ${partition} of ${inputTopic}`);
    };
    ifStopped();
    const producer = kafka.producer({
      transactionalId: `${options.transactionalIdPrefix}-${inputTopic}-${partition}`,
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // kafkajs's default filters the partition list for every message, even one with its partition set.
      createPartitioner: keyedPartitioner,
    });
    try {
      await producer.connect();
      ifStopped();
      const fence = await producer.transaction(); // InitProducerId: aborts whatever the old owner left open
      await fence.abort();
      ifStopped();
      log?.debug({ partition }, 'restoring partition');
      const restoreStarted = performance.now();
      const changelog = await readChangelogPartition(kafka, changelogTopic, partition, stopped);
      ifStopped();
      const readSeconds = (performance.now() - restoreStarted) / 1000;
      // The longest the event loop was held while the task built the partition: past the session timeout, the
      // group would have dropped this member (bench/restore.ts watches it).
      const loop = watchEventLoopDelay();
      let longestEventLoopDelayMs: number;
      try {
        await task.open(partition, changelog);
      } finally {
        longestEventLoopDelayMs = loop.stop();
      }
      const openSeconds = (performance.now() - restoreStarted) / 1000 - readSeconds;
      const positions = await positionsAfterFence(partition);
      ifStopped();
      consumedPositions.restored(partition, positions.committed, inputTopics);
      for (const [topic, offset] of positions.committed)
        consumer.seek({ topic, partition, offset: offset.toString() });
      if (positions.behind) behind.add(partition);
      producers.set(partition, producer);
      lastInput.set(partition, Date.now()); // idle counts from now, not from before it was owned
      log?.info(
        {
          partition,
          changelogRecords: changelog.length,
          readSeconds: Number(readSeconds.toFixed(3)),
          openSeconds: Number(openSeconds.toFixed(3)),
          longestEventLoopDelayMs,
        },
        'partition restored',
      );
    } catch (err) {
      if (producers.get(partition) !== producer) await producer.disconnect().catch(() => undefined);
      throw err;
    }
  }

  /**
   * The group's committed offset of the partition in each input topic (none where it never committed), and
   * whether the input topic's is short of its end. Read after the fence, so it includes every commit of the
   * previous owner: kafkajs reads the committed offsets as soon as the group is joined, before the
   * partition is acquired, and a transaction of the previous owner may commit in between.
   */
  async function positionsAfterFence(
    partition: number,
  ): Promise<{ committed: Map<string, bigint>; behind: boolean }> {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const [ends, committedByTopic] = await Promise.all([
        admin.fetchTopicOffsets(inputTopic),
        admin.fetchOffsets({ groupId: options.groupId, topics: inputTopics }),
      ]);
      const committed = new Map<string, bigint>();
      for (const { topic, partitions } of committedByTopic) {
        const at = partitions.find((o) => o.partition === partition)?.offset ?? '-1';
        if (BigInt(at) >= 0n) committed.set(topic, BigInt(at));
      }
      const end = BigInt(ends.find((o) => o.partition === partition)?.high ?? '0');
      const low = BigInt(ends.find((o) => o.partition === partition)?.low ?? '0');
      return { committed, behind: (committed.get(inputTopic) ?? low) < end };
    } finally {
      await admin.disconnect();
    }
  }

  async function commit(
    partition: number,
    records: readonly OutputRecord[],
    consumed: { topic: string; nextOffset: string } | undefined,
  ): Promise<void> {
    const producer = producers.get(partition);
    // Revoked meanwhile: fail the batch so its offsets are not resolved; the new owner processes it.
    if (!producer) throw new PartitionNotOwnedError(inputTopic, partition);
    const began = performance.now();
    const tx = await producer.transaction();
    try {
      await sendInTransaction(tx, records);
      if (consumed !== undefined) {
        await tx.sendOffsets({
          consumerGroupId: options.groupId,
          topics: [{ topic: consumed.topic, partitions: [{ partition, offset: consumed.nextOffset }] }],
        });
      }
      await tx.commit();
    } catch (err) {
      await tx.abort().catch(() => undefined);
      // The task's in-memory state ran ahead of what was committed: rebuild it from the changelog.
      await release(partition);
      throw err;
    }
    // After the try: whatever an observer does, a committed transaction is never aborted.
    options.onTransaction?.({ partition, durationMs: performance.now() - began, records: records.length });
  }

  // Asked to stop before joining: never join, so that the group does not rebalance twice for nothing.
  if (stopping.signal.aborted) return { ownedPartitions: () => [], crashed, stop: () => Promise.resolve() };
  await consumer.connect();
  await consumer.subscribe({ topics: inputTopics, fromBeginning: true });
  /** The assignment of the latest generation: a partition is acquired only while it is assigned. */
  let assigned = new Set<number>();
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    const previous = assigned;
    // Partition numbers: the co-partitioned assignor gives every input topic's partition p to one member.
    assigned = new Set(inputTopics.flatMap((topic) => event.payload.memberAssignment[topic] ?? []));
    for (const partition of new Set([...previous, ...producers.keys()])) {
      // Through the partition's lock: a batch in flight finishes (or fails, fenced), and an acquisition in
      // flight completes, before the partition's state goes.
      if (!assigned.has(partition))
        void withPartition(partition, async () => {
          const owned = producers.has(partition);
          await release(partition);
          if (owned) log?.info({ partition }, 'partition revoked');
        });
    }
    // Acquire new partitions now rather than at their first batch: fencing aborts what a crashed owner left
    // open, which would otherwise hold back read_committed readers of the outputs until its timeout.
    for (const partition of assigned) {
      void withPartition(partition, async () => {
        if (producers.has(partition) || !assigned.has(partition) || stopping.signal.aborted) return;
        await acquire(partition);
      }).catch((err: unknown) => {
        if (!stopping.signal.aborted)
          log?.warn({ err, partition }, 'acquiring a partition failed; retried at its next batch');
      });
    }
  });
  consumer.on(consumer.events.CRASH, (event) => {
    if (!event.payload.restart) crash(event.payload.error);
  });
  // A fetch of nothing but aborted records and markers never reaches eachBatch (kafkajs moves its own
  // position past it), so nothing would commit past it until the partition's next record: a lag that
  // stays after an aborted transaction at the end of an input. Right behind what the state has consumed,
  // such a batch is committed alone, offsets only: it holds nothing the state could fold.
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    const { topic, partition, batchSize, firstOffset, lastOffset } = payload;
    if (batchSize !== 0 || firstOffset === null || !inputTopics.includes(topic)) return;
    const next = BigInt(lastOffset) + 1n;
    void withPartition(partition, async () => {
      if (!producers.has(partition) || stopping.signal.aborted) return;
      if (consumedPositions.position(topic, partition) !== BigInt(firstOffset)) return;
      await commit(partition, [], { topic, nextOffset: next.toString() });
      consumedPositions.consumed(topic, partition, next);
    }).catch((err: unknown) => {
      if (!stopping.signal.aborted && !isOwnershipLost(err))
        log?.warn(
          { err, partition, topic },
          'committing past aborted records failed; committed with the next batch',
        );
    });
  });

  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    // Partitions are independent (own state, own transactional producer, own lock), so their
    // transactions can be in flight together instead of queueing behind one another's round trips.
    partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 4,
    eachBatch: async (payload: EachBatchPayload) => {
      const { batch } = payload;
      if (!payload.isRunning() || payload.isStale() || batch.messages.length === 0) return;
      const partition = batch.partition;
      try {
        const work = withPartition(partition, async () => {
          if (stopping.signal.aborted) return;
          if (!producers.has(partition)) {
            // A batch fetched before a rebalance took the partition away: acquiring it would fence the new
            // owner. It is left unresolved; the owner processes it.
            if (!assigned.has(partition)) return;
            await acquire(partition);
          }
          // What the state has consumed (the previous owner's commits, this instance's own batches) is not
          // processed again, wherever kafkajs fetched from; a batch wholly behind it moves the consumer on.
          const fresh = consumedPositions.unconsumed(batch.topic, partition, batch.messages);
          if (fresh.length === 0) {
            const at = consumedPositions.position(batch.topic, partition);
            if (at !== undefined) consumer.seek({ topic: batch.topic, partition, offset: at.toString() });
            return;
          }
          const messages = fresh.map((m) => fromKafkaMessage(batch.topic, partition, m));
          // A task that fails partway through a batch has folded part of it: its state goes, and the retry
          // restores it from the changelog instead of folding that part twice.
          const records = await task.process(partition, messages).catch(async (err: unknown) => {
            await release(partition);
            throw err;
          });
          const last = batch.messages[batch.messages.length - 1]!.offset;
          // Past the batch's last offset, which counts the commit markers and aborted records after its
          // last message (as the Java consumer's position does): committing the last message's offset + 1
          // would leave a transactional input (the identity topic) a marker behind, a lag of 1 for ever.
          const next = BigInt(batch.lastOffset()) + 1n;
          await commit(partition, records, { topic: batch.topic, nextOffset: next.toString() });
          consumedPositions.consumed(batch.topic, partition, next);
          payload.resolveOffset(last);
          lastInput.set(partition, Date.now());
          if (batch.topic === inputTopic) {
            if (batch.offsetLag() === '0') behind.delete(partition);
            else behind.add(partition);
          }
        });
        // The partition may be restoring (acquired at the group's join, or just above): seconds to minutes.
        await heartbeatingWhile(work, () => payload.heartbeat(), heartbeatInterval);
      } catch (err) {
        // Stopped mid-batch: nothing of it was committed, so whoever owns the partition next processes it.
        // Failing it would make kafkajs retry it, or restart the consumer that stop() is disconnecting.
        if (stopping.signal.aborted) return;
        // Fenced or expired (ownership.ts): the transaction was aborted and the partition released; the
        // batch stays unresolved, so it is fetched again from the committed offset, by this instance after
        // acquiring the partition anew if it is still assigned, else by its new owner.
        if (isOwnershipLost(err)) {
          log?.warn(
            { partition, topic: batch.topic, reason: (err as Error).message },
            "partition's transactions lost (fenced or expired); processed again from its committed offset",
          );
          return;
        }
        throw err;
      }
      await payload.heartbeat();
    },
  });

  const idleMs = options.idleFlushMs;
  const idleTimer =
    idleMs && task.idle
      ? setInterval(
          () => {
            for (const partition of producers.keys()) {
              const last = lastInput.get(partition) ?? 0;
              if (Date.now() - last < idleMs || behind.has(partition)) continue;
              lastInput.set(partition, Date.now());
              void withPartition(partition, async () => {
                if (!producers.has(partition)) return;
                const records = await task.idle!(partition);
                if (records.length > 0) await commit(partition, records, undefined);
              }).catch((err: unknown) =>
                log?.warn({ err, partition }, 'idle flush failed; state rebuilt from the changelog'),
              );
            }
          },
          Math.max(100, Math.floor(idleMs / 2)),
        )
      : undefined;

  let stopped: Promise<void> | undefined;
  function stop(): Promise<void> {
    stopped ??= (async () => {
      stopping.abort();
      if (idleTimer) clearInterval(idleTimer);
      // Waits for the batches in flight, which give up their restores at once; then leaves the group.
      await consumer.disconnect();
      // Restores started by an assignment run outside any batch: wait until they noticed the stop.
      await chains.settled();
      for (const partition of [...producers.keys()]) await release(partition);
    })();
    return stopped;
  }
  running = true;
  if (stopping.signal.aborted) await stop();

  return {
    ownedPartitions: () => [...producers.keys()].sort((a, b) => a - b),
    crashed,
    stop,
  };
}

/**
 * Sends records within an open transaction, acknowledged by every in-sync replica: all topics in one
 * request per chunk of at most MAX_SEND_BYTES (a round trip per request, not per topic and chunk).
 */
export async function sendInTransaction(
  tx: Pick<Transaction, 'sendBatch'>,
  records: readonly OutputRecord[],
): Promise<void> {
  for (const chunk of chunkBySize(records, MAX_SEND_BYTES)) {
    const byTopic = new Map<string, OutputRecord[]>();
    for (const r of chunk) {
      const list = byTopic.get(r.topic);
      if (list) list.push(r);
      else byTopic.set(r.topic, [r]);
    }
    await tx.sendBatch({
      acks: -1,
      topicMessages: [...byTopic].map(([topic, list]) => ({
        topic,
        messages: list.map((r) => ({
          key: r.key,
          value: r.value,
          ...(r.partition !== undefined ? { partition: r.partition } : {}),
          ...(r.headers ? { headers: { ...r.headers } } : {}),
        })),
      })),
    });
  }
}

/**
 * Reads one changelog partition from its start to its end as of now, read committed, through a fresh
 * consumer group. The end is the last stable offset (kafkajs' admin lists offsets read committed): after
 * the fence, everything the partition's transactions committed. The read ends only there, or when `stopped`
 * aborts: one cut short (say after a quiet while, during a failover) would restore a state behind what was
 * committed with the group's offsets, silently.
 *
 * The last offsets are often transaction markers, and a fetch of markers or aborted records alone never
 * reaches `eachBatch`; kafkajs reports each fetched batch's last offset, those included, in its
 * END_BATCH_PROCESS event (consumer/runner.js), which moves the position past them, as the Java
 * consumer's position moves.
 */
export async function readChangelogPartition(
  kafka: ReturnType<typeof createKafka>,
  topic: string,
  partition: number,
  stopped: AbortSignal,
): Promise<IncomingMessage[]> {
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect());
  const end = BigInt(offsets.find((o) => o.partition === partition)?.high ?? '0');
  const start = BigInt(offsets.find((o) => o.partition === partition)?.low ?? '0');
  if (end <= start) return [];

  const reader = kafka.consumer({
    groupId: `ciclo-restore-${topic}-${partition}-${process.pid}-${Date.now()}`,
    readUncommitted: false,
    allowAutoTopicCreation: false,
  });
  const records: IncomingMessage[] = [];
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  stopped.addEventListener('abort', finish, { once: true });
  try {
    await reader.connect();
    if (stopped.aborted) return [];
    reader.on(reader.events.END_BATCH_PROCESS, ({ payload }) => {
      if (payload.partition === partition && BigInt(payload.lastOffset) + 1n >= end) finish();
    });
    await reader.subscribe({ topics: [topic], fromBeginning: true });
    await reader.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        if (batch.partition !== partition) {
          reader.pause([{ topic, partitions: [batch.partition] }]);
          return;
        }
        for (const m of batch.messages) records.push(fromKafkaMessage(topic, partition, m));
        return Promise.resolve();
      },
    });
    await done;
    if (stopped.aborted) return [];
    return records;
  } finally {
    stopped.removeEventListener('abort', finish);
    await reader.disconnect().catch(() => undefined);
  }
}
