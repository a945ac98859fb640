/**
 * Each stage model's changelog is a topic of its own, `<ns>.lifecycle-state.<model id>`
 * (docs/changelog-format.md, "One topic per model"), on real Kafka and registry:
 * - two models' processors on one pipeline each create, write and restore their own topic and no other: a
 *   restarted processor reads exactly its topic's records, and carries on to the replay's stage changes;
 * - an installation whose state is in the shared topic, as a version before this one left it, upgrades
 *   without losing it: each model's processor moves its records to its own topic and tombstones them in the
 *   shared one, its customers' stages carry on to the replay's, and a later start moves nothing again.
 */
import { connectTopicAdmin } from '../infra/kafka/admin';
import { createKafka } from '../infra/kafka/client';
import { connectConsumer } from '../infra/kafka/consumer';
import { connectProducer } from '../infra/kafka/producer';
import { readChangelogPartition, type RunningProcessor } from '../infra/kafka/transactional-processor';
import type { IncomingMessage } from '../infra/kafka/types';
import { createLogger } from '../infra/log';
import { provisionTopicsAndSchemas } from '../infra/registry/provision';
import { createAvroRegistry } from '../infra/registry/schema-registry';
import { createSerde } from '../infra/registry/serde';
import { canonicalOrder, replay } from '../processors/domain/replay';
import { INITIALISED_KEY } from '../processors/runtime/changelog/shared-move';
import { loadModel } from '../processors/runtime/model-file';
import {
  processorTopicsOf,
  startLifecycleProcessor,
  type ProcessorTopics,
} from '../processors/runtime/start';
import { CONTRACTS } from '../schemas/contracts';
import type { StageChanged } from '../schemas/outputs';
import {
  LIFECYCLE_STATE,
  namespacedTopics,
  processorGroupOf,
  sharedLifecycleStateTopicOf,
  touchpointRecords,
  valueSubject,
} from '../schemas/topics';
import type { Touchpoint } from '../schemas/touchpoint';
import { topicFence } from './support/fence';
import { journeys } from './support/journeys';
import { eventually, testConfig, uniqueName } from './support/services';

const { endpoints } = testConfig();
const brokers = endpoints.kafka.brokers;
const PARTITIONS = 3;
const MODELS = [loadModel('five-stage'), loadModel('four-stage')];

interface LogLine {
  readonly msg: string;
  readonly partition?: number;
  readonly changelogRecords?: number;
  readonly movedKeys?: number;
}

/** A processor of `modelId` on the run's pipeline, in this process, with its log lines kept. */
async function startProcessor(
  ns: string,
  modelId: string,
  topics: ProcessorTopics = processorTopicsOf(modelId, ns),
): Promise<{ processor: RunningProcessor; log: LogLine[] }> {
  const log: LogLine[] = [];
  const processor = await startLifecycleProcessor({
    endpoints,
    model: loadModel(modelId),
    gracePeriodMs: 0,
    idleFlushMs: 500,
    log: createLogger({
      level: 'info',
      destination: { write: (line: string) => void log.push(JSON.parse(line) as LogLine) },
    }),
    topics,
    groupId: processorGroupOf(ns, modelId),
  });
  return { processor, log };
}

/** The pipeline's shared topics (not the changelogs: each processor makes its own), schemas registered. */
async function createTopics(ns: string, more: { name: string }[] = []): Promise<void> {
  const t = namespacedTopics(ns);
  const admin = await connectTopicAdmin(brokers);
  await provisionTopicsAndSchemas(admin, createAvroRegistry(endpoints.schemaRegistry.url), [
    ...[t.touchpoints, t.lifecycleIdentity, t.stageChanges, t.customerSnapshots].map((topic) => ({
      ...topic,
      partitions: PARTITIONS,
    })),
    { ...t.touchpointsDeadLetter, partitions: 1 },
    ...more.map((topic) => ({ ...LIFECYCLE_STATE, ...topic, partitions: PARTITIONS })),
  ]);
  await admin.close();
}

async function deleteTopics(ns: string): Promise<void> {
  const admin = await connectTopicAdmin(brokers);
  const names = (await admin.listTopics()).filter((t) => t.startsWith(`${ns}.`));
  await admin.deleteTopics(names).finally(() => admin.close());
}

async function produce(ns: string, events: readonly Touchpoint[]): Promise<void> {
  const topic = namespacedTopics(ns).touchpoints.name;
  const serde = await createSerde(
    createAvroRegistry(endpoints.schemaRegistry.url),
    CONTRACTS.touchpoint,
    valueSubject(topic),
  );
  const producer = await connectProducer({ brokers, clientId: `${ns}-producer` });
  await producer.send(
    topic,
    (
      await Promise.all(events.map(async (e) => touchpointRecords(e, await serde.encode(e), PARTITIONS)))
    ).flat(),
  );
  await producer.close();
}

