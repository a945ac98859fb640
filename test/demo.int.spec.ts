/**
 * The main job as users run it: `ciclo demo` through the real collector, processor, projector and
 * ClickHouse prints its summary, and a second run with the same seed adds nothing (every event id repeats),
 * so its summary is the same; a run that finds another simulation's touchpoints under its event ids stops.
 */
import { connectClickHouseServer } from '../infra/clickhouse/engine';
import { connectTopicAdmin } from '../infra/kafka/admin';
import { loadModel } from '../processors/runtime/model-file';
import { homePartitionOf } from '../processors/domain/identity';
import { replay } from '../processors/domain/replay';
import { partitionFor } from '../schemas/partitioner';
import { DEFAULT_START, simulate } from '../producers/simulate/simulate';
import { collectedAs } from '../producers/simulate/segment-calls';
import { toTouchpointRow } from '../projections/projector/rows';
import { lifecycleStateTopicOf, namespacedTopics, touchpointRecords } from '../schemas/topics';
import { runCiclo } from './support/cli';
import { testConfig, uniqueName } from './support/services';

const { endpoints } = testConfig();
// A namespace of the test's own (topics, consumer groups, database): a user's `ciclo demo` afterwards sees
// nothing of this run.
const namespace = uniqueName('it_demo').replace(/-/g, '_');

const summaryOf = (stdout: string): string => {
  const from = stdout.indexOf('Customers per stage');
  const to = stdout.indexOf('\ndone in');
  return stdout.slice(from, to);
};

describe('ciclo demo', () => {
  afterAll(async () => {
    const admin = await connectTopicAdmin(endpoints.kafka.brokers);
    await admin.deleteTopics(
      [...Object.values(namespacedTopics(namespace)), lifecycleStateTopicOf('five-stage', namespace)].map(
        (t) => t.name,
      ),
    );
    await admin.close();
    const clickhouse = connectClickHouseServer({ url: endpoints.clickhouse.url });
    await clickhouse.command(`DROP DATABASE IF EXISTS ${namespace}`);
    await clickhouse.close();
  });

  it('runs the whole pipeline and prints its summary; a second run changes nothing', async () => {
    // DEMO_SEED=n repeats a run (the seed is in the summary's customer ids).
    const seed = process.env.DEMO_SEED ?? String(900_000 + Math.floor(Math.random() * 90_000));
    const args = ['demo', '--customers', '300', '--seed', seed, '--namespace', namespace];
    const first = await runCiclo(args, { timeoutMs: 300_000 });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    for (const section of [
      '300 visitors',
      'touchpoints accepted by the collector',
      'P(alive) scores sent to the processor',
      'Customers per stage (five-stage model):',
      'Cohort retention',
      'CAC, ROI and CLV:CAC by acquisition channel:',
      'Top at-risk customers',
    ])
      expect(first.stdout).toContain(section);
    expect(summaryOf(first.stdout).length).toBeGreaterThan(200);

    // The live pipeline folded exactly what `ciclo lifecycle replay` computes for the same simulated events,
    // up to where each partition's stream time got with them: inactivity fires from a partition's own stream
    // time, and the CLV scores the demo sends afterwards move it on, so live, a customer can lapse after
    // the last simulated event of its partition, which replay (ending there) does not see. The scores are
    // touchpoints too: a stage change they trigger (a promoter at risk, back to loyalty) is live only.
    const events = simulate({
      customers: 300,
      seed: Number(seed),
      days: 365,
      start: DEFAULT_START,
      purchaseGaps: 'poisson', // as the demo simulates
    });
    const partitions = namespacedTopics(namespace).touchpoints.partitions;
    const streamTimeOf = new Array<number>(partitions).fill(-Infinity);
    for (const e of events)
      for (const r of touchpointRecords(e, null, partitions)) {
        const p = r.partition ?? partitionFor(r.key, partitions);
        streamTimeOf[p] = Math.max(streamTimeOf[p]!, e.occurredAt);
      }
    const seen = (customerId: string, at: number): boolean =>
      at <= streamTimeOf[homePartitionOf(customerId, partitions)]!;
    const replayed = replay(events, loadModel('five-stage'), { partitions, gracePeriodMs: 0 });
    const expected = replayed.stageChanges
      .filter((c) => seen(c.customerId, c.occurredAt))
      .map((c) => `${c.customerId} ${c.sequence} ${c.toStage} ${c.ruleId} ${c.occurredAt}`);
    const clickhouse = connectClickHouseServer({ url: endpoints.clickhouse.url });
    const live = await clickhouse.query<{
      customer_id: string;
      sequence: number;
      to_stage: string;
      rule_id: string;
      at: string;
      triggering_event_ids: string[];
    }>(
      `SELECT customer_id, sequence, to_stage, rule_id, toString(occurred_at_ms) AS at, triggering_event_ids
       FROM ${namespace}.stage_changes FINAL WHERE model_id = 'five-stage'`,
    );
    const scores = new Set(
      (
        await clickhouse.query<{ event_id: string }>(
          `SELECT event_id FROM ${namespace}.touchpoints WHERE type = 'ClvPredicted'`,
        )
      ).map((r) => r.event_id),
    );
    // The current customers are the replay's: a profile merged into another (a browser that identified)
    // ends with its removal row, not as a customer of its own.
    const current = await clickhouse
      .query<{ customer_id: string }>(
        `SELECT customer_id FROM ${namespace}.customer_state FINAL
         WHERE model_id = 'five-stage' AND merged_into = ''`,
      )
      .finally(() => clickhouse.close());
    expect(current.map((r) => r.customer_id).sort()).toEqual(
      replayed.partitions.flatMap((p) => [...p.customers.keys()]).sort(),
    );
    expect(
      live
        .filter((r) => seen(r.customer_id, Number(r.at)))
        .filter((r) => !r.triggering_event_ids.some((id) => scores.has(id)))
        .map((r) => `${r.customer_id} ${r.sequence} ${r.to_stage} ${r.rule_id} ${r.at}`)
        .sort(),
    ).toEqual(expected.sort());

    const second = await runCiclo(args, { timeoutMs: 300_000 });
    expect(second.code).toBe(0);
    expect(summaryOf(second.stdout)).toBe(summaryOf(first.stdout));

    // An earlier version's demo, whose simulator made another journey for this seed, left a touchpoint
    // under one of this run's event ids: the demo says so and stops before sending anything, rather than
    // fold a mix of both simulations.
    // The demo's events are stored under the collector's ids for them (the source of its key, `demo`).
    const firstEvent = collectedAs(events[0]!, 'demo');
    const clickhouseAgain = connectClickHouseServer({ url: endpoints.clickhouse.url });
    await clickhouseAgain
      .insert(`${namespace}.touchpoints`, [
        toTouchpointRow({ ...firstEvent, occurredAt: firstEvent.occurredAt + 3_600_000 }, Date.now()),
      ])
      .finally(() => clickhouseAgain.close());
    const third = await runCiclo(args, { timeoutMs: 300_000 });
    expect(third.code).not.toBe(0);
    expect(third.stderr).toContain(`earlier demo's touchpoints for seed ${seed}`);
    expect(third.stderr).toContain(`${firstEvent.eventId} is ${firstEvent.type} at`);
    expect(third.stdout).not.toContain('4/6');
  }, 600_000);
});
