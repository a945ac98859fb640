/**
 * What the processor did with its input, in its log: every outcome of ingesting a record is counted by the
 * partition (partition.ts `PartitionCounters`: applied, duplicate, late by reason, clamped, ignored, records
 * of an unopened lane), and nothing is dropped without a count. A batch that applied touchpoints late, or
 * bounded a clock, says so at once (warn); the totals are logged every OUTCOMES_LOG_MS while they move.
 */
import type { Logger } from '../../infra/log';
import { emptyCounters, type PartitionCounters, type PartitionLifecycle } from '../domain/partition';
import { addCounters } from '../domain/partition-counters';

export const OUTCOMES_LOG_MS = 30_000;

/** The counters of all partitions, summed. */
export function totalOutcomes(partitions: Iterable<PartitionLifecycle>): PartitionCounters {
  const sum = emptyCounters();
  for (const p of partitions) addCounters(sum, p.counters);
  return sum;
}

/** The outcomes that mean the result may differ from the truth, or the input was bent to fit. */
const NOTABLE = [
  'late',
  'lateBehindCustomer',
  'lateBehindInactivity',
  'clamped',
  'unopenedLane',
  'lanesExpired',
  'handoffsMissing',
] as const;

/** Takes a partition's counters before a batch; the function it returns logs what the batch added. */
export function noteNotable(log: Logger | undefined, partition: number, p: PartitionLifecycle): () => void {
  if (!log) return () => undefined;
  const before = NOTABLE.map((k) => p.counters[k]);
  return () => {
    const added: Partial<Record<(typeof NOTABLE)[number], number>> = {};
    let any = false;
    NOTABLE.forEach((k, i) => {
      const n = p.counters[k] - before[i]!;
      if (n > 0) {
        added[k] = n;
        any = true;
      }
    });
    if (any)
      log.warn(
        { partition, ...added, eventTimeLimit: p.eventTimeLimit },
        'touchpoints applied late or bounded, or import lanes expired (docs/event-time.md)',
      );
  };
}

/** Logs the totals every OUTCOMES_LOG_MS while they change; returns the function that stops it. */
export function watchOutcomes(log: Logger, partitions: () => Iterable<PartitionLifecycle>): () => void {
  let last = '';
  const timer = setInterval(() => {
    const list = [...partitions()];
    const totals = totalOutcomes(list);
    const signature = JSON.stringify(totals);
    if (signature === last) return;
    last = signature;
    const openLanes = Math.max(0, ...list.map((p) => p.openLanes));
    log.info({ ...totals, openLanes, partitions: list.length }, 'ingest outcomes since start');
  }, OUTCOMES_LOG_MS);
  timer.unref();
  return () => clearInterval(timer);
}
