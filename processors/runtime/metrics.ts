/**
 * The processor's Prometheus metrics (docs/metrics.md). The fold's counters (partition-counters.ts) and the
 * task's intake counters (lifecycle-task.ts) live in each partition's state and are read when scraped, one
 * series per partition: they count since this instance opened (restored) the partition, so a partition
 * that moves to another instance, or is rebuilt after a failed transaction, starts again from 0 there,
 * which Prometheus takes as a counter reset (rate() and increase() are right across it; a plain sum over
 * instances drops for a moment). Transactions are counted as they commit, for the life of the process.
 */
import { LATENCY_BUCKETS, type Metrics, type Sample } from '../../infra/metrics/registry';
import type { PartitionCounters } from '../domain/partition-counters';
import type { IntakeCounters } from './lifecycle-task';

/** What the metrics read of a partition's fold (a PartitionLifecycle is one). */
export interface PartitionView {
  readonly counters: Readonly<PartitionCounters>;
  readonly customers: { readonly size: number };
  readonly openLanes: number;
  readonly recentEvents: { readonly remembered: number; readonly shortened: number };
}

export interface ProcessorState {
  readonly partitions: ReadonlyMap<number, PartitionView>;
  readonly intake: ReadonlyMap<number, IntakeCounters>;
}

interface PartitionMetric {
  readonly name: string;
  readonly type: 'counter' | 'gauge';
  readonly help: string;
  /** Labels beyond model and partition. */
  readonly labelNames?: readonly string[];
  /** The partition's series: labels beyond model and partition, and the value. */
  series(p: PartitionView, intake: IntakeCounters | undefined): readonly Sample[];
}

const one = (value: number): readonly Sample[] => [{ labels: {}, value }];
const counted = (name: string, help: string, key: keyof PartitionCounters): PartitionMetric => ({
  name,
  type: 'counter',
  help,
  series: (p) => one(p.counters[key] ?? 0),
});

/**
 * Every fold counter has a metric (`late` as the sum of `ciclo_processor_touchpoints_late_total`'s two
 * reasons); metrics.unit.spec.ts checks that none is left out.
 */
