/**
 * The commits of a consumer that hands batches over (consumer.ts `runHandedOver`): each batch's end moves
 * its partition's offset (ordered-commits.ts), and one request at a time carries every offset moved since
 * the last.
 *
 * A refused commit is sent again until it succeeds, a later offset of its partition replaces it, or the
 * group is joined anew (which fetches again from the committed offsets). Nothing else would send it: at the
 * end of the input no batch follows, and the group's lag would stay above zero for ever, as it did through a
 * rolling restart of the brokers (docs/clusters.md).
 */
import type { Logger } from '../log';
import { OrderedCommits, type BatchTicket } from './ordered-commits';

export interface PartitionOffset {
  readonly topic: string;
  readonly partition: number;
  /** The offset of the next record to consume, as Kafka's OffsetCommit names it. */
  readonly offset: string;
}

export interface HandedOverCommitsOptions {
  /** Sends one OffsetCommit (kafkajs `consumer.commitOffsets`). */
  commitOffsets(offsets: PartitionOffset[]): Promise<void>;
  log?: Logger;
  /** The wait before the first retry of a refused commit; it doubles up to `retryMaxMs`. */
  retryMs?: number;
  retryMaxMs?: number;
  /** Attempts once stopping, after which what is left is fetched again by the partition's next owner. */
  attemptsWhenStopping?: number;
}

export interface HandedOverCommits {
  take(topic: string, partition: number, next: bigint): BatchTicket;
  /** The batch of `ticket` ends when `done` settles: its offsets are committed, or its failure is kept. */
  ends(ticket: BatchTicket, done: Promise<void>): void;
  /** A failed batch fails the next one taken: kafkajs restarts the consumer, which joins anew. */
  throwIfFailed(): void;
  /** The group was joined (a rebalance, a restart): fetching starts again from the committed offsets. */
  rejoined(): void;
  /**
   * The consumer stops: waits for every batch handed over to end and for their offsets to be committed, a
   * refused commit now given up after `attemptsWhenStopping` attempts.
   */
  stopped(): Promise<void>;
}

const keyOf = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

export function handedOverCommits(options: HandedOverCommitsOptions): HandedOverCommits {
  const { log } = options;
  const retryMs = options.retryMs ?? 200;
  const retryMaxMs = options.retryMaxMs ?? 5_000;
  const attemptsWhenStopping = options.attemptsWhenStopping ?? 5;
  const commits = new OrderedCommits();
  const moved = new Map<string, PartitionOffset>();
  const ending = new Set<Promise<void>>();
  let generation = 0;
  let stopping = false;
  let committing: Promise<void> | undefined;
  let failure: Error | undefined;

  /** Puts refused offsets back unless a later one of their partition or a new generation came meanwhile. */
  const requeue = (offsets: readonly PartitionOffset[], sentIn: number): void => {
    if (sentIn !== generation) return;
    for (const o of offsets) {
      const key = keyOf(o.topic, o.partition);
      if (!moved.has(key)) moved.set(key, o);
    }
  };

  const commit = (): Promise<void> =>
    (committing ??= (async () => {
      let refused = 0;
      while (moved.size > 0) {
        const offsets = [...moved.values()];
        const sentIn = generation;
        moved.clear();
        try {
          await options.commitOffsets(offsets);
          refused = 0;
        } catch (err) {
          refused += 1;
          if (stopping && refused >= attemptsWhenStopping) {
            log?.error(
              { err, offsets, attempts: refused },
              "committing offsets failed while stopping; each partition's next owner consumes them again",
            );
            moved.clear();
            return;
          }
          log?.warn({ err, attempt: refused }, 'committing offsets failed; sending them again');
          requeue(offsets, sentIn);
          await new Promise((r) => setTimeout(r, Math.min(retryMaxMs, retryMs * 2 ** (refused - 1))));
        }
      }
    })().finally(() => (committing = undefined)));

  return {
    take: (topic, partition, next) => commits.take(topic, partition, next),
    ends(ticket, done) {
      const end = done.then(
        () => {
          const offset = commits.done(ticket);
          if (offset === undefined) return;
          moved.set(keyOf(ticket.topic, ticket.partition), {
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
    throwIfFailed() {
      if (failure) throw failure;
    },
    rejoined() {
      commits.newGeneration();
      generation += 1;
      // What was moved and not yet committed is fetched again from the committed offsets; sent now, it could
      // move back the offset of a partition another member owns and has committed past.
      moved.clear();
      failure = undefined;
    },
    async stopped() {
      stopping = true;
      while (ending.size > 0) await Promise.allSettled([...ending]);
      await commit();
    },
  };
}