/** Until every model's processor has committed every touchpoint. */
async function consumedAll(ns: string): Promise<void> {
  const admin = await connectTopicAdmin(brokers);
  try {
    for (const model of MODELS)
      await eventually(
        async () =>
          (await admin.groupLag(processorGroupOf(ns, model.id), namespacedTopics(ns).touchpoints.name)) === 0
            ? true
            : undefined,
        120_000,
        `${model.id} to consume every touchpoint`,
      );
  } finally {
    await admin.close();
  }
}

/** Every committed record of a compacted topic, partition by partition, as a restore reads it. */
async function readTopic(topic: string): Promise<IncomingMessage[]> {
  const kafka = createKafka({ brokers, clientId: uniqueName('it-changelog-reader') });
  const records: IncomingMessage[] = [];
  for (let p = 0; p < PARTITIONS; p++)
    records.push(...(await readChangelogPartition(kafka, topic, p, new AbortController().signal)));
  return records;
}

/**
 * The latest value of each key of each partition (null: a tombstone), by `<partition> <key>`: a key may be
 * in every partition (a redirect: each partition's identity table holds every linked id).
 */
function latest(records: readonly IncomingMessage[]): Map<string, Buffer | null> {
  const out = new Map<string, Buffer | null>();
  for (const r of records) out.set(`${r.partition} ${r.key!}`, r.value);
  return out;
}

/** Every stage change of the run, by model, once every processor has consumed everything. */
async function stageChangesByModel(ns: string, atLeast: number): Promise<Map<string, StageChanged[]>> {
  const topic = namespacedTopics(ns).stageChanges.name;
  const serde = await createSerde(
    createAvroRegistry(endpoints.schemaRegistry.url),
    CONTRACTS.stageChanged,
    valueSubject(topic),
  );
  const byModel = new Map<string, StageChanged[]>();
  let seen = 0;
  const fence = topicFence(brokers, topic, PARTITIONS);
  const consumer = await connectConsumer({
    brokers,
    groupId: uniqueName(`${ns}-reader`),
    topics: [topic],
    fromBeginning: true,
    commitOffsets: false,
  });
  try {
    await consumer.run(async (batch) => {
      for (const m of batch) {
        if (fence.isFence(m)) continue;
        const d = await serde.decode(m.value!);
        if (!d.ok) throw new Error(d.error);
        byModel.set(d.value.modelId, [...(byModel.get(d.value.modelId) ?? []), d.value]);
        seen++;
      }
    });
    await eventually(
      () => Promise.resolve(seen >= atLeast ? true : undefined),
      120_000,
      `${atLeast} changes`,
    );
    await consumedAll(ns);
    await fence.raise();
    await eventually(() => Promise.resolve(fence.passed() ? true : undefined), 60_000, 'the fence');
  } finally {
    await consumer.stop();
  }
  return byModel;
}

/** The replay's stage changes of each model over the events (the truth for them on PARTITIONS). */
function truth(events: readonly Touchpoint[]): Map<string, StageChanged[]> {
  return new Map(
    MODELS.map((m) => [
      m.id,
      canonicalOrder(replay(events, m, { partitions: PARTITIONS, gracePeriodMs: 0 }).stageChanges),
    ]),
  );
}

async function expectTruth(ns: string, events: readonly Touchpoint[]): Promise<void> {
  const expected = truth(events);
  const total = [...expected.values()].reduce((n, c) => n + c.length, 0);
  const got = await stageChangesByModel(ns, total);
  for (const model of MODELS) {
    expect(expected.get(model.id)!.length).toBeGreaterThan(50);
    expect(canonicalOrder(got.get(model.id) ?? [])).toEqual(expected.get(model.id));
  }
}

const restoredRecords = (log: readonly LogLine[]): number =>
  log.filter((l) => l.msg === 'partition restored').reduce((n, l) => n + (l.changelogRecords ?? 0), 0);

