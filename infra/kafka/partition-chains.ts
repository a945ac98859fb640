/**
 * One chain of work per partition: work on a partition starts when the work queued before it on that
 * partition has ended (failed or not), so a batch and an idle flush never share a transaction. Shared by
 * both clients' exactly-once runners.
 */
export interface PartitionChains {
  /** Queues `work` on the partition's chain; resolves or rejects as `work` does. */
  run<T>(partition: number, work: () => Promise<T>): Promise<T>;
  /** Resolves once every chain's queued work has ended. */
  settled(): Promise<void>;
}

export function partitionChains(): PartitionChains {
  const tails = new Map<number, Promise<unknown>>();
  return {
    run(partition, work) {
      const run = (tails.get(partition) ?? Promise.resolve()).then(work, work);
      tails.set(
        partition,
        run.catch(() => undefined),
      );
      return run;
    },
    async settled() {
      await Promise.all([...tails.values()]);
    },
  };
}
