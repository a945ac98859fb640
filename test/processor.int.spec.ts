/**
 * The lifecycle processor as users run it (`ciclo process`, a child process), on real Kafka and registry:
 * - SIGKILLed three times while touchpoints flow, the stage-changes topic ends up holding exactly the
 *   changes `lifecycle replay` computes from the same input: none missing, none twice;
 * - with two instances, stopping one hands its partitions to the other, with the same exactly-once result,
 *   also when it is stopped (SIGTERM or SIGKILL) while still starting up or restoring;
 * - a poison message is dead-lettered with its reason and later events still flow;
 * - a customer who bought on 200,000 distinct days keeps its changelog record small, across a SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connectTopicAdmin } from '../infra/kafka/admin';
import { connectConsumer } from '../infra/kafka/consumer';
import { connectProducer } from '../infra/kafka/producer';
import type { IncomingMessage } from '../infra/kafka/types';
import { createAvroRegistry } from '../infra/registry/schema-registry';
import { loadModel } from '../processors/runtime/model-file';
import { asImportRun, canonicalOrder, replay } from '../processors/domain/replay';
import { CONTRACTS } from '../schemas/contracts';
import { DEAD_LETTER_HEADERS, type CustomerSnapshot, type StageChanged } from '../schemas/outputs';
import { createSerde } from '../infra/registry/serde';
import { provisionTopicsAndSchemas } from '../infra/registry/provision';
import {
  LIFECYCLE_STATE,
  TOPICS,
  touchpointRecords,
  valueSubject,
  type TopicDefinition,
} from '../schemas/topics';
import type { Touchpoint } from '../schemas/touchpoint';
import { CICLO_BIN, runCiclo } from './support/cli';
import { clockVisits, journeys } from './support/journeys';
import { importFile } from '../producers/import/import';
import { simulate } from '../producers/simulate/simulate';
import { freePort } from '../infra/stack/processes';
import { topicFence } from './support/fence';
import { settled } from './support/group-lag';
import { eventually, testConfig, uniqueName } from './support/services';

const { endpoints } = testConfig();
const brokers = endpoints.kafka.brokers;
const DAY = 86_400_000;
const T0 = Date.UTC(2012, 0, 1);

/**
 * The topics under `prefix`, and their schemas registered, as `ciclo topics create` provisions a deployment
 * before its processors start. Left to the instances, two started together register the same new subject at
 * once, which the native stack's (Hortonworks) registry can corrupt for good: both then fail to start.
 */
/** The test topics' partition count. */
const PARTITIONS = 3;
/** The default model's changelog, after the prefix (`ciclo process --topics-prefix`). */
const CHANGELOG = 'lifecycle-state.five-stage';

/** `touchpointsConfig`: settings of the touchpoint topic over its definition's. */
async function createTopics(prefix: string, touchpointsConfig: Record<string, string> = {}): Promise<void> {
  const admin = await connectTopicAdmin(brokers);
  const renamed = (topic: TopicDefinition, name: string): TopicDefinition => ({
    ...topic,
    name: `${prefix}.${name}`,
    partitions: PARTITIONS,
  });
  await provisionTopicsAndSchemas(admin, createAvroRegistry(endpoints.schemaRegistry.url), [
    {
      ...renamed(TOPICS.touchpoints, 'touchpoints'),
      config: { ...TOPICS.touchpoints.config, ...touchpointsConfig },
    },
    renamed(TOPICS.stageChanges, 'stage-changes'),
    renamed(TOPICS.customerSnapshots, 'customer-snapshots'),
    renamed(LIFECYCLE_STATE, CHANGELOG),
    renamed(TOPICS.lifecycleIdentity, 'lifecycle-identity'),
    { ...renamed(TOPICS.touchpointsDeadLetter, 'touchpoints.dlq'), partitions: 1 },
  ]);
  await admin.close();
}

