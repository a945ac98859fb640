/**
 * The projector's Prometheus metrics (docs/metrics.md): its counters since the process started, read when
 * scraped, and how long each insert into ClickHouse took.
 */
import { LATENCY_BUCKETS, type Metrics } from '../../infra/metrics/registry';
import type { ProjectorCounters } from './projector';

/** Every counter of the projector has its metric (metrics.unit.spec.ts checks that none is left out). */
export const PROJECTOR_COUNTER_METRICS: Readonly<
  Record<keyof ProjectorCounters, { readonly name: string; readonly help: string }>
> = {
  received: {
    name: 'ciclo_projector_messages_received_total',
    help: 'Messages consumed from the touchpoint, stage-change and snapshot topics (lane markers left out)',
  },
  inserted: { name: 'ciclo_projector_rows_inserted_total', help: 'Rows inserted into ClickHouse' },
  superseded: {
    name: 'ciclo_projector_snapshots_superseded_total',
    help: 'Snapshots not projected because a later one of the same customer came in the same batch',
  },
  deadLettered: {
    name: 'ciclo_projector_dead_letters_total',
    help: "Messages written to the projector's dead-letter topic (undecodable, invalid, refused as bad data)",
  },
  insertRetries: {
    name: 'ciclo_projector_insert_retries_total',
    help: 'Inserts tried again because ClickHouse was unavailable',
  },
  suppressed: {
    name: 'ciclo_projector_suppressed_total',
    help: 'Messages of ids forgotten by `ciclo forget`, not projected',
  },
  unopened: {
    name: 'ciclo_projector_personal_fields_unopened_total',
    help: 'Touchpoints projected without their personal fields: their key was gone, and no forget names them',
  },
  splitInserts: {
    name: 'ciclo_projector_split_inserts_total',
    help: 'Inserts sent in several blocks because their rows spanned more partitions than one insert may hold',
  },
};

/** Registers the projector's metrics; returns the observer of each insert (its table and seconds). */
export function registerProjectorMetrics(
  metrics: Metrics,
  counters: Readonly<ProjectorCounters>,
): (insert: { table: string; durationMs: number }) => void {
  for (const [key, { name, help }] of Object.entries(PROJECTOR_COUNTER_METRICS))
    metrics.observed({ name, help, type: 'counter' }, () => [
      { labels: {}, value: counters[key as keyof ProjectorCounters] },
    ]);
  const duration = metrics.histogram({
    name: 'ciclo_projector_insert_duration_seconds',
    help: 'Time ClickHouse took to accept one insert (one block of rows), by table',
    labelNames: ['table'],
    buckets: LATENCY_BUCKETS,
  });
  return ({ table, durationMs }) => duration.observe({ table }, durationMs / 1000);
}
