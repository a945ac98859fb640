import { createMetrics } from '../../infra/metrics/registry';
import type { Touchpoint } from '../../schemas/touchpoint';
import { PartitionLifecycle } from '../domain/partition';
import { COUNTER_KEYS, emptyCounters, type PartitionCounters } from '../domain/partition-counters';
import type { IntakeCounters } from './lifecycle-task';
import { PARTITION_METRICS, registerProcessorMetrics, type PartitionView } from './metrics';
import { loadModel } from './model-file';

const DAY = 86_400_000;
const visit = (eventId: string, customerId: string, day: number): Touchpoint => ({
  eventId,
  type: 'PageViewed',
  customerId,
  occurredAt: day * DAY,
  receivedAt: day * DAY,
  source: { kind: 'api', name: 'test' },
  payload: { path: '/' },
});

const value = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

describe("the processor's metrics", () => {
  it('reads the fold and intake counters of each partition, labelled with model and partition', async () => {
    const model = loadModel('five-stage');
    const p = new PartitionLifecycle(model, { gracePeriodMs: 0 });
    p.ingest(visit('a', 'ann', 10));
    p.ingest(visit('a', 'ann', 10)); // duplicate
    p.ingest(visit('b', 'ann', 5)); // late behind ann's first
    const partitions = new Map([[3, p]]);
    const intake = new Map<number, IntakeCounters>([
      [3, { touchpoints: 3, deadLetters: { undecodable: 2, invalid: 1 } }],
    ]);
    const metrics = createMetrics();
    const observer = registerProcessorMetrics(metrics, 'five-stage', { partitions, intake });
    observer.onTransaction({ durationMs: 40, records: 12 });
    const text = await metrics.exposition();
    const at = '{model="five-stage",partition="3"';
    expect(value(text, `ciclo_processor_touchpoints_in_total${at}}`)).toBe(3);
    expect(value(text, `ciclo_processor_touchpoints_applied_total${at}}`)).toBe(2);
    expect(value(text, `ciclo_processor_touchpoints_duplicate_total${at}}`)).toBe(1);
    expect(value(text, `ciclo_processor_touchpoints_late_total${at},reason="behind_customer"}`)).toBe(1);
    expect(value(text, `ciclo_processor_touchpoints_late_total${at},reason="behind_inactivity"}`)).toBe(0);
    expect(value(text, `ciclo_processor_stage_changes_total${at}}`)).toBe(p.counters.stageChanges);
    expect(p.counters.stageChanges).toBeGreaterThan(0);
    expect(value(text, `ciclo_processor_dead_letters_total${at},reason="undecodable"}`)).toBe(2);
    expect(value(text, `ciclo_processor_dead_letters_total${at},reason="invalid"}`)).toBe(1);
    expect(value(text, `ciclo_processor_customers${at}}`)).toBe(1);
    expect(value(text, 'ciclo_processor_transaction_duration_seconds_sum{model="five-stage"}')).toBe(0.04);
    expect(value(text, 'ciclo_processor_records_written_total{model="five-stage"}')).toBe(12);

    // Revoked: its series are gone.
    partitions.delete(3);
    expect(await metrics.exposition()).not.toContain('partition="3"');
  });

  it('leaves no fold counter out', () => {
    // Each counter gets a value of its own; every value but `late`'s (the sum of its two reasons) is read.
    const keys = COUNTER_KEYS;
    const counters: PartitionCounters = emptyCounters();
    keys.forEach((k, i) => (counters[k] = 1000 + i));
    const view: PartitionView = {
      counters,
      customers: { size: 0 },
      openLanes: 0,
      recentEvents: { remembered: 0, shortened: 0 },
    };
    const read = new Set(PARTITION_METRICS.flatMap((m) => m.series(view, undefined).map((s) => s.value)));
    const missing = keys.filter((k) => k !== 'late' && !read.has(counters[k]!));
    expect(missing).toEqual([]);
  });
});
