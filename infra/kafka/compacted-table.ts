/**
 * A compacted topic read as a table: every key's latest value, held in memory and kept current by a
 * consumer that reads the topic from its start and follows it (as Kafka Streams' GlobalKTable does). It
 * consumes in a group of its own that never commits, so every start reads the topic whole. `catchUp()`
 * waits until every record written before the call has been read; `write()` produces through an idempotent
 * producer (acks from all in-sync replicas) and applies the records here as soon as Kafka has them.
 */
import { randomBytes } from 'node:crypto';
import { CicloError } from '../errors';
import type { Logger } from '../log';
import { createKafka } from './client';
import { connectProducer, type MessageProducer } from './producer';

export interface CompactedTable {
  get(key: string): Buffer | undefined;
  /** The keys that hold a value now. */
  keys(): IterableIterator<string>;
  readonly size: number;
  /** Waits until every record written to the topic before this call has been read (TIMEOUT past `timeoutMs`). */
  catchUp(timeoutMs?: number): Promise<void>;
  /** Writes the records (value null: a tombstone) and resolves once Kafka has them. */
  write(records: readonly { key: string; value: Buffer | null; partition?: number }[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * A partition whose last records were compacted away has an end offset no record reaches: once the consumer
 * is in its group, a partition still short of its end that gave no record for this long counts as read.
 */
const QUIET_MS = 1000;

export async function openCompactedTable(options: {
  brokers: readonly string[];
  topic: string;
  clientId: string;
  log?: Logger;
  /** Whether this process writes to the table (a producer is connected only then). */
  writable?: boolean;
  /** How long the first read of the whole topic may take (default 60 s). */
  loadTimeoutMs?: number;
}): Promise<CompactedTable> {
  const { topic } = options;
  const kafka = createKafka({
    brokers: options.brokers,
    clientId: options.clientId,
    ...(options.log ? { log: options.log } : {}),
  });
  const admin = kafka.admin();
  await admin.connect();
  const rows = new Map<string, Buffer>();
  /** Per partition: the offset after the last record read. */
  const read = new Map<number, number>();
  const lastSeen = new Map<number, number>();
  const consumer = kafka.consumer({
    groupId: `${options.clientId}-table-${randomBytes(6).toString('hex')}`,
    readUncommitted: false,
    allowAutoTopicCreation: false,
    maxWaitTimeInMs: 100,
  });
  let joinedAt: number | undefined;
  consumer.on(consumer.events.GROUP_JOIN, () => {
    joinedAt = Date.now();
  });
  const apply = (key: string, value: Buffer | null): void => {
    if (value === null || value.length === 0) rows.delete(key);
    else rows.set(key, value);
  };
  let producer: MessageProducer | undefined;
  let closed = false;
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) if (m.key) apply(m.key.toString('utf8'), m.value);
        read.set(batch.partition, Number(batch.lastOffset()) + 1);
        lastSeen.set(batch.partition, Date.now());
        await Promise.resolve();
      },
    });
    if (options.writable)
      producer = await connectProducer({
        brokers: options.brokers,
        clientId: options.clientId,
        ...(options.log ? { log: options.log } : {}),
      });
  } catch (err) {
    await consumer.disconnect().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    throw err;
  }

  async function catchUp(timeoutMs = 30_000): Promise<void> {
    const started = Date.now();
    const ends = await admin.fetchTopicOffsets(topic);
    for (;;) {
      const now = Date.now();
      const behind = ends.filter((e) => {
        if ((read.get(e.partition) ?? Number(e.low)) >= Number(e.high)) return false;
        const quietSince = Math.max(started, joinedAt ?? Infinity, lastSeen.get(e.partition) ?? 0);
        return now - quietSince < QUIET_MS;
      });
      if (behind.length === 0) return;
      if (now - started > timeoutMs)
        throw new CicloError(
          'TIMEOUT',
          `${topic}: not read to its end within ${timeoutMs} ms (partitions ${behind.map((e) => e.partition).join(', ')})`,
          { retriable: true },
        );
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  const table: CompactedTable = {
    get: (key) => rows.get(key),
    keys: () => rows.keys(),
    get size() {
      return rows.size;
    },
    catchUp,
    async write(records) {
      if (!producer) throw new Error(`${topic}: this table was opened read-only`);
      if (records.length === 0) return;
      await producer.send(
        topic,
        records.map((r) => ({
          key: r.key,
          value: r.value,
          ...(r.partition !== undefined ? { partition: r.partition } : {}),
        })),
      );
      for (const r of records) apply(r.key, r.value);
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.allSettled([consumer.disconnect(), admin.disconnect(), producer?.close()]);
    },
  };
  await catchUp(options.loadTimeoutMs ?? 60_000).catch(async (err: unknown) => {
    await table.close();
    throw err;
  });
  return table;
}