export const PARTITION_METRICS: readonly PartitionMetric[] = [
  {
    name: 'ciclo_processor_touchpoints_in_total',
    type: 'counter',
    help: 'Touchpoints decoded and handed to the fold (a link is counted on every partition it is copied to)',
    series: (_p, intake) => one(intake?.touchpoints ?? 0),
  },
  counted(
    'ciclo_processor_touchpoints_accepted_total',
    'Touchpoints taken in for a customer (not a duplicate on arrival, not without any id)',
    'accepted',
  ),
  counted('ciclo_processor_touchpoints_applied_total', 'Touchpoints folded into a customer', 'applied'),
  counted(
    'ciclo_processor_touchpoints_duplicate_total',
    'Touchpoints dropped as copies: taken within the window of recent events, applied to their customer already, or waiting already',
    'duplicates',
  ),
  counted(
    'ciclo_processor_touchpoints_ignored_total',
    'Touchpoints with no customer to fold into (business-level facts, scores of unknown customers)',
    'ignored',
  ),
  {
    name: 'ciclo_processor_touchpoints_late_total',
    type: 'counter',
    help: 'Touchpoints applied after their customer moved past them (docs/event-time.md), by what it had moved past',
    labelNames: ['reason'],
    series: (p) => [
      { labels: { reason: 'behind_customer' }, value: p.counters.lateBehindCustomer },
      { labels: { reason: 'behind_inactivity' }, value: p.counters.lateBehindInactivity },
    ],
  },
  counted(
    'ciclo_processor_touchpoints_clamped_total',
    "Touchpoints whose event time ran ahead of their record's timestamp and was bounded",
    'clamped',
  ),
  counted(
    'ciclo_processor_touchpoints_unopened_lane_total',
    'Records of an import lane not open here, taken as live traffic',
    'unopenedLane',
  ),
  counted(
    'ciclo_processor_touchpoints_suppressed_total',
    'Touchpoints, links, handoffs and forwards dropped because they name a person forgotten here (ciclo forget)',
    'suppressed',
  ),
  counted(
    'ciclo_processor_touchpoints_forwarded_total',
    'Touchpoints sent on to the partition of the customer their id now belongs to',
    'forwarded',
  ),
  counted('ciclo_processor_stage_changes_total', 'Stage changes emitted', 'stageChanges'),
  counted('ciclo_processor_merges_total', 'Customer profiles merged into another', 'merges'),
  counted(
    'ciclo_processor_identity_conflicts_total',
    'Links to an id that belonged to another customer: re-pointed, not merged',
    'identityConflicts',
  ),
  counted(
    'ciclo_processor_handoffs_missing_total',
    'Links applied without the profile they waited for (late links)',
    'handoffsMissing',
  ),
  counted(
    'ciclo_processor_import_lanes_expired_total',
    'Import lanes closed because they carried nothing for their lease (an import that died)',
    'lanesExpired',
  ),
  {
    name: 'ciclo_processor_dead_letters_total',
    type: 'counter',
    help: 'Input records written to the dead-letter topic, by reason',
    labelNames: ['reason'],
    series: (_p, intake) =>
      Object.entries(intake?.deadLetters ?? {}).map(([reason, value]) => ({ labels: { reason }, value })),
  },
  {
    name: 'ciclo_processor_customers',
    type: 'gauge',
    help: 'Customers held in memory',
    series: (p) => one(p.customers.size),
  },
  {
    name: 'ciclo_processor_recent_events',
    type: 'gauge',
    help: 'Input events remembered to drop their copies (--dedupe-window, --dedupe-max)',
    series: (p) => one(p.recentEvents.remembered),
  },
  {
    name: 'ciclo_processor_recent_events_shortened_total',
    type: 'counter',
    help: 'Generations of recent events forgotten before the window for --dedupe-max: copies later than that are checked against their customer only',
    series: (p) => one(p.recentEvents.shortened),
  },
  {
    name: 'ciclo_processor_open_import_lanes',
    type: 'gauge',
    help: 'Import lanes open (an import running, or one that died and holds the clock until its lease ends)',
    series: (p) => one(p.openLanes),
  },
];

/** The series of one metric over the partitions this instance owns now. */
export function partitionSamples(metric: PartitionMetric, model: string, state: ProcessorState): Sample[] {
  const samples: Sample[] = [];
  for (const [partition, p] of [...state.partitions].sort(([a], [b]) => a - b))
    for (const s of metric.series(p, state.intake.get(partition)))
      samples.push({ labels: { model, partition, ...s.labels }, value: s.value });
  return samples;
}

export interface ProcessorMetrics {
  /** For the transactional runner's onTransaction. */
  readonly onTransaction: (committed: { durationMs: number; records: number }) => void;
}

export function registerProcessorMetrics(
  metrics: Metrics,
  model: string,
  state: ProcessorState,
): ProcessorMetrics {
  for (const metric of PARTITION_METRICS)
    metrics.observed(
      {
        name: metric.name,
        type: metric.type,
        help: metric.help,
        labelNames: ['model', 'partition', ...(metric.labelNames ?? [])],
      },
      () => partitionSamples(metric, model, state),
    );
  const duration = metrics.histogram({
    name: 'ciclo_processor_transaction_duration_seconds',
    help: "Time from beginning a batch's (or idle flush's) transaction to its commit",
    labelNames: ['model'],
    buckets: LATENCY_BUCKETS,
  });
  const written = metrics.counter({
    name: 'ciclo_processor_records_written_total',
    help: 'Records written in committed transactions (stage changes, snapshots, changelog, identity, dead letters)',
    labelNames: ['model'],
  });
  return {
    onTransaction({ durationMs, records }) {
      duration.observe({ model }, durationMs / 1000);
      written.inc({ model }, records);
    },
  };
}
