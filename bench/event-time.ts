/**
 * `npm run bench:event-time`: how far the live pipeline is from the truth when history arrives out of order,
 * on the running stack (`ciclo stack up` first). A figure of correctness, not of speed: on topics of its own
 * with 6 partitions, a simulated year (2,000 customers) is imported and processed by `ciclo process`, then a
 * second year of 2,000 other customers, overlapping the first by half a year, is imported from a file sorted
 * by customer (as shop exports come) while the processor runs. The stage-changes topic is then compared with
 * the truth, `lifecycle replay` on one partition of both years sorted by event time: how many changes are
 * missing, extra, or there twice, and the count per stage each way.
 *
 * CICLO_BENCH_SECOND_ORDER=time imports the second year in event-time order instead.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../infra/config';
import { connectTopicAdmin } from '../infra/kafka/admin';
import { connectConsumer } from '../infra/kafka/consumer';
import { connectProducer } from '../infra/kafka/producer';
import { createAvroRegistry } from '../infra/registry/schema-registry';
import { loadModel } from '../processors/runtime/model-file';
import { asImportRun, replay } from '../processors/domain/replay';
import { importFile } from '../producers/import/import';
import { DEFAULT_START, simulate } from '../producers/simulate/simulate';
import { CONTRACTS } from '../schemas/contracts';
import type { StageChanged } from '../schemas/outputs';
import { provisionTopicsAndSchemas } from '../infra/registry/provision';
import { createSerde } from '../infra/registry/serde';
import { LIFECYCLE_STATE, TOPICS, valueSubject, type TopicDefinition } from '../schemas/topics';
import type { Touchpoint } from '../schemas/touchpoint';

const DAY = 86_400_000;
const PARTITIONS = 6;
const TOPIC_NAMES = [
  'touchpoints',
  'lifecycle-identity',
  'stage-changes',
  'customer-snapshots',
  'lifecycle-state.five-stage',
  'touchpoints.dlq',
];

const keyOf = (tp: Touchpoint): string => tp.customerId ?? tp.anonymousId ?? '';
const changeKey = (c: StageChanged): string => `${c.customerId}|${c.sequence}|${c.toStage}|${c.occurredAt}`;

function byStage(changes: readonly StageChanged[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of changes) out[c.toStage] = (out[c.toStage] ?? 0) + 1;
  return out;
}

async function main(): Promise<void> {
  const root = path.resolve(__dirname, '..', '..');
  const { endpoints } = loadConfig(process.env, root);
  const brokers = endpoints.kafka.brokers;
  const order = process.env.CICLO_BENCH_SECOND_ORDER === 'time' ? 'time' : 'customer';
  const prefix = `bench-event-time-${Date.now().toString(36)}`;
  const year = simulate({ customers: 2000, seed: 77, days: 365, start: DEFAULT_START });
  const later = simulate({ customers: 2000, seed: 78, days: 365, start: DEFAULT_START + 182 * DAY });
  const model = loadModel('five-stage');
  const truth = replay(asImportRun('truth', [...year, ...later]), model, {
    partitions: 1,
    gracePeriodMs: 0,
  }).stageChanges;
  const second =
    order === 'customer'
      ? [...later].sort((a, b) =>
          keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : a.occurredAt - b.occurredAt,
        )
      : later;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ciclo-bench-event-time-'));
  const file = (name: string, events: readonly Touchpoint[]): string => {
    const at = path.join(dir, name);
    fs.writeFileSync(at, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
    return at;
  };
  const first = file('year.ndjson', year);
  const overlapping = file('later.ndjson', second);

  const registry = createAvroRegistry(endpoints.schemaRegistry.url);
  const admin = await connectTopicAdmin(brokers);
  const renamed = (t: TopicDefinition, name: string, partitions = PARTITIONS): TopicDefinition => ({
    ...t,
    name: `${prefix}.${name}`,
    partitions,
  });
  await provisionTopicsAndSchemas(admin, registry, [
    renamed(TOPICS.touchpoints, 'touchpoints'),
    renamed(TOPICS.stageChanges, 'stage-changes'),
    renamed(TOPICS.customerSnapshots, 'customer-snapshots'),
    renamed(LIFECYCLE_STATE, `lifecycle-state.${model.id}`),
    renamed(TOPICS.lifecycleIdentity, 'lifecycle-identity'),
    renamed(TOPICS.touchpointsDeadLetter, 'touchpoints.dlq', 1),
  ]);
  const processor = spawn(
    process.execPath,
    // The idle flush its earlier runs had (the default was 2 s until issue 23): figures stay comparable.
    [path.join(root, 'bin', 'ciclo.js'), 'process', '--topics-prefix', prefix, '--idle-flush', '2000'],
    { stdio: ['ignore', 'ignore', fs.openSync(path.join(dir, 'processor.log'), 'w')] },
  );
  const serde = await createSerde(registry, CONTRACTS.touchpoint, valueSubject(`${prefix}.touchpoints`));
  const producer = await connectProducer({ brokers, clientId: `${prefix}-import` });
  const stageChanged = await createSerde(
    registry,
    CONTRACTS.stageChanged,
    valueSubject(`${prefix}.stage-changes`),
  );
  const seen: StageChanged[] = [];
  const consumer = await connectConsumer({
    brokers,
    groupId: `${prefix}-reader`,
    topics: [`${prefix}.stage-changes`],
    fromBeginning: true,
    commitOffsets: false,
  });
  await consumer.run(async (batch) => {
    for (const m of batch) {
      const d = m.value ? await stageChanged.decode(m.value) : undefined;
      if (d?.ok) seen.push(d.value);
    }
  });
  /** Until no stage change came for 8 s. */
  const quiet = async (): Promise<void> => {
    for (let last = -1; seen.length !== last;) {
      last = seen.length;
      await new Promise((r) => setTimeout(r, 8000));
    }
  };
  const importRun = (from: string) =>
    importFile({
      format: 'ndjson',
      file: from,
      producer,
      serde,
      topic: `${prefix}.touchpoints`,
      receivedAt: Date.now(),
      partitions: PARTITIONS,
    });
  try {
    await importRun(first);
    await quiet();
    const afterFirstYear = seen.length;
    await importRun(overlapping);
    await quiet();
    const want = new Set(truth.map(changeKey));
    const got = new Set(seen.map(changeKey));
    const figures = {
      secondYearOrder: order,
      partitions: PARTITIONS,
      touchpoints: year.length + later.length,
      stageChangesAfterFirstYear: afterFirstYear,
      stageChanges: seen.length,
      truth: truth.length,
      missing: [...want].filter((k) => !got.has(k)).length,
      extra: [...got].filter((k) => !want.has(k)).length,
      twice: seen.length - got.size,
      byStage: byStage(seen),
      truthByStage: byStage(truth),
    };
    process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);
  } finally {
    await consumer.stop();
    await producer.close();
    processor.kill('SIGTERM');
    await admin.deleteTopics(TOPIC_NAMES.map((t) => `${prefix}.${t}`));
    await admin.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
