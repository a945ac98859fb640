import { createMetrics } from '../metrics/registry';
import { collectorStage, evaluatePipeline, groupStage, type GroupProbe } from './evaluate';
import { processorCountsOf, sumsByMetric } from './scrape';

const lagOf = (group: string, ...lags: number[]): GroupProbe['lag'] =>
  lags.map((lag, partition) => ({ group, topic: 'ciclo.touchpoints', partition, lag }));

const processor = (over: Partial<GroupProbe> = {}): GroupProbe => ({
  stage: 'processor',
  group: 'ciclo-processor-five-stage',
  state: 'Stable',
  members: 1,
  lag: lagOf('ciclo-processor-five-stage', 0, 0),
  ...over,
});
const projector = (over: Partial<GroupProbe> = {}): GroupProbe => ({
  ...processor(),
  stage: 'projector',
  group: 'ciclo-projector',
  lag: lagOf('ciclo-projector', 0),
  ...over,
});

describe('pipeline health', () => {
  it('is healthy when every group is stable with members, whatever the lag', () => {
    const status = evaluatePipeline({
      groups: [processor({ lag: lagOf('ciclo-processor-five-stage', 5, 7) }), projector()],
      processorsExpected: 'ciclo-processor-',
    });
    expect(status.healthy).toBe(true);
    expect(status.stages.map((s) => [s.stage, s.health, s.lag])).toEqual([
      ['collector', 'unknown', undefined],
      ['processor', 'ok', 12],
      ['projector', 'ok', 0],
    ]);
    expect(status.lag).toEqual([
      { group: 'ciclo-processor-five-stage', topic: 'ciclo.touchpoints', partition: 0, lag: 5 },
      { group: 'ciclo-processor-five-stage', topic: 'ciclo.touchpoints', partition: 1, lag: 7 },
      { group: 'ciclo-projector', topic: 'ciclo.touchpoints', partition: 0, lag: 0 },
    ]);
  });

  it('is down where a group has no member, is unknown, or lags past --max-lag; a rebalance only warns', () => {
    expect(groupStage(processor({ state: 'Empty', members: 0 }))).toMatchObject({
      health: 'down',
      detail: 'no member: not running',
    });
    expect(groupStage(projector({ state: 'Dead', members: 0 })).health).toBe('down');
    expect(groupStage(processor({ state: 'PreparingRebalance' })).health).toBe('warn');
    const lagging = processor({ lag: lagOf('g', 600, 500) });
    expect(groupStage(lagging, 1000)).toMatchObject({ health: 'down', lag: 1100 });
    expect(groupStage(lagging, 1100).health).toBe('ok');
    expect(groupStage(processor()).detail).toBe('caught up');

    const status = evaluatePipeline({
      groups: [processor(), projector({ state: 'Empty', members: 0 })],
      processorsExpected: 'ciclo-processor-',
    });
    expect(status.healthy).toBe(false);
  });

  it('is down without any processor group, or without Kafka', () => {
    const none = evaluatePipeline({ groups: [projector()], processorsExpected: 'ns-processor-' });
    expect(none.healthy).toBe(false);
    expect(none.stages[1]).toMatchObject({ stage: 'processor', name: 'ns-processor-*', health: 'down' });
    const noKafka = evaluatePipeline({
      groups: [],
      processorsExpected: 'ciclo-processor-',
      kafkaError: 'connect ECONNREFUSED',
    });
    expect(noKafka.healthy).toBe(false);
    expect(noKafka.stages.filter((s) => s.health === 'down')).toHaveLength(2);
  });

  it("judges the collector by its /health's answer", () => {
    const url = 'http://127.0.0.1:8090';
    expect(collectorStage({ url, status: 200 }).health).toBe('ok');
    expect(collectorStage({ url, status: 503 })).toMatchObject({ health: 'down', detail: /Kafka/ });
    expect(collectorStage({ url, status: 404 }).health).toBe('down');
    expect(collectorStage({ url, error: 'ECONNREFUSED' })).toMatchObject({
      health: 'down',
      detail: 'unreachable: ECONNREFUSED',
    });
    expect(collectorStage(undefined).health).toBe('unknown');
    const healthyProcessors = { groups: [processor(), projector()], processorsExpected: 'x' };
    expect(evaluatePipeline({ ...healthyProcessors, collector: { url, error: 'x' } }).healthy).toBe(false);
  });
});

describe("a processor's counts from its metrics", () => {
  it('sums each metric over its labels', async () => {
    const metrics = createMetrics();
    let late = [
      { labels: { model: 'm', partition: 0, reason: 'behind_customer' }, value: 2 },
      { labels: { model: 'm', partition: 1, reason: 'behind_inactivity' }, value: 3 },
    ];
    metrics.observed(
      {
        name: 'ciclo_processor_touchpoints_late_total',
        type: 'counter',
        help: 'Late',
        labelNames: ['model', 'partition', 'reason'],
      },
      () => late,
    );
    metrics
      .counter({ name: 'ciclo_processor_dead_letters_total', help: 'Dead', labelNames: ['reason'] })
      .inc({ reason: 'odd "one" {x} y' }, 4);
    metrics
      .counter({
        name: 'ciclo_processor_touchpoints_suppressed_total',
        help: 'Forgotten',
        labelNames: ['partition'],
      })
      .inc({ partition: '2' }, 6);
    expect(processorCountsOf(await metrics.exposition())).toEqual({
      touchpointsIn: 0,
      stageChanges: 0,
      late: 5,
      deadLetters: 4,
      suppressed: 6,
    });
    late = [];
    expect(processorCountsOf(await metrics.exposition()).late).toBe(0);
  });

  it('skips comments, blank lines and values that are not numbers', () => {
    const sums = sumsByMetric('# HELP a A\n\na 1\na{x="1"} 2 1700000000\nb NaN\nc +Inf\n');
    expect([...sums]).toEqual([['a', 3]]);
  });
});