async function deleteTopics(prefix: string): Promise<void> {
  const admin = await connectTopicAdmin(brokers);
  await admin.deleteTopics(
    [
      'touchpoints',
      'lifecycle-identity',
      'stage-changes',
      'customer-snapshots',
      CHANGELOG,
      'touchpoints.dlq',
    ].map((t) => `${prefix}.${t}`),
  );
  await admin.close();
}

/** Every instance started, so that none outlives the tests (a test that times out skips its own stops). */
const children = new Set<ChildProcess>();
afterAll(() => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

/** `verbose`: debug log and kafkajs' own info lines, to see where in its startup an instance is. */
function startProcessor(
  prefix: string,
  options: { verbose?: boolean; graceMs?: number; idleFlushMs?: number } = {},
): ChildProcess {
  const level = process.env.CICLO_TEST_CHILD_LOG_LEVEL ?? (options.verbose ? 'debug' : 'info');
  const child = spawn(
    process.execPath,
    [
      CICLO_BIN,
      'process',
      '--topics-prefix',
      prefix,
      '--grace',
      String(options.graceMs ?? 0),
      '--idle-flush',
      String(options.idleFlushMs ?? 1000),
    ],
    {
      env: {
        ...process.env,
        CICLO_LOG_LEVEL: level,
        ...(options.verbose ? { KAFKAJS_LOG_LEVEL: process.env.KAFKAJS_LOG_LEVEL ?? 'info' } : {}),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  children.add(child);
  // Kept for diagnosis: each instance's log, in the OS temp folder.
  child.stderr?.pipe(fs.createWriteStream(path.join(os.tmpdir(), `${prefix}-${child.pid ?? 0}.log`)));
  return child;
}

/** Resolves once the instance logged that it started (it has joined the group and can take partitions). */
function started(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes('"msg":"processor started"')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`processor exited with ${code} before it started`)));
  });
}

interface LogLine {
  readonly msg: string;
  readonly time: number;
  readonly partition?: number;
  readonly kafka?: { groupId?: string };
}

/** The instance's log lines as they arrive (JSON, one a line). */
function watchLog(child: ChildProcess): LogLine[] {
  const lines: LogLine[] = [];
  let rest = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    const parts = (rest + chunk.toString()).split('\n');
    rest = parts.pop() ?? '';
    for (const part of parts) {
      try {
        lines.push(JSON.parse(part) as LogLine);
      } catch {
        // not a log line (a stack trace, say): the file in the temp folder has it
      }
    }
  });
  return lines;
}

async function stopProcess(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return; // exited already
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  await exited;
}

/** `timestamp`: the records' own (Kafka's), else the time they are sent. */
async function produce(prefix: string, events: readonly Touchpoint[], timestamp?: number): Promise<void> {
  const serde = await createSerde(
    createAvroRegistry(endpoints.schemaRegistry.url),
    CONTRACTS.touchpoint,
    valueSubject(`${prefix}.touchpoints`),
  );
  const producer = await connectProducer({ brokers, clientId: `${prefix}-producer` });
  await producer.send(
    `${prefix}.touchpoints`,
    // As ciclo's producers write them: a link to every partition (schemas/topics.ts touchpointRecords).
    (await Promise.all(events.map(async (e) => touchpointRecords(e, await serde.encode(e), PARTITIONS))))
      .flat()
      .map((r) => (timestamp === undefined ? r : { ...r, timestamp })),
  );
  await producer.close();
}

/**
 * Waits until the run's processors have committed every touchpoint and every identity record (with their
 * outputs): a customer whose ids live on several partitions gets its last changes after its partition reads
 * the others' progress (test/support/group-lag.ts `settled`).
 */
async function processedAll(prefix: string): Promise<void> {
  await settled(brokers, processorGroup(prefix), [`${prefix}.touchpoints`, `${prefix}.lifecycle-identity`]);
}

/** Waits until the processors have committed part of what is waiting for them now. */
async function committedSome(prefix: string): Promise<void> {
  const admin = await connectTopicAdmin(brokers);
  const waiting = await admin
    .groupLag(processorGroup(prefix), `${prefix}.touchpoints`)
    .finally(() => admin.close());
  await untilLag(prefix, (lag) => lag < waiting, 'the processor to commit a transaction');
}

