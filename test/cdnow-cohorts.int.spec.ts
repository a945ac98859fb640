/**
 * The CDNOW sample end to end: imported (twice), folded by the lifecycle processor (five-stage), projected
 * into ClickHouse, and `ciclo report cohorts --json` checked cell by cell against an independent computation
 * straight from the file; the analysts' `customers` view holds each of the file's 2,357 customers once, and
 * every column of the database has a comment (docs/analytics.md).
 */
import fs from 'node:fs';
import path from 'node:path';
import { connectClickHouseServer } from '../infra/clickhouse/engine';
import type { ServiceEndpoints } from '../infra/config';
import { connectTopicAdmin } from '../infra/kafka/admin';
import { connectProducer } from '../infra/kafka/producer';
import { createLogger } from '../infra/log';
import { provisionTopicsAndSchemas } from '../infra/registry/provision';
import { createAvroRegistry } from '../infra/registry/schema-registry';
import { loadModel } from '../processors/runtime/model-file';
import { startLifecycleProcessor } from '../processors/runtime/start';
import { importFile } from '../producers/import/import';
import { migrate } from '../projections/migrations/migrate';
import { startProjector } from '../projections/projector/projector';
import { CONTRACTS } from '../schemas/contracts';
import { createSerde } from '../infra/registry/serde';
import { LIFECYCLE_STATE, TOPICS, valueSubject, type TopicDefinition } from '../schemas/topics';
import { runCiclo } from './support/cli';
import { eventually, testConfig, uniqueName } from './support/services';

const SAMPLE = path.resolve(__dirname, 'data', 'cdnow', 'CDNOW_sample.txt');
/** Distinct customers in the sample (its README: 2,357 of CDNOW_master's 23,570). */
const SAMPLE_CUSTOMERS = 2357;
const PARTITIONS = 3;

interface Cell {
  cohort: string;
  monthsSince: number;
  customers: number;
  activeCustomers: number;
  revenue: number;
}

/** Straight from the text: cohort = month of a customer's first purchase; active = purchased that month. */
function independentCohorts(text: string): Cell[] {
  const rows = text
    .split(/\r?\n/)
    .map((l) => l.trim().split(/\s+/))
    .filter((c) => c.length === 5)
    .map(([customer, , date, , dollars]) => ({
      customer: customer!,
      month: `${date!.slice(0, 4)}-${date!.slice(4, 6)}`,
      cents: Math.round(Number(dollars) * 100),
    }));
  const first = new Map<string, string>();
  for (const r of rows)
    if (!first.has(r.customer) || r.month < first.get(r.customer)!) first.set(r.customer, r.month);
  const monthIndex = (m: string): number => Number(m.slice(0, 4)) * 12 + Number(m.slice(5, 7)) - 1;
  const size = new Map<string, number>();
  for (const cohort of first.values()) size.set(cohort, (size.get(cohort) ?? 0) + 1);
  const cells = new Map<string, { active: Set<string>; cents: number; cohort: string; since: number }>();
  for (const r of rows) {
    const cohort = first.get(r.customer)!;
    const since = monthIndex(r.month) - monthIndex(cohort);
    const key = `${cohort}/${since}`;
    const cell = cells.get(key) ?? { active: new Set<string>(), cents: 0, cohort, since };
    cell.active.add(r.customer);
    cell.cents += r.cents;
    cells.set(key, cell);
  }
  return [...cells.values()]
    .map((c) => ({
      cohort: c.cohort,
      monthsSince: c.since,
      customers: size.get(c.cohort)!,
      activeCustomers: c.active.size,
      revenue: c.cents / 100,
    }))
    .sort((a, b) => (a.cohort < b.cohort ? -1 : a.cohort > b.cohort ? 1 : a.monthsSince - b.monthsSince));
}

