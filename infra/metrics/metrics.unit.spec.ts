import { cachedFor } from './cache';
import { checkLabelNames, checkMetricName, snakeCase } from './names';
import { createMetrics } from './registry';

describe('metric names', () => {
  it('takes ciclo_ snake case, counters ending in _total', () => {
    expect(checkMetricName('ciclo_processor_stage_changes_total', 'counter')).toBe(
      'ciclo_processor_stage_changes_total',
    );
    expect(checkMetricName('ciclo_consumer_lag', 'gauge')).toBe('ciclo_consumer_lag');
    expect(checkMetricName('ciclo_projector_insert_duration_seconds', 'histogram')).toBeTruthy();
  });

  it('refuses names that break a rule, naming each rule broken', () => {
    expect(() => checkMetricName('processor_stage_changes', 'counter')).toThrow(
      /starts with ciclo_, ends in _total/,
    );
    expect(() => checkMetricName('ciclo_consumerLag', 'gauge')).toThrow(/lowercase snake case/);
    expect(() => checkMetricName('ciclo_lag_total', 'gauge')).toThrow(/only if a counter/);
    expect(() => checkMetricName('ciclo_insert_ms', 'histogram')).toThrow(/seconds/);
    expect(() => checkLabelNames('ciclo_x', ['le'])).toThrow(/label le/);
    expect(() => checkLabelNames('ciclo_x', ['Topic'])).toThrow(/label Topic/);
  });

  it('turns a counter key into a label value', () => {
    expect(snakeCase('lateBehindCustomer')).toBe('late_behind_customer');
    expect(snakeCase('invalid')).toBe('invalid');
  });
});

describe('the registry in Prometheus text format', () => {
  it('writes counters, observed series and histograms with HELP, TYPE and labels', async () => {
    const metrics = createMetrics();
    metrics
      .counter({ name: 'ciclo_things_total', help: 'Things', labelNames: ['kind'] })
      .inc({ kind: 'a' }, 2);
    let read = [
      { labels: { group: 'g', topic: 't', partition: 0 }, value: 5 },
      { labels: { group: 'g', topic: 't', partition: 1 }, value: 0 },
    ];
    metrics.observed(
      {
        name: 'ciclo_consumer_lag',
        type: 'gauge',
        help: 'Lag',
        labelNames: ['group', 'topic', 'partition'],
      },
      () => read,
    );
    metrics
      .histogram({ name: 'ciclo_step_duration_seconds', help: 'Step', buckets: [0.1, 1] })
      .observe({}, 0.5);
    const text = await metrics.exposition();
    expect(text).toContain('# HELP ciclo_things_total Things\n# TYPE ciclo_things_total counter\n');
    expect(text).toContain('ciclo_things_total{kind="a"} 2\n');
    expect(text).toContain('# TYPE ciclo_consumer_lag gauge\n');
    expect(text).toContain('ciclo_consumer_lag{group="g",topic="t",partition="0"} 5\n');
    expect(text).toContain('ciclo_consumer_lag{group="g",topic="t",partition="1"} 0\n');
    expect(text).toContain('ciclo_step_duration_seconds_bucket{le="0.1"} 0\n');
    expect(text).toContain('ciclo_step_duration_seconds_bucket{le="1"} 1\n');
    expect(text).toContain('ciclo_step_duration_seconds_count 1\n');
    expect(metrics.contentType).toMatch(/^text\/plain; version=0\.0\.4/);

    // A series no longer read (a partition revoked) is gone at the next scrape.
    read = [read[0]!];
    expect(await metrics.exposition()).not.toContain('partition="1"');
  });

  it('reads an observed counter as it is now, also when it went down (a reset to Prometheus)', async () => {
    const metrics = createMetrics();
    let value = 7;
    metrics.observed({ name: 'ciclo_seen_total', type: 'counter', help: 'Seen' }, () => [
      { labels: {}, value },
    ]);
    expect(await metrics.exposition()).toContain('ciclo_seen_total 7\n');
    value = 2;
    expect(await metrics.exposition()).toContain('ciclo_seen_total 2\n');
  });

  it('escapes label values', async () => {
    const metrics = createMetrics();
    metrics.counter({ name: 'ciclo_odd_total', help: 'Odd', labelNames: ['v'] }).inc({ v: 'a"b\\c\nd' });
    expect(await metrics.exposition()).toContain('ciclo_odd_total{v="a\\"b\\\\c\\nd"} 1\n');
  });

  it('prefixes the process metrics with ciclo_', async () => {
    const text = await createMetrics({ processMetrics: true }).exposition();
    expect(text).toContain('ciclo_process_cpu_user_seconds_total');
    expect(text).toContain('ciclo_nodejs_heap_size_used_bytes');
  });
});

describe('a value cached for a while', () => {
  it('loads once per period, shares a load in flight and forgets a failure', async () => {
    let t = 0;
    let loads = 0;
    let fail = false;
    const get = cachedFor(
      5000,
      () => {
        loads += 1;
        return fail ? Promise.reject(new Error('down')) : Promise.resolve(loads);
      },
      () => t,
    );
    expect(await Promise.all([get(), get()])).toEqual([1, 1]);
    t = 4999;
    expect(await get()).toBe(1);
    t = 5000;
    fail = true;
    await expect(get()).rejects.toThrow('down');
    fail = false;
    expect(await get()).toBe(3); // the failure was not kept, though its period has not passed
    expect(loads).toBe(3);
  });
});