const processorGroup = (prefix: string): string => `${prefix}-processor-five-stage`;

async function untilLag(prefix: string, reached: (lag: number) => boolean, what: string): Promise<void> {
  const admin = await connectTopicAdmin(brokers);
  try {
    await eventually(
      async () =>
        reached(await admin.groupLag(processorGroup(prefix), `${prefix}.touchpoints`)) ? true : undefined,
      120_000,
      what,
    );
  } finally {
    await admin.close();
  }
}

/**
 * Every record of an output topic (read committed) once the processors are done: the reader runs until it
 * holds at least `atLeast` records, the processors have consumed all input, and a fence has been passed,
 * so a duplicate committed at any time before would be among them.
 */
async function readOutput(
  prefix: string,
  topic: string,
  atLeast: number,
  onRecord: (m: IncomingMessage) => Promise<boolean>,
): Promise<void> {
  const fence = topicFence(brokers, topic, PARTITIONS);
  let kept = 0;
  const consumer = await connectConsumer({
    brokers,
    groupId: uniqueName(`${prefix}-reader`),
    topics: [topic],
    fromBeginning: true,
    commitOffsets: false,
  });
  try {
    await consumer.run(async (batch) => {
      for (const m of batch) if (!fence.isFence(m) && (await onRecord(m))) kept += 1;
    });
    await eventually(
      () => Promise.resolve(kept >= atLeast ? true : undefined),
      120_000,
      `${atLeast} records of ${topic} (saw ${kept})`,
    );
    await processedAll(prefix);
    await fence.raise();
    await eventually(
      () => Promise.resolve(fence.passed() ? true : undefined),
      60_000,
      `the fence of ${topic}`,
    );
  } finally {
    await consumer.stop();
  }
}

/** The stage changes of a run, once the processors are done (at least `expected` of them). */
async function readStageChanges(prefix: string, expected: number): Promise<StageChanged[]> {
  const registry = createAvroRegistry(endpoints.schemaRegistry.url);
  const serde = await createSerde(registry, CONTRACTS.stageChanged, valueSubject(`${prefix}.stage-changes`));
  const seen: StageChanged[] = [];
  await readOutput(prefix, `${prefix}.stage-changes`, expected, async (m) => {
    const d = await serde.decode(m.value!);
    if (d.ok) seen.push(d.value);
    return d.ok;
  });
  return seen;
}

/** The latest snapshot per customer of the five-stage model, once the processors are done. */
async function readSnapshots(prefix: string): Promise<Map<string, CustomerSnapshot>> {
  const registry = createAvroRegistry(endpoints.schemaRegistry.url);
  const serde = await createSerde(
    registry,
    CONTRACTS.customerSnapshot,
    valueSubject(`${prefix}.customer-snapshots`),
  );
  const latest = new Map<string, CustomerSnapshot>();
  await readOutput(prefix, `${prefix}.customer-snapshots`, 1, async (m) => {
    if (!m.value) return true;
    const d = await serde.decode(m.value);
    if (d.ok) latest.set(d.value.customerId, d.value);
    return true;
  });
  return latest;
}

