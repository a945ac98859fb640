/**
 * One-off transactional writes that must not overlap another process doing the same work: a transactional
 * producer under a fixed id. Opening it fences whoever held the id before (InitProducerId: their open
 * transaction is aborted, or completed if it was committing, before this one may go on), and a holder fenced
 * in turn fails at its next commit. Reads go through read_committed consumers, so what is read after opening
 * includes every commit of a fenced holder and nothing it left open.
 *
 * Consumes: one partition of a topic at a time, from its start to its end as of the read. Produces: the
 * records given, each `commit` one transaction (all or nothing), acknowledged by every in-sync replica.
 */
import type { Producer } from 'kafkajs';
import type { Logger } from '../log';
import { createKafka } from './client';
import { readChangelogPartition, sendInTransaction, type OutputRecord } from './transactional-processor';
import type { IncomingMessage } from './types';

export interface FencedTransactions {
  /** Every committed record of the partition, oldest first. Gives up with what it has when `signal` aborts. */
  read(topic: string, partition: number): Promise<readonly IncomingMessage[]>;
  /** Writes the records in one transaction; throws when another holder of the id fenced this one. */
  commit(records: readonly OutputRecord[]): Promise<void>;
  close(): Promise<void>;
}

export async function openFencedTransactions(options: {
  readonly brokers: readonly string[];
  readonly transactionalId: string;
  readonly log?: Logger;
  readonly signal?: AbortSignal;
}): Promise<FencedTransactions> {
  const kafka = createKafka({
    brokers: options.brokers,
    clientId: options.transactionalId,
    ...(options.log ? { log: options.log } : {}),
  });
  const producer: Producer = kafka.producer({
    transactionalId: options.transactionalId,
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  try {
    const fence = await producer.transaction(); // InitProducerId: the previous holder is fenced here
    await fence.abort();
  } catch (err) {
    await producer.disconnect().catch(() => undefined);
    throw err;
  }
  const signal = options.signal ?? new AbortController().signal;
  return {
    read: (topic, partition) => readChangelogPartition(kafka, topic, partition, signal),
    async commit(records) {
      const tx = await producer.transaction();
      try {
        await sendInTransaction(tx, records);
        await tx.commit();
      } catch (err) {
        await tx.abort().catch(() => undefined);
        throw err;
      }
    },
    close: () => producer.disconnect(),
  };
}