describe("each stage model's changelog", () => {
  const running: RunningProcessor[] = [];
  afterEach(async () => {
    for (const p of running.splice(0)) await p.stop();
  });

  it('is a topic of its own, which its processor alone writes and restores from', async () => {
    const ns = uniqueName('it-chlog-two');
    await createTopics(ns);
    try {
      const events = journeys(ns, 40);
      const half = Math.floor(events.length / 2);
      await produce(ns, events.slice(0, half));
      for (const model of MODELS) running.push((await startProcessor(ns, model.id)).processor);
      await consumedAll(ns);
      for (const p of running.splice(0)) await p.stop();

      const own = new Map<string, IncomingMessage[]>();
      for (const model of MODELS) {
        const records = await readTopic(processorTopicsOf(model.id, ns).changelog);
        own.set(model.id, records);
        expect(records.length).toBeGreaterThan(40);
        const foreign = records.filter(
          (r) => r.key !== INITIALISED_KEY && !r.key!.startsWith(`${model.id}/`),
        );
        expect(foreign.map((r) => r.key)).toEqual([]);
        expect(records.filter((r) => r.key === INITIALISED_KEY)).toHaveLength(PARTITIONS);
      }
      const admin = await connectTopicAdmin(brokers);
      const existing = await admin.listTopics().finally(() => admin.close());
      expect(existing).not.toContain(sharedLifecycleStateTopicOf(ns));

      // Restarted, each reads back its own topic's records, all of them and no other.
      const restarted = [];
      for (const model of MODELS) {
        const started = await startProcessor(ns, model.id);
        running.push(started.processor);
        restarted.push(started.log);
      }
      await produce(ns, events.slice(half));
      await expectTruth(ns, events);
      for (const [i, model] of MODELS.entries()) {
        expect(restarted[i]!.filter((l) => l.msg === 'partition restored')).toHaveLength(PARTITIONS);
        expect(restoredRecords(restarted[i]!)).toBe(own.get(model.id)!.length);
        expect(restarted[i]!.filter((l) => l.msg === 'changelog partition initialised')).toEqual([]);
      }
    } finally {
      await deleteTopics(ns);
    }
  }, 300_000);

  it("takes each model's state from the topic every model shared before, once, and the stages carry on", async () => {
    const ns = uniqueName('it-chlog-upgrade');
    const shared = sharedLifecycleStateTopicOf(ns);
    await createTopics(ns, [{ name: shared }]);
    try {
      const events = journeys(ns, 40);
      const half = Math.floor(events.length / 2);
      await produce(ns, events.slice(0, half));
      // As a version before this one ran: both models' state in the shared topic.
      for (const model of MODELS) {
        const before = { ...processorTopicsOf(model.id, ns), changelog: shared };
        delete (before as { sharedChangelog?: string }).sharedChangelog;
        running.push((await startProcessor(ns, model.id, before)).processor);
      }
      await consumedAll(ns);
      for (const p of running.splice(0)) await p.stop();
      // That version wrote no marker: this one's, written to the topic it was given, goes.
      const producer = await connectProducer({ brokers, clientId: `${ns}-unmark` });
      await producer.send(
        shared,
        Array.from({ length: PARTITIONS }, (_, partition) => ({
          key: INITIALISED_KEY,
          value: null,
          partition,
        })),
      );
      await producer.close();
      const before = latest(await readTopic(shared));
      const live = (modelId: string): Map<string, Buffer> =>
        new Map(
          [...before].filter(
            (e): e is [string, Buffer] =>
              e[0].slice(e[0].indexOf(' ') + 1).startsWith(`${modelId}/`) && e[1] !== null,
          ),
        );
      for (const model of MODELS) expect(live(model.id).size).toBeGreaterThan(40);

      // This version: each model's own topic, its state moved there at the first start.
      const upgraded = [];
      for (const model of MODELS) {
        const started = await startProcessor(ns, model.id);
        running.push(started.processor);
        upgraded.push(started.log);
      }
      await produce(ns, events.slice(half));
      await expectTruth(ns, events);
      for (const p of running.splice(0)) await p.stop();

      const after = latest(await readTopic(shared));
      for (const [i, model] of MODELS.entries()) {
        const moves = upgraded[i]!.filter((l) => l.msg === 'changelog partition initialised');
        expect(moves).toHaveLength(PARTITIONS);
        expect(moves.reduce((n, l) => n + (l.movedKeys ?? 0), 0)).toBe(live(model.id).size);
        // Every moved record is in the model's topic as it was (or as the second half changed it), and
        // tombstoned in the shared topic.
        const ownTopic = latest(await readTopic(processorTopicsOf(model.id, ns).changelog));
        for (const key of live(model.id).keys()) {
          expect(after.get(key)).toBeNull();
          expect(ownTopic.has(key)).toBe(true);
        }
      }

      // A later start moves nothing: it restores its own topic.
      const again = await startProcessor(ns, MODELS[0]!.id);
      running.push(again.processor);
      await eventually(
        () =>
          Promise.resolve(
            again.log.filter((l) => l.msg === 'partition restored').length === PARTITIONS ? true : undefined,
          ),
        60_000,
        'the partitions restored',
      );
      expect(again.log.filter((l) => l.msg === 'changelog partition initialised')).toEqual([]);
    } finally {
      await deleteTopics(ns);
    }
  }, 300_000);
});