describe('ciclo process', () => {
  const model = loadModel('five-stage');

  it('is exactly once across three SIGKILLs while touchpoints flow', async () => {
    const prefix = uniqueName('it-eos-kill');
    await createTopics(prefix);
    try {
      const events = journeys(prefix, 90);
      const expected = canonicalOrder(
        replay(events, model, { partitions: 3, gracePeriodMs: 0 }).stageChanges,
      );
      expect(expected.length).toBeGreaterThan(200);
      // Identity links across partitions are part of it: anonymous histories and aliased customers merged.
      expect(expected.filter((c) => c.ruleId === 'identity-merge').length).toBeGreaterThan(40);

      let child = startProcessor(prefix);
      const chunks = 8;
      const size = Math.ceil(events.length / chunks);
      for (let k = 0; k < chunks; k++) {
        await produce(prefix, events.slice(k * size, (k + 1) * size));
        if (k === 1 || k === 3 || k === 5) {
          await committedSome(prefix); // mid-work: it has committed a transaction since it started
          await stopProcess(child, 'SIGKILL');
          child = startProcessor(prefix);
        }
      }
      const got = canonicalOrder(await readStageChanges(prefix, expected.length));
      await stopProcess(child, 'SIGTERM');
      expect(got.length).toBe(expected.length);
      expect(got).toEqual(expected);
    } finally {
      await deleteTopics(prefix);
    }
  });

  // A grace period longer than the whole input keeps every touchpoint waiting in the reorder buffer until
  // the input goes quiet: over 7,000 per partition here, as `--grace 60000` holds a busy shop's minute. Each
  // waits as a changelog record of its own. When the partition's record held the whole buffer (~2 MB here),
  // the broker refused it (message.max.bytes) and every transaction failed from then on.
  it('keeps thousands of touchpoints waiting out a long grace period, across a SIGKILL', async () => {
    const prefix = uniqueName('it-eos-grace');
    await createTopics(prefix);
    try {
      const events = journeys(prefix, 4000);
      const graceMs = 20 * 365 * DAY;
      expect(events.at(-1)!.occurredAt - events[0]!.occurredAt).toBeLessThan(graceMs);
      const expected = canonicalOrder(
        replay(events, model, { partitions: 3, gracePeriodMs: 0 }).stageChanges,
      );
      // The first instance does not flush while the test runs: whatever it consumed waits in its buffer.
      const first = startProcessor(prefix, { graceMs, idleFlushMs: 600_000 });
      const firstLog = watchLog(first);
      await started(first);
      await produce(prefix, events);
      // Until its changelog holds a record per touchpoint: the buffer, committed while it waits.
      const admin = await connectTopicAdmin(brokers);
      try {
        await eventually(
          async () => {
            const spans = await admin.offsetSpans([`${prefix}.${CHANGELOG}`]);
            return (spans.get(`${prefix}.${CHANGELOG}`) ?? 0) >= events.length ? true : undefined;
          },
          90_000,
          'the waiting touchpoints in the changelog',
        );
      } finally {
        await admin.close();
      }
      expect(firstLog.filter((l) => /fail|error/i.test(l.msg)).map((l) => l.msg)).toEqual([]);
      await stopProcess(first, 'SIGKILL');
      // The next restores the buffer from the changelog, and applies it once its input is quiet.
      const second = startProcessor(prefix, { graceMs });
      const got = canonicalOrder(await readStageChanges(prefix, expected.length));
      await stopProcess(second, 'SIGTERM');
      expect(got.length).toBe(expected.length);
      expect(got).toEqual(expected);
    } finally {
      await deleteTopics(prefix);
    }
  });

  // An instance stopped while it is still starting up must leave the other with all partitions, promptly
  // and exactly once: stopped while it joins the group (before it logs that it started), or while it
  // restores the partitions it was just given. SIGTERM stops it cleanly, however early: it leaves the group,
  // so its partitions move at once. SIGKILL leaves them to the session timeout (10 s). `settleMs`: by then the
  // stopped instance is surely out of the group (plus a heartbeat interval for the first to notice).
  const startupStops = [
    ['SIGTERM', 'joining', 6_000],
    ['SIGTERM', 'restoring', 6_000],
    ['SIGKILL', 'joining', 18_000],
    ['SIGKILL', 'restoring', 18_000],
  ] as const;
  it.each(startupStops)(
    'leaves all partitions to the running instance when a second one is stopped (%s) while %s',
    async (signal, moment, settleMs) => {
      const prefix = uniqueName(`it-eos-startup-${signal.toLowerCase()}-${moment}`);
      const group = `${prefix}-processor-${model.id}`;
      await createTopics(prefix);
      const first = startProcessor(prefix);
      const firstLog = watchLog(first);
      let second: ChildProcess | undefined;
      try {
        await started(first);
        const events = journeys(prefix, 60);
        const expected = canonicalOrder(
          replay(events, model, { partitions: 3, gracePeriodMs: 0 }).stageChanges,
        );
        const half = Math.floor(events.length / 2);
        await produce(prefix, events.slice(0, half));
        /** Partitions the first instance owns now, by its log: restored and not revoked since. */
        const owned = (): Set<number> => {
          const own = new Set<number>();
          for (const l of firstLog) {
            if (l.msg === 'partition restored') own.add(l.partition!);
            if (l.msg === 'partition revoked') own.delete(l.partition!);
          }
          return own;
        };
        await eventually(
          () => Promise.resolve(owned().size === 3 ? true : undefined),
          30_000,
          'the first instance owning all three partitions',
        );

        second = startProcessor(prefix, { verbose: true });
        const secondLog = watchLog(second);
        const exited = new Promise<number | null>((resolve) => second!.once('exit', resolve));
        await eventually(
          () =>
            Promise.resolve(
              secondLog.some((l) =>
                moment === 'joining'
                  ? l.msg === 'Starting' && l.kafka?.groupId === group // kafkajs, before its JoinGroup
                  : l.msg === 'restoring partition',
              )
                ? true
                : undefined,
            ),
          60_000,
          `the second instance ${moment}`,
        );
        await stopProcess(second, signal);
        const settled = Date.now() + settleMs;
        const secondMessages = secondLog.map((l) => l.msg);
        if (moment === 'joining') expect(secondMessages).not.toContain('processor started');
        if (signal === 'SIGTERM') {
          expect(await exited).toBe(0);
          expect(secondMessages).toContain('processor stopped');
        }

        // The first instance owns every partition again (and has restored it), without new input. (Killed
        // while joining, the second may still get partitions until its session times out: hence `settled`.)
        await eventually(
          () => Promise.resolve(owned().size === 3 && Date.now() > settled ? true : undefined),
          settleMs + 10_000,
          'the first instance owning all three partitions again',
        );
        await produce(prefix, events.slice(half));
        const got = canonicalOrder(await readStageChanges(prefix, expected.length));
        expect(got).toEqual(expected);
        expect(owned().size).toBe(3);
      } finally {
        if (second) await stopProcess(second, 'SIGKILL');
        await stopProcess(first, 'SIGTERM');
        await deleteTopics(prefix);
      }
    },
    180_000,
  );

  it.each(['SIGTERM', 'SIGKILL'] as const)(
    'processes everything exactly once when, of two instances started together, one is stopped (%s) as soon as the other is up',
    async (signal) => {
      const prefix = uniqueName(`it-eos-early-${signal.toLowerCase()}`);
      await createTopics(prefix);
      const events = journeys(prefix, 60);
      const expected = canonicalOrder(
        replay(events, model, { partitions: 3, gracePeriodMs: 0 }).stageChanges,
      );
      const half = Math.floor(events.length / 2);
      await produce(prefix, events.slice(0, half));
      const first = startProcessor(prefix);
      const second = startProcessor(prefix);
      const secondLog = watchLog(second);
      try {
        await started(first);
        await stopProcess(second, signal);
        if (signal === 'SIGTERM') expect(secondLog.map((l) => l.msg)).toContain('processor stopped');
        await produce(prefix, events.slice(half));
        const got = canonicalOrder(await readStageChanges(prefix, expected.length));
        expect(got).toEqual(expected);
      } finally {
        await stopProcess(second, 'SIGKILL');
        await stopProcess(first, 'SIGTERM');
        await deleteTopics(prefix);
      }
    },
    180_000,
  );

  it('hands partitions over when one of two instances stops, exactly once; dead-letters a poison message', async () => {
    const prefix = uniqueName('it-eos-two');
    await createTopics(prefix);
    const first = startProcessor(prefix);
    const second = startProcessor(prefix);
    // Stopping an instance that is still starting up is covered above; this one stops a running instance.
    await Promise.all([started(first), started(second)]);
    try {
      const events = journeys(prefix, 60);
      const expected = canonicalOrder(
        replay(events, model, { partitions: 3, gracePeriodMs: 0 }).stageChanges,
      );
      const half = Math.floor(events.length / 2);
      await produce(prefix, events.slice(0, half));
      const poison = await connectProducer({ brokers, clientId: `${prefix}-poison` });
      await poison.send(`${prefix}.touchpoints`, [
        { key: `${prefix}-c1`, value: Buffer.from('{"not":"avro"}') },
      ]);
      await poison.close();
      await processedAll(prefix);
      await stopProcess(first, 'SIGTERM');
      await produce(prefix, events.slice(half));
      const got = canonicalOrder(await readStageChanges(prefix, expected.length));
      expect(got).toEqual(expected);

      const dead: { reason?: string; source?: string }[] = [];
      const reader = await connectConsumer({
        brokers,
        groupId: uniqueName('it-dlq'),
        topics: [`${prefix}.touchpoints.dlq`],
        fromBeginning: true,
        commitOffsets: false,
      });
      await reader.run((batch) => {
        for (const m of batch)
          dead.push({
            reason: m.headers[DEAD_LETTER_HEADERS.reason],
            source: m.headers[DEAD_LETTER_HEADERS.sourceTopic],
          });
        return Promise.resolve();
      });
      await eventually(
        () => Promise.resolve(dead.length >= 1 ? true : undefined),
        30_000,
        'the poison message in the dead-letter topic',
      );
      await reader.stop();
      expect(dead).toEqual([{ reason: 'undecodable', source: `${prefix}.touchpoints` }]);

      // After a fix, the corrected event is replayed from the dead letters, keeping its event time.
      const listed = await runCiclo(['dlq', 'list', '--topic', `${prefix}.touchpoints.dlq`, '--json']);
      const entry = JSON.parse(listed.stdout.trim().split('\n')[0]!) as { reason: string; source: string };
      expect(entry.reason).toBe('undecodable');
      expect(entry.source).toContain(`${prefix}.touchpoints[`);
      const corrected: Touchpoint = {
        eventId: `${prefix}-fixed`,
        type: 'PurchaseCompleted',
        customerId: `${prefix}-fixed-customer`,
        occurredAt: T0 + 5 * DAY,
        receivedAt: T0 + 5 * DAY,
        source: { kind: 'api', name: 'shop' },
        payload: { orderId: 'fixed', lineItems: [], amountMinor: 100, currency: 'EUR' },
      };
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ciclo-dlq-')), 'corrected.ndjson');
      fs.writeFileSync(file, `${JSON.stringify(corrected)}\n`);
      const replayed = await runCiclo([
        'dlq',
        'replay',
        '--topic',
        `${prefix}.touchpoints.dlq`,
        '--corrected',
        file,
        '--to',
        `${prefix}.touchpoints`,
      ]);
      expect(replayed.stdout).toContain(`replayed 1 corrected touchpoint(s) to ${prefix}.touchpoints`);
      const after = await readStageChanges(prefix, expected.length + 2);
      const fixed = after
        .filter((c) => c.customerId === `${prefix}-fixed-customer`)
        .map((c) => [c.toStage, c.occurredAt]);
      // Its original event time is kept: it enters at day 5, and stream time (day 400) then demotes it.
      expect(fixed.slice(0, 2)).toEqual([
        ['reach', T0 + 5 * DAY],
        ['conversion', T0 + 5 * DAY],
      ]);
    } finally {
      await stopProcess(first, 'SIGTERM');
      await stopProcess(second, 'SIGTERM');
      await deleteTopics(prefix);
    }
  });

  // Issue 18 (a): the truth for a set of touchpoints is its replay on one partition, sorted by event time.
  // A pipeline that has processed a simulated year gets a second year of other customers, overlapping the
  // first by half a year, imported from a file sorted by customer (as shop exports come), while its processor
  // is SIGKILLed three times. Its lane keeps the first year's clock from firing the second year's customers'
  // deadlines, and the first year's from being fired past the import: the stage changes are the truth for
  // both years, none missing, none extra, none twice.
  it('gives the truth when an overlapping year is imported in customer order into a running pipeline, across three SIGKILLs', async () => {
    const prefix = uniqueName('it-eos-import');
    await createTopics(prefix);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ciclo-import-'));
    const start = Date.UTC(2023, 0, 1);
    const year = simulate({ customers: 400, seed: 181, days: 365, start });
    const later = simulate({ customers: 400, seed: 182, days: 365, start: start + 182 * DAY });
    const end = Math.max(...later.map((tp) => tp.occurredAt)) + DAY;
    // One visit on every partition at the end: each partition's input ends where the set does.
    const second = [...later, ...clockVisits(end, 24)];
    const truth = canonicalOrder(
      replay(asImportRun('truth', [...year, ...second]), model, { partitions: 1, gracePeriodMs: 0 })
        .stageChanges,
    );
    const afterFirst = replay(asImportRun('first', year), model, { partitions: 3, gracePeriodMs: 0 });
    expect(truth.filter((c) => c.toStage === 'at_risk').length).toBeGreaterThan(30);
    expect(truth.filter((c) => c.toStage === 'lapsed').length).toBeGreaterThan(10);
    const keyOf = (tp: Touchpoint): string => tp.customerId ?? tp.anonymousId ?? '';
    const writeFile = (name: string, events: Touchpoint[]): string => {
      const file = path.join(dir, name);
      fs.writeFileSync(file, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
      return file;
    };
    const firstFile = writeFile('year.ndjson', year);
    const secondFile = writeFile(
      'later-by-customer.ndjson',
      [...second].sort((a, b) =>
        keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : a.occurredAt - b.occurredAt,
      ),
    );
    const serde = await createSerde(
      createAvroRegistry(endpoints.schemaRegistry.url),
      CONTRACTS.touchpoint,
      valueSubject(`${prefix}.touchpoints`),
    );
    const producer = await connectProducer({ brokers, clientId: `${prefix}-import` });
    const importRun = (file: string) =>
      importFile({
        format: 'ndjson',
        file,
        producer,
        serde,
        topic: `${prefix}.touchpoints`,
        receivedAt: Date.now(),
        partitions: 3,
        batchSize: 100,
      });
    let child = startProcessor(prefix);
    try {
      expect((await importRun(firstFile)).eventsProduced).toBe(year.length);
      // The first year is processed before the second comes.
      await readStageChanges(prefix, afterFirst.stageChanges.length);
      const importing = importRun(secondFile);
      // Kills at fixed moments of the import: a schedule of faults, not a wait for something to happen.
      for (const wait of [400, 1500, 2500]) {
        await new Promise((r) => setTimeout(r, wait));
        await stopProcess(child, 'SIGKILL');
        child = startProcessor(prefix);
      }
      expect((await importing).eventsProduced).toBe(second.length);
      const got = canonicalOrder(await readStageChanges(prefix, truth.length));
      expect(got.length).toBe(truth.length);
      expect(got).toEqual(truth);
    } finally {
      await producer.close();
      await stopProcess(child, 'SIGTERM');
      await deleteTopics(prefix);
    }
  });

  // Issue 18 (c): a raw HTTP sender that retries a call with the same messageId and no timestamp gets a
  // second receivedAt, so a second event time, for the same event: the processor counts it once.
  it('counts a purchase retried with the same messageId and no timestamp once', async () => {
    const prefix = uniqueName('it-eos-retry');
    await createTopics(prefix);
    const writeKey = uniqueName('key');
    const port = await freePort();
    const collector = spawn(
      process.execPath,
      [CICLO_BIN, 'collect', '--port', String(port), '--topic', `${prefix}.touchpoints`],
      {
        env: { ...process.env, CICLO_WRITE_KEYS: `shop:${writeKey}`, CICLO_LOG_LEVEL: 'warn' },
        stdio: 'ignore',
      },
    );
    children.add(collector);
    const processor = startProcessor(prefix);
    try {
      const base = `http://127.0.0.1:${port}`;
      await eventually(
        async () => ((await fetch(`${base}/health`).catch(() => undefined))?.ok ? true : undefined),
        60_000,
        'collector health',
      );
      const customer = `${prefix}-buyer`;
      const call = {
        userId: customer,
        messageId: `${prefix}-order-1`,
        event: 'Order Completed',
        properties: { order_id: `${prefix}-o1`, total: 25, currency: 'EUR' },
      };
      for (let i = 0; i < 2; i++) {
        const res = await fetch(`${base}/v1/track`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`,
          },
          body: JSON.stringify(call),
        });
        expect(res.status).toBe(202);
        await new Promise((r) => setTimeout(r, 1200)); // the retry comes later: another receivedAt
      }
      // A visit after both, so that the customer's stage changes are all in when it shows up.
      await produce(prefix, [
        {
          eventId: `${prefix}-later`,
          type: 'PageViewed',
          customerId: customer,
          occurredAt: Date.now(),
          receivedAt: Date.now(),
          source: { kind: 'api', name: 'shop' },
          payload: { path: '/' },
        },
      ]);
      const changes = (await readStageChanges(prefix, 2)).filter((c) => c.customerId === customer);
      // reach and conversion; a purchase counted twice would be a repeat purchase: retention.
      expect(changes.map((c) => c.toStage)).toEqual(['reach', 'conversion']);
      const snapshots = await readSnapshots(prefix);
      expect(snapshots.get(customer)?.orders).toBe(1);
    } finally {
      await stopProcess(collector, 'SIGTERM');
      await stopProcess(processor, 'SIGTERM');
      await deleteTopics(prefix);
    }
  });

  // Issue 20 (5): one id with purchases on 200,000 distinct days, 1990 to 2537, as a producer of one's own
  // can write them where the broker takes record times that far ahead (Kafka 3.x's default; the topic is set
  // so here). Its distinct purchase days, unbounded, took its changelog record past 1 MiB at about 150,000:
  // the transaction failed, and the processor with it.
  it('keeps going with a customer who bought on 200,000 distinct days, across a SIGKILL', async () => {
    const prefix = uniqueName('it-eos-whale');
    await createTopics(prefix, { 'message.timestamp.after.max.ms': '9223372036854775807' });
    const whale = `${prefix}-whale`;
    const first = Date.UTC(1990, 0, 1);
    const days = 200_000;
    const buys: Touchpoint[] = Array.from({ length: days }, (_, d) => ({
      eventId: `${prefix}-buy-${d}`,
      type: 'PurchaseCompleted',
      customerId: whale,
      occurredAt: first + d * DAY,
      receivedAt: first + d * DAY,
      source: { kind: 'api', name: 'shop' },
      payload: { orderId: `o${d}`, lineItems: [], amountMinor: 100, currency: 'EUR' },
    }));
    const recordTime = Date.UTC(2999, 0, 1); // after every event time: none is taken as ahead of its record
    let child = startProcessor(prefix);
    try {
      await produce(prefix, buys.slice(0, days / 2), recordTime);
      await processedAll(prefix);
      await stopProcess(child, 'SIGKILL'); // the next instance restores the customer from the changelog
      child = startProcessor(prefix);
      await produce(prefix, buys.slice(days / 2), recordTime);
      const snapshot = (await readSnapshots(prefix)).get(whale);
      expect(snapshot).toMatchObject({ orders: days, purchaseCadenceDays: 1 });
      let largest = 0;
      await readOutput(prefix, `${prefix}.${CHANGELOG}`, 1, (m) => {
        largest = Math.max(largest, (m.key?.length ?? 0) + (m.value?.length ?? 0));
        return Promise.resolve(true);
      });
      expect(largest).toBeGreaterThan(0);
      expect(largest).toBeLessThan(64 * 1024);
      expect(child.exitCode).toBeNull();
    } finally {
      await stopProcess(child, 'SIGTERM');
      await deleteTopics(prefix);
    }
  }, 300_000); // 200,000 touchpoints to produce and process
});
