/**
 * Prometheus metrics through prom-client, behind ciclo's own small interface: the only file that imports
 * prom-client. A component defines its metrics on a `Metrics` registry (names checked by names.ts) and
 * either updates them as things happen (counters, histograms) or hands over a function that reads them
 * from state it keeps anyway, when scraped (`observed`: the processor's per-partition counters, the
 * collector's, consumer lag). `exposition()` is the text format Prometheus scrapes (version 0.0.4).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { checkLabelNames, checkMetricName, METRIC_PREFIX } from './names';

export type Labels = Readonly<Record<string, string | number>>;

/** One series' value, read at scrape time. */
export interface Sample {
  readonly labels: Labels;
  readonly value: number;
}

export interface MetricSpec {
  readonly name: string;
  readonly help: string;
  readonly labelNames?: readonly string[];
}

export interface CounterMetric {
  inc(labels?: Labels, by?: number): void;
}

export interface HistogramMetric {
  observe(labels: Labels, value: number): void;
}

export interface Metrics {
  counter(spec: MetricSpec): CounterMetric;
  /** `buckets`: upper bounds, in the metric's unit (seconds for durations). */
  histogram(spec: MetricSpec & { readonly buckets: readonly number[] }): HistogramMetric;
  /**
   * A metric whose series are read when scraped. A counter's values must only grow while its series
   * exists (a series that restarts from 0 is a counter reset to Prometheus, which rate() takes in its stride).
   */
  observed(
    spec: MetricSpec & { readonly type: 'counter' | 'gauge' },
    read: () => Iterable<Sample> | Promise<Iterable<Sample>>,
  ): void;
  /** Every metric in Prometheus' text format. */
  exposition(): Promise<string>;
  readonly contentType: string;
}

/** Latency buckets in seconds, from a fast local round trip to a ClickHouse or broker in trouble. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;

/**
 * `processMetrics`: also the Node process' own (CPU, memory, heap, event loop lag, GC), as
 * `ciclo_process_*` and `ciclo_nodejs_*`.
 */
export function createMetrics(options: { processMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  const labelNamesOf = (spec: MetricSpec): string[] => [...checkLabelNames(spec.name, spec.labelNames ?? [])];
  return {
    counter(spec) {
      const counter = new Counter({
        name: checkMetricName(spec.name, 'counter'),
        help: spec.help,
        labelNames: labelNamesOf(spec),
        registers: [registry],
      });
      return { inc: (labels = {}, by = 1) => counter.inc(labels, by) };
    },
    histogram(spec) {
      const histogram = new Histogram({
        name: checkMetricName(spec.name, 'histogram'),
        help: spec.help,
        labelNames: labelNamesOf(spec),
        buckets: [...spec.buckets],
        registers: [registry],
      });
      return { observe: (labels, value) => histogram.observe(labels, value) };
    },
    observed(spec, read) {
      const config = {
        name: checkMetricName(spec.name, spec.type),
        help: spec.help,
        labelNames: labelNamesOf(spec),
        registers: [registry],
      };
      // prom-client calls collect() before each scrape: the series are replaced by what read() says now,
      // so a series that is no longer read (a partition revoked) is gone.
      if (spec.type === 'counter') {
        new Counter({
          ...config,
          async collect() {
            const samples = await read();
            this.reset();
            for (const s of samples) this.inc(s.labels, s.value);
          },
        });
      } else {
        new Gauge({
          ...config,
          async collect() {
            const samples = await read();
            this.reset();
            for (const s of samples) this.set(s.labels, s.value);
          },
        });
      }
    },
    exposition: () => registry.metrics(),
    contentType: registry.contentType,
  };
}
