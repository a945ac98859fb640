/**
 * Replays touchpoints (in arrival order) through the same partition processors the runtime uses, routed
 * to partitions exactly as Kafka routes them, and returns the stage changes: what `ciclo lifecycle replay`
 * prints, and what the runtime must have produced for the same input.
 */
import type { StageChanged } from '../../schemas/outputs';
import { touchpointKey } from '../../schemas/topics';
import type { Touchpoint } from '../../schemas/touchpoint';
import type { StageModel } from './model';
import { PartitionLifecycle, type PartitionCounters } from './partition';
import { partitionFor } from './partitioner';

export interface ReplayOptions {
  readonly partitions: number;
  readonly gracePeriodMs: number;
}

export interface ReplayResult {
  readonly stageChanges: StageChanged[];
  readonly counters: PartitionCounters;
  readonly partitions: PartitionLifecycle[];
}

export function replay(
  touchpoints: Iterable<Touchpoint>,
  model: StageModel,
  options: ReplayOptions,
): ReplayResult {
  const partitions = Array.from(
    { length: options.partitions },
    () => new PartitionLifecycle(model, { gracePeriodMs: options.gracePeriodMs }),
  );
  const stageChanges: StageChanged[] = [];
  for (const tp of touchpoints) {
    const p = partitions[partitionFor(touchpointKey(tp), options.partitions)]!;
    p.ingest(tp);
    stageChanges.push(...p.takeOutput().stageChanges);
  }
  for (const p of partitions) {
    p.flush();
    stageChanges.push(...p.takeOutput().stageChanges);
  }
  const counters = partitions.reduce<PartitionCounters>(
    (sum, p) => {
      for (const k of Object.keys(sum) as (keyof PartitionCounters)[]) sum[k] += p.counters[k];
      return sum;
    },
    { accepted: 0, applied: 0, duplicates: 0, ignored: 0, late: 0, merges: 0, stageChanges: 0 },
  );
  return { stageChanges, counters, partitions };
}

/** Stage changes in a canonical order, for comparing runs (the order across customers is not defined). */
export function canonicalOrder(changes: readonly StageChanged[]): StageChanged[] {
  return [...changes].sort((a, b) =>
    a.customerId < b.customerId ? -1 : a.customerId > b.customerId ? 1 : a.sequence - b.sequence,
  );
}
