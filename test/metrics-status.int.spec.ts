/**
 * Operators' view of a running processor, on real Kafka and registry: `ciclo process --metrics-port`
 * serves Prometheus metrics with touchpoints in, stage changes out, late touchpoints, dead letters and
 * its consumer lag; `ciclo status --json` shows the processor's lag per partition reach 0 after an import.
 * One processor on topics of its own (`--topics-prefix`), 3 partitions, journeys with links across them
 * (so the transactional identity topic is read too, whose lag must reach 0 as well).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connectTopicAdmin } from '../infra/kafka/admin';
import { connectProducer } from '../infra/kafka/producer';
import type { PartitionLag } from '../infra/kafka/lag';
import { provisionTopicsAndSchemas } from '../infra/registry/provision';
import { createAvroRegistry } from '../infra/registry/schema-registry';
import { createSerde } from '../infra/registry/serde';
import { freePort } from '../infra/stack/processes';
import { importFile } from '../producers/import/import';
import { CONTRACTS } from '../schemas/contracts';
import { partitionFor } from '../schemas/partitioner';
import {
  lifecycleStateTopicOf,
  namespacedTopics,
  processorGroupOf,
  touchpointRecords,
  valueSubject,
} from '../schemas/topics';
import type { Touchpoint } from '../schemas/touchpoint';
import { CICLO_BIN, runCiclo } from './support/cli';
import { journeys } from './support/journeys';
import { eventually, testConfig, uniqueName } from './support/services';

const { endpoints } = testConfig();
const brokers = endpoints.kafka.brokers;
const PARTITIONS = 3;
const prefix = uniqueName('it-metrics');
const topics = namespacedTopics(prefix);
const processorTopics = [
  topics.touchpoints,
  topics.lifecycleIdentity,
  topics.stageChanges,
  topics.customerSnapshots,
  lifecycleStateTopicOf('five-stage', prefix),
  topics.touchpointsDeadLetter,
].map((t) => ({ ...t, partitions: t === topics.touchpointsDeadLetter ? 1 : PARTITIONS }));

/** Older than what its customer has when it comes: applied late. */
const lateVisit: Touchpoint = {
  eventId: `${prefix}-late`,
  type: 'PageViewed',
  customerId: `${prefix}-c2`,
  occurredAt: Date.UTC(2011, 0, 1),
  receivedAt: Date.UTC(2011, 0, 1),
  source: { kind: 'api', name: 'test' },
  payload: { path: '/old' },
};

let processor: ChildProcess | undefined;
/** The processor's log, kept for diagnosis in the OS temp folder; the test reads its restores. */
const processorLog = path.join(os.tmpdir(), `${prefix}-processor.log`);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ciclo-metrics-'));

beforeAll(async () => {
  const admin = await connectTopicAdmin(brokers);
  try {
    await provisionTopicsAndSchemas(admin, createAvroRegistry(endpoints.schemaRegistry.url), processorTopics);
  } finally {
    await admin.close();
  }
});

afterAll(async () => {
  if (processor && processor.exitCode === null && processor.signalCode === null) {
    const exited = new Promise((resolve) => processor!.once('exit', resolve));
    processor.kill('SIGTERM');
    await exited;
  }
  const admin = await connectTopicAdmin(brokers);
  await admin.deleteTopics(processorTopics.map((t) => t.name)).finally(() => admin.close());
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Resolves once the processor logged that it started; its log goes to a file in the temp folder. */
function startProcessor(metricsPort: number): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      CICLO_BIN,
      'process',
      '--topics-prefix',
      prefix,
      '--idle-flush',
      '500',
      '--metrics-port',
      String(metricsPort),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child.stderr.pipe(fs.createWriteStream(processorLog));
  return new Promise((resolve, reject) => {
    let seen = '';
    child.stderr.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes('"msg":"processor started"')) resolve(child);
    });
    child.once('exit', (code) =>
      reject(new Error(`processor exited with ${code} before it started: ${seen}`)),
    );
  });
}

/** Each series' value by its name and labels as written (`name{a="b"}`). */
function seriesOf(text: string): Map<string, number> {
  const series = new Map<string, number>();
  for (const line of text.split('\n'))
    if (line && !line.startsWith('#')) {
      const at = line.lastIndexOf(' ');
      series.set(line.slice(0, at), Number(line.slice(at + 1)));
    }
  return series;
}

const sumOf = (series: Map<string, number>, name: string): number =>
  [...series].filter(([k]) => k === name || k.startsWith(`${name}{`)).reduce((s, [, v]) => s + v, 0);

interface StatusJson {
  healthy: boolean;
  stages: { stage: string; name: string; health: string; members?: number }[];
  lag: PartitionLag[];
}

async function status(): Promise<{ code: number; json: StatusJson }> {
  const result = await runCiclo(['status', '--json', '--topics-prefix', prefix], { timeoutMs: 60_000 });
  return { code: result.code, json: JSON.parse(result.stdout) as StatusJson };
}

/** Polls `ciclo status --json` until every partition of the processor's inputs has lag 0. */
async function lagReachesZero(): Promise<StatusJson> {
  const group = processorGroupOf(prefix, 'five-stage');
  let seen: PartitionLag[] = [];
  return eventually(
    async () => {
      const { json } = await status();
      seen = json.lag.filter((p) => p.group === group);
      return seen.length === 2 * PARTITIONS && seen.every((p) => p.lag === 0) ? json : undefined;
    },
    120_000,
    'the processor lag to reach 0 in ciclo status --json',
  ).catch((err: Error) => {
    throw new Error(`${err.message}; last seen: ${JSON.stringify(seen)}`);
  });
}