describe('CDNOW sample: import, projection and cohort report', () => {
  const base = testConfig().endpoints;
  const run = uniqueName('it-cdnow').replace(/-/g, '_');
  const topics = {
    touchpoints: `${run}.tp`,
    stageChanges: `${run}.sc`,
    customerSnapshots: `${run}.cs`,
    deadLetter: `${run}.dlq`,
  };
  const processorTopics = {
    touchpoints: topics.touchpoints,
    identity: `${run}.identity`,
    stageChanges: topics.stageChanges,
    customerSnapshots: topics.customerSnapshots,
    changelog: `${run}.state`,
    deadLetter: `${run}.tp-dlq`,
  };
  const database = `it_${run}`;
  const endpoints: ServiceEndpoints = { ...base, clickhouse: { ...base.clickhouse, database } };
  const clickhouse = connectClickHouseServer({ url: base.clickhouse.url });

  /** Stops what the test started and has not stopped yet (a failed test leaves them running). */
  const running: { stop(): Promise<void> }[] = [];

  afterAll(async () => {
    for (const r of running.splice(0)) await r.stop();
    const admin = await connectTopicAdmin(base.kafka.brokers);
    await admin.deleteTopics([...new Set([...Object.values(topics), ...Object.values(processorTopics)])]);
    await admin.close();
    await clickhouse.command(`DROP DATABASE IF EXISTS ${database}`);
    await clickhouse.close();
  });

  it('reports the Jan/Feb/Mar 1997 cohorts exactly as computed from the file, counts each customer once, and a second import changes nothing', async () => {
    // Provisioned before the processor and projector start: both register these subjects (see
    // test/processor.int.spec.ts on the native registry and subjects registered at once).
    const admin = await connectTopicAdmin(base.kafka.brokers);
    const renamed = (topic: TopicDefinition, name: string, partitions = PARTITIONS): TopicDefinition => ({
      ...topic,
      name,
      partitions,
    });
    await provisionTopicsAndSchemas(admin, createAvroRegistry(base.schemaRegistry.url), [
      renamed(TOPICS.touchpoints, processorTopics.touchpoints),
      renamed(TOPICS.lifecycleIdentity, processorTopics.identity),
      renamed(TOPICS.stageChanges, processorTopics.stageChanges),
      renamed(TOPICS.customerSnapshots, processorTopics.customerSnapshots),
      renamed(LIFECYCLE_STATE, processorTopics.changelog),
      renamed(TOPICS.touchpointsDeadLetter, processorTopics.deadLetter, 1),
      renamed(TOPICS.projectorDeadLetter, topics.deadLetter, 1),
    ]);
    await admin.close();
    await migrate(clickhouse, database);

    const serde = await createSerde(
      createAvroRegistry(base.schemaRegistry.url),
      CONTRACTS.touchpoint,
      valueSubject(topics.touchpoints),
    );
    const producer = await connectProducer({ brokers: base.kafka.brokers, clientId: run });
    const first = await importFile({
      format: 'cdnow',
      file: SAMPLE,
      producer,
      serde,
      topic: topics.touchpoints,
      receivedAt: Date.UTC(2026, 0, 1),
      partitions: PARTITIONS,
    });
    expect(first).toEqual({ rowsRead: 6919, eventsProduced: 6919, eventsSuppressed: 0, rowsRejected: 0 });

    const processor = await startLifecycleProcessor({
      endpoints,
      model: loadModel('five-stage'),
      gracePeriodMs: 0,
      idleFlushMs: 500,
      log: createLogger({ level: 'silent' }),
      topics: processorTopics,
      groupId: `${run}-processor`,
    });
    running.push(processor);
    const projector = await startProjector({
      endpoints,
      groupId: `${run}-projector`,
      log: createLogger({ level: 'silent' }),
      topics,
    });
    running.push(projector);
    const rows = async (): Promise<number> =>
      Number(
        (await clickhouse.query<{ n: string }>(`SELECT count() AS n FROM ${database}.touchpoints FINAL`))[0]!
          .n,
      );
    await eventually(
      async () => ((await rows()) === 6919 ? true : undefined),
      90_000,
      '6,919 purchases in ClickHouse',
    );

    const report = async (): Promise<Cell[]> => {
      const out = await runCiclo(['report', 'cohorts', '--json'], { env: { CLICKHOUSE_DATABASE: database } });
      expect(out.stderr).toBe('');
      return JSON.parse(out.stdout) as Cell[];
    };
    const expected = independentCohorts(fs.readFileSync(SAMPLE, 'utf8'));
    expect([...new Set(expected.map((c) => c.cohort))]).toEqual(['1997-01', '1997-02', '1997-03']);
    const got = await report();
    expect(got).toEqual(expected);

    // Each customer of the file once in the analysts' view, as the issue's done-when query counts them.
    const customers = async (): Promise<[number, number]> => {
      const [row] = await clickhouse.query<{ n: string; ids: string }>(
        `SELECT count() AS n, uniqExact(customer_id) AS ids FROM ${database}.customers
         WHERE customer_id LIKE 'cdnow-%' AND model_id = 'five-stage'`,
      );
      return [Number(row!.n), Number(row!.ids)];
    };
    await eventually(
      async () => ((await customers())[1] === SAMPLE_CUSTOMERS ? true : undefined),
      120_000,
      `${SAMPLE_CUSTOMERS} customers folded and projected`,
    );
    expect(await customers()).toEqual([SAMPLE_CUSTOMERS, SAMPLE_CUSTOMERS]);
    const uncommented = await clickhouse.query<{ table: string; name: string }>(
      `SELECT table, name FROM system.columns WHERE database = '${database}' AND comment = ''`,
    );
    expect(uncommented).toEqual([]);
    const receivedBefore = projector.counters.received;

    // Importing the same file again: the same event ids, so every downstream count stays the same.
    await importFile({
      format: 'cdnow',
      file: SAMPLE,
      producer,
      serde,
      topic: topics.touchpoints,
      receivedAt: Date.UTC(2026, 0, 2),
      partitions: PARTITIONS,
    });
    await producer.close();
    await eventually(
      () => Promise.resolve(projector.counters.received >= receivedBefore + 6919 ? true : undefined),
      90_000,
      'the second import projected',
    );
    expect(await rows()).toBe(6919);
    expect(await report()).toEqual(expected);
    expect(await customers()).toEqual([SAMPLE_CUSTOMERS, SAMPLE_CUSTOMERS]);
    for (const r of running.splice(0)) await r.stop();
  });
});