it('serves metrics with touchpoints in, stage changes, late, dead letters and lag; status shows the lag reach 0', async () => {
  const metricsPort = await freePort();
  processor = await startProcessor(metricsPort);
  const group = processorGroupOf(prefix, 'five-stage');

  // A small import, as `ciclo import ndjson` sends it: one lane, sorted by event time.
  const history = journeys(prefix, 30);
  const file = path.join(tmp, 'history.ndjson');
  fs.writeFileSync(file, history.map((t) => JSON.stringify(t)).join('\n'));
  const serde = await createSerde(
    createAvroRegistry(endpoints.schemaRegistry.url),
    CONTRACTS.touchpoint,
    valueSubject(topics.touchpoints.name),
  );
  const producer = await connectProducer({ brokers, clientId: `${prefix}-producer` });
  try {
    const report = await importFile({
      format: 'ndjson',
      file,
      producer,
      serde,
      topic: topics.touchpoints.name,
      receivedAt: Date.now(),
      partitions: PARTITIONS,
    });
    expect(report.eventsProduced).toBe(history.length);

    // The processor's lag, per partition of both its inputs, reaches 0 in `ciclo status --json`.
    const caughtUp = await lagReachesZero();
    expect(new Set(caughtUp.lag.filter((p) => p.group === group).map((p) => p.topic))).toEqual(
      new Set([topics.touchpoints.name, topics.lifecycleIdentity.name]),
    );
    expect(caughtUp.stages.find((s) => s.stage === 'processor')).toMatchObject({
      name: group,
      health: 'ok',
      members: 1,
    });
    // Then live traffic, once the import is applied (live traffic waits for an open import lane, so a
    // visit sent earlier would be applied in its place): a visit older than what its customer has (late),
    // and bytes that are no touchpoint.
    await producer.send(topics.touchpoints.name, [
      { key: lateVisit.customerId!, value: await serde.encode(lateVisit) },
      { key: 'garbage', value: Buffer.from('not avro') },
    ]);
    await lagReachesZero();
  } finally {
    await producer.close();
  }

  // No projector runs on these topics: that stage is down, and so status exits non-zero.
  const { code, json } = await status();
  expect(json.stages.find((s) => s.stage === 'projector')).toMatchObject({ health: 'down' });
  expect(json.healthy).toBe(false);
  expect(code).toBe(3);

  // Every touchpoint in, and the late one and the dead letter, in the metrics (lag cached for 5 s at most).
  let lastSeries: [string, number][] = [];
  const metrics = await eventually(
    async () => {
      const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const series = seriesOf(await response.text());
      lastSeries = [...series].filter(([k]) =>
        /^ciclo_(consumer_lag|processor_(dead|touchpoints_in))/.test(k),
      );
      const lagRows = [...series].filter(([k]) => k.startsWith(`ciclo_consumer_lag{group="${group}"`));
      const touchpointsIn = sumOf(series, 'ciclo_processor_touchpoints_in_total');
      return lagRows.length === 2 * PARTITIONS &&
        lagRows.every(([, v]) => v === 0) &&
        sumOf(series, 'ciclo_processor_dead_letters_total') === 1
        ? { series, touchpointsIn }
        : undefined;
    },
    30_000,
    'metrics with every touchpoint in, the dead letter and lag 0',
  ).catch((err: Error) => {
    throw new Error(`${err.message}; last seen: ${JSON.stringify([...lastSeries])}`);
  });
  const { series } = metrics;
  // A link is a touchpoint on every partition (its copies), the rest once each; and the late visit.
  const records = [...history, lateVisit].flatMap((t) => touchpointRecords(t, Buffer.alloc(0), PARTITIONS));
  expect(records.length).toBeGreaterThan(history.length + 1);
  const sent = Array.from({ length: PARTITIONS }, () => 0);
  for (const r of records) sent[r.partition ?? partitionFor(r.key, PARTITIONS)]! += 1;
  // A partition restored again after a failed transaction (Kafka's CONCURRENT_TRANSACTIONS, seen in CI)
  // counts from that restore (docs/metrics.md): exact where each partition was restored once, at most
  // what it was sent otherwise, and the log says which.
  const restores = Array.from({ length: PARTITIONS }, () => 0);
  for (const line of fs.readFileSync(processorLog, 'utf8').split('\n'))
    if (line.includes('"msg":"partition restored"'))
      restores[(JSON.parse(line) as { partition: number }).partition]! += 1;
  for (let partition = 0; partition < PARTITIONS; partition++) {
    const counted = series.get(
      `ciclo_processor_touchpoints_in_total{model="five-stage",partition="${partition}"}`,
    );
    if (restores[partition] === 1) expect([partition, counted]).toEqual([partition, sent[partition]]);
    else expect(counted).toBeLessThanOrEqual(sent[partition]!);
  }
  expect(metrics.touchpointsIn).toBeLessThanOrEqual(records.length);
  expect(sumOf(series, 'ciclo_processor_stage_changes_total')).toBeGreaterThan(0);
  expect(sumOf(series, 'ciclo_processor_touchpoints_late_total')).toBe(1);
  const undecodable = [...series].filter(
    ([k]) => k.startsWith('ciclo_processor_dead_letters_total{') && k.includes('reason="undecodable"'),
  );
  expect(undecodable.map(([, v]) => v)).toEqual([1]);
  expect(sumOf(series, 'ciclo_processor_transaction_duration_seconds_count')).toBeGreaterThan(0);
  expect(sumOf(series, 'ciclo_processor_records_written_total')).toBeGreaterThan(0);
  expect(series.has('ciclo_process_resident_memory_bytes')).toBe(true);
  expect((await fetch(`http://127.0.0.1:${metricsPort}/other`)).status).toBe(404);
}, 240_000);
