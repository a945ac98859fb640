/**
 * ciclo's pipeline on the test cluster (test/support/cluster.ts), under load, for the fault tests of
 * issue 23: `ciclo collect` and two `ciclo process` instances as child processes, the projector in this
 * process, a paced sender of simulated journeys through the collector, and readers that tell what reached
 * each topic and ClickHouse. Every run has topics of a namespace and a ClickHouse database of its own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connectClickHouseServer, type ClickHouseEngine } from '../../infra/clickhouse/engine';
import { connectTopicAdmin } from '../../infra/kafka/admin';
import { connectConsumer } from '../../infra/kafka/consumer';
import type { IncomingMessage } from '../../infra/kafka/types';
import { createLogger } from '../../infra/log';
import { loadInstallationSecret } from '../../infra/privacy/installation-secret';
import { provisionTopicsAndSchemas } from '../../infra/registry/provision';
import { createAvroRegistry } from '../../infra/registry/schema-registry';
import { createSerde } from '../../infra/registry/serde';
import { freePort } from '../../infra/stack/processes';
import { asImportRun, canonicalOrder, replay } from '../../processors/domain/replay';
import { DEFAULT_MODEL_ID } from '../../processors/domain/model';
import { loadModel } from '../../processors/runtime/model-file';
import { simulate } from '../../producers/simulate/simulate';
import { toSegmentCall } from '../../producers/simulate/segment-calls';
import { dropDatabaseSql, migrateConfigured } from '../../projections/migrations/migrate';
import { startProjector, type RunningProjector } from '../../projections/projector/projector';
import { identifier } from '../../projections/sql';
import { CONTRACTS } from '../../schemas/contracts';
import { collectorEventId } from '../../schemas/event-id';
import type { StageChanged } from '../../schemas/outputs';
import {
  isLinkCopy,
  lifecycleStateTopicOf,
  namespacedTopics,
  projectorGroupOf,
  valueSubject,
} from '../../schemas/topics';
import type { Touchpoint } from '../../schemas/touchpoint';
import { CICLO_BIN } from './cli';
import { underReplicatedPartitions, type TestCluster } from './cluster';
import { topicFence } from './fence';
import { drained, settled } from './group-lag';
import { clockVisits } from './journeys';
import { eventually, uniqueName } from './services';

const WRITE_KEY = 'sk-cluster';
const WRITE_KEY_SOURCE = 'shop';
const DAY = 86_400_000;

export interface ClusterPipeline {
  readonly ns: string;
  readonly topics: ReturnType<typeof namespacedTopics>;
  readonly processorGroup: string;
  readonly processors: ChildProcess[];
  readonly clickhouse: ClickHouseEngine;
  readonly collectorUrl: string;
  /** Where each child's log goes (stderr), kept for diagnosis. */
  readonly logDir: string;
  stop(): Promise<void>;
}

export async function startClusterPipeline(cluster: TestCluster, tag: string): Promise<ClusterPipeline> {
  const ns = uniqueName(`itcl-${tag}`).replace(/-/g, '_');
  const topics = namespacedTopics(ns);
  const endpoints = cluster.config.endpoints;
  const brokers = endpoints.kafka.brokers;
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), `${ns}-`));
  const env = { ...cluster.env, CLICKHOUSE_DATABASE: ns, CICLO_LOG_LEVEL: 'info' };

  // The cluster whole again after the previous run's fault: every broker up and every partition in sync.
  await eventually(
    async () => ((await underReplicatedPartitions(brokers).catch(() => -1)) === 0 ? true : undefined),
    120_000,
    'every partition in sync before the run',
  );
  const admin = await connectTopicAdmin(brokers);
  // The model's changelog too: the two processors below start together (see test/processor.int.spec.ts).
  await provisionTopicsAndSchemas(admin, createAvroRegistry(endpoints.schemaRegistry.url), [
    ...Object.values(topics),
    lifecycleStateTopicOf(DEFAULT_MODEL_ID, ns),
  ]);
  await admin.close();
  await migrateConfigured(endpoints.clickhouse, { database: ns });
  const clickhouse = connectClickHouseServer({
    url: endpoints.clickhouse.url,
    urls: endpoints.clickhouse.urls,
  });

  const children: ChildProcess[] = [];
  const child = (name: string, args: string[], extraEnv: Record<string, string> = {}): ChildProcess => {
    const c = spawn(process.execPath, [CICLO_BIN, ...args], {
      env: { ...env, ...extraEnv },
      stdio: ['ignore', 'ignore', fs.openSync(path.join(logDir, `${name}.log`), 'a')],
    });
    children.push(c);
    return c;
  };
  const collectorPort = await freePort();
  child('collector', ['collect', '--port', String(collectorPort), '--topic', topics.touchpoints.name], {
    CICLO_WRITE_KEYS: `${WRITE_KEY_SOURCE}:${WRITE_KEY}`,
  });
  const processors = [1, 2].map((n) =>
    // As a user runs it: the default idle flush (processors/runtime/start.ts IDLE_FLUSH_MS).
    child(`processor-${n}`, ['process', '--topics-prefix', ns]),
  );
  const projector: RunningProjector = await startProjector({
    endpoints: { ...endpoints, clickhouse: { ...endpoints.clickhouse, database: ns } },
    log: createLogger({ level: 'warn', name: `${ns}-projector` }),
    secret: loadInstallationSecret(cluster.config.home, cluster.config.pseudonymSecret),
    groupId: projectorGroupOf(ns),
    topics: {
      touchpoints: topics.touchpoints.name,
      stageChanges: topics.stageChanges.name,
      customerSnapshots: topics.customerSnapshots.name,
      deadLetter: topics.projectorDeadLetter.name,
    },
    maxWaitTimeMs: 200,
    minBytes: 1,
  });
  const collectorUrl = `http://127.0.0.1:${collectorPort}`;
  await eventually(
    () =>
      fetch(`${collectorUrl}/health`).then(
        (r) => (r.ok ? true : undefined),
        () => undefined,
      ),
    60_000,
    'the collector up',
  );
  return {
    ns,
    topics,
    processorGroup: `${ns}-processor-five-stage`,
    processors,
    clickhouse,
    logDir,
    collectorUrl,
    async stop() {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
      await projector.stop().catch(() => undefined);
      await Promise.all(
        children.map((c) =>
          c.exitCode !== null || c.signalCode !== null
            ? Promise.resolve()
            : new Promise<void>((resolve) => c.once('exit', () => resolve())),
        ),
      );
      await clickhouse.close();
    },
  };
}

export interface LoadReport {
  /** Calls sent, each counted once however often its batch was sent again. */
  sent: number;
  /** Calls the collector answered 202 for. */
  accepted: number;
  /** Requests answered other than 202, or that failed to connect, and sent again. */
  retries: number;
  /** Calls sent again after a 202 (`resendEvery`): copies the pipeline must drop. */
  resent: number;
  acceptedMessageIds: Set<string>;
  /** When each 202 came (ms since epoch), to see the collector's pause. */
  acceptedAt: number[];
}

/**
 * Simulated journeys, in event-time order, and one visit per partition at the end so every partition's
 * clock reaches the end of the set (as in processor.int's import case).
 */
export function clusterJourneys(seed: number, customers: number): Touchpoint[] {
  const start = Date.UTC(2023, 0, 1);
  const events = simulate({ customers, seed, days: 365, start }).sort((a, b) => a.occurredAt - b.occurredAt);
  const end = events[events.length - 1]!.occurredAt + DAY;
  return [...events, ...clockVisits(end, 24)];
}

/**
 * Sends the calls through the collector in order, `perSecond` calls a second in batches, one request at a
 * time; a batch the collector does not take (503 while Kafka is away, a refused connection) is sent again
 * until it is. Every `resendEvery`th batch is sent once more after its 202, as a sender whose own timeout
 * fired before the answer came retries it: the collector takes it again (it keeps no ids), so its calls are
 * on the topic twice.
 */
export function sendPaced(
  collectorUrl: string,
  events: readonly Touchpoint[],
  perSecond: number,
  options: { readonly batchSize?: number; readonly resendEvery?: number } = {},
): { report: LoadReport; done: Promise<LoadReport>; progress(): number } {
  const batchSize = options.batchSize ?? 50;
  const report: LoadReport = {
    sent: 0,
    accepted: 0,
    retries: 0,
    resent: 0,
    acceptedMessageIds: new Set(),
    acceptedAt: [],
  };
  const calls = events.map((tp) => toSegmentCall(tp) as { messageId: string });
  const auth = `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}`;
  const done = (async () => {
    const started = Date.now();
    for (let first = 0; first < calls.length; first += batchSize) {
      const batch = calls.slice(first, first + batchSize);
      const due = started + (first / perSecond) * 1000;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      report.sent += batch.length;
      const resend = options.resendEvery !== undefined && (first / batchSize) % options.resendEvery === 1;
      for (let times = resend ? 2 : 1; times > 0;) {
        const status = await fetch(`${collectorUrl}/v1/batch`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: auth },
          body: JSON.stringify({ batch }),
          signal: AbortSignal.timeout(30_000),
        }).then(
          async (res) => {
            const body = (await res.json().catch(() => ({}))) as { rejected?: unknown[] };
            if (res.status === 202 && body.rejected && body.rejected.length > 0)
              throw new Error(`the collector refused calls: ${JSON.stringify(body.rejected).slice(0, 500)}`);
            return res.status;
          },
          () => 0,
        );
        if (status === 202) {
          times -= 1;
          if (times > 0) report.resent += batch.length;
          continue;
        }
        if (status === 400 || status === 401 || status === 413)
          throw new Error(`the collector answered ${status}: the test's calls are wrong`);
        report.retries += 1;
        await new Promise((r) => setTimeout(r, 250));
      }
      report.accepted += batch.length;
      const now = Date.now();
      for (const c of batch) {
        report.acceptedMessageIds.add(c.messageId);
        report.acceptedAt.push(now);
      }
    }
    return report;
  })();
  return { report, done, progress: () => report.sent / calls.length };
}

/**
 * Polls the processors' committed offsets on the touchpoint topic; `resumedAfter(t)` is when every partition
 * that still had input at `t` had committed past where it stood at `t`: the pipeline processing again.
 */
export function watchCommits(
  brokers: readonly string[],
  group: string,
  topic: string,
): { stop(): Promise<void>; resumedAfter(t: number): number | undefined } {
  const samples: { at: number; committed: Map<number, number>; ends: Map<number, number> }[] = [];
  let running = true;
  const loop = (async () => {
    const admin = await connectTopicAdmin(brokers);
    try {
      while (running) {
        try {
          const [committed, ends] = await Promise.all([
            admin.committedOffsets(group, topic),
            admin.endOffsets(topic),
          ]);
          samples.push({ at: Date.now(), committed, ends });
        } catch {
          // a broker away: the next sample tells
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    } finally {
      await admin.close().catch(() => undefined);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
    },
    resumedAfter(t) {
      const before = [...samples].reverse().find((s) => s.at <= t);
      if (!before) return undefined;
      let resumed = t;
      for (const [partition, offset] of before.committed) {
        const end = before.ends.get(partition) ?? offset;
        if (end <= offset) continue; // nothing waiting on it then
        const next = samples.find((s) => s.at > t && (s.committed.get(partition) ?? -1) > offset);
        if (!next) return undefined;
        resumed = Math.max(resumed, next.at);
      }
      return resumed;
    },
  };
}

/**
 * Every record of `topic` up to a fence raised once its writers are done (test/support/fence.ts): whatever
 * was committed before, duplicates included, is in the result.
 */
export async function readTopic(
  brokers: readonly string[],
  topic: string,
  partitions: number,
): Promise<IncomingMessage[]> {
  const fence = topicFence(brokers, topic, partitions);
  const seen: IncomingMessage[] = [];
  const consumer = await connectConsumer({
    brokers,
    groupId: uniqueName('itcl-reader'),
    topics: [topic],
    fromBeginning: true,
    commitOffsets: false,
  });
  try {
    await consumer.run((batch) => {
      for (const m of batch) if (!fence.isFence(m)) seen.push(m);
      return Promise.resolve();
    });
    await fence.raise();
    await eventually(
      () => Promise.resolve(fence.passed() ? true : undefined),
      120_000,
      `the fence of ${topic}`,
    );
  } finally {
    await consumer.stop();
  }
  return seen;
}

export interface PipelineOutcome {
  readonly touchpointsOnKafka: number;
  readonly duplicateTouchpointsOnKafka: number;
  readonly acceptedMissingOnKafka: string[];
  readonly stageChangesExpected: StageChanged[];
  readonly stageChangesFound: StageChanged[];
  /** Identity records the processors had still to commit when they had committed every touchpoint. */
  readonly identityLagWhenTouchpointsDrained: number;
}

/** What reached Kafka, and the truth for it: `ciclo lifecycle replay --partitions 1` of the set. */
export async function outcomeOnKafka(
  cluster: TestCluster,
  pipeline: ClusterPipeline,
  load: LoadReport,
): Promise<PipelineOutcome> {
  const endpoints = cluster.config.endpoints;
  const brokers = endpoints.kafka.brokers;
  const registry = createAvroRegistry(endpoints.schemaRegistry.url);
  const touchpointSerde = await createSerde(
    registry,
    CONTRACTS.touchpoint,
    valueSubject(pipeline.topics.touchpoints.name),
  );
  const facts = new Map<string, Touchpoint>();
  let duplicates = 0;
  for (const m of await readTopic(
    brokers,
    pipeline.topics.touchpoints.name,
    pipeline.topics.touchpoints.partitions,
  )) {
    if (!m.value || isLinkCopy(m.headers)) continue;
    const decoded = await touchpointSerde.decode(m.value);
    if (!decoded.ok) throw new Error(`a touchpoint on Kafka does not decode: ${decoded.error}`);
    if (facts.has(decoded.value.eventId)) duplicates += 1;
    facts.set(decoded.value.eventId, decoded.value);
  }

  const truth = canonicalOrder(
    replay(asImportRun('truth', facts.values()), loadModel('five-stage'), { partitions: 1, gracePeriodMs: 0 })
      .stageChanges,
  );
  await drained(brokers, pipeline.processorGroup, pipeline.topics.touchpoints.name);
  const identityLagWhenTouchpointsDrained = await identityLag(brokers, pipeline);
  await settled(brokers, pipeline.processorGroup, [
    pipeline.topics.touchpoints.name,
    pipeline.topics.lifecycleIdentity.name,
  ]);
  const stageSerde = await createSerde(
    registry,
    CONTRACTS.stageChanged,
    valueSubject(pipeline.topics.stageChanges.name),
  );
  const found: StageChanged[] = [];
  for (const m of await readTopic(
    brokers,
    pipeline.topics.stageChanges.name,
    pipeline.topics.stageChanges.partitions,
  )) {
    if (!m.value) continue;
    const decoded = await stageSerde.decode(m.value);
    if (decoded.ok) found.push(decoded.value);
  }
  return {
    touchpointsOnKafka: facts.size,
    duplicateTouchpointsOnKafka: duplicates,
    // The collector keys an event by its source (the write key's name) and messageId (schemas/event-id.ts).
    acceptedMissingOnKafka: [...load.acceptedMessageIds].filter(
      (id) => !facts.has(collectorEventId(WRITE_KEY_SOURCE, id)),
    ),
    stageChangesExpected: truth,
    stageChangesFound: canonicalOrder(found),
    identityLagWhenTouchpointsDrained,
  };
}

async function identityLag(brokers: readonly string[], pipeline: ClusterPipeline): Promise<number> {
  const admin = await connectTopicAdmin(brokers);
  try {
    return await admin.groupLag(pipeline.processorGroup, pipeline.topics.lifecycleIdentity.name);
  } finally {
    await admin.close();
  }
}

/** Rows of a table counted through the Distributed table, and on each replica's local table. */
export async function clickhouseCounts(
  cluster: TestCluster,
  pipeline: ClusterPipeline,
  table: 'touchpoints' | 'stage_changes',
): Promise<{ distinct: number; rows: number; perReplica: number[] }> {
  const db = identifier(pipeline.ns);
  const [row] = await pipeline.clickhouse.query<{ distinct: string; rows: string }>(
    `SELECT uniqExact(event_id) AS distinct, count() AS rows FROM ${db}.${table} FINAL`,
  );
  const perReplica: number[] = [];
  for (const url of cluster.config.endpoints.clickhouse.urls) {
    const replica = connectClickHouseServer({ url });
    try {
      const [r] = await replica.query<{ n: string }>(`SELECT count() AS n FROM ${db}.${table}_local FINAL`);
      perReplica.push(Number(r?.n ?? -1));
    } finally {
      await replica.close();
    }
  }
  return { distinct: Number(row?.distinct ?? -1), rows: Number(row?.rows ?? -1), perReplica };
}

/** Waits until the projector has committed all it reads. */
export async function projected(cluster: TestCluster, pipeline: ClusterPipeline): Promise<void> {
  const brokers = cluster.config.endpoints.kafka.brokers;
  const group = projectorGroupOf(pipeline.ns);
  for (const topic of [
    pipeline.topics.touchpoints.name,
    pipeline.topics.stageChanges.name,
    pipeline.topics.customerSnapshots.name,
  ])
    await drained(brokers, group, topic);
}

export async function dropRun(cluster: TestCluster, pipeline: ClusterPipeline): Promise<void> {
  const name = cluster.config.endpoints.clickhouse.cluster;
  const engine = connectClickHouseServer({
    url: cluster.config.endpoints.clickhouse.url,
    urls: cluster.config.endpoints.clickhouse.urls,
  });
  await engine.command(dropDatabaseSql(pipeline.ns, name)).finally(() => engine.close());
  const admin = await connectTopicAdmin(cluster.config.endpoints.kafka.brokers);
  const names = (await admin.listTopics()).filter((t) => t.startsWith(`${pipeline.ns}.`));
  await admin.deleteTopics(names).finally(() => admin.close());
}

/**
 * How two lists of stage changes differ, by event id, in readable lines: `structural` what is missing, extra,
 * found twice, or found with another stage (from or to); `attribution` a change to the same stage, at the
 * same place in the customer's sequence, credited to another rule, time or triggering events.
 */
export function stageChangeDifferences(
  expected: readonly StageChanged[],
  found: readonly StageChanged[],
): { structural: string[]; attribution: string[] } {
  const show = (c: StageChanged): string =>
    `${c.customerId} #${c.sequence} ${c.fromStage ?? '-'}->${c.toStage} (${c.ruleId}, ${new Date(c.occurredAt).toISOString()})`;
  const byId = new Map(expected.map((c) => [c.eventId, c]));
  const seen = new Set<string>();
  const structural: string[] = [];
  const attribution: string[] = [];
  for (const c of found) {
    const want = byId.get(c.eventId);
    if (seen.has(c.eventId)) structural.push(`twice: ${show(c)}`);
    else if (!want) structural.push(`extra: ${show(c)}`);
    else if (want.fromStage !== c.fromStage || want.toStage !== c.toStage)
      structural.push(`other stage: expected ${show(want)}, found ${show(c)}`);
    else if (canonicalJson(want) !== canonicalJson(c))
      attribution.push(`expected ${show(want)}, found ${show(c)}`);
    seen.add(c.eventId);
  }
  for (const c of expected) if (!seen.has(c.eventId)) structural.push(`missing: ${show(c)}`);
  return { structural, attribution };
}

/** JSON with sorted keys and no undefined fields: an Avro record and a plain object compare alike. */
function canonicalJson(value: object): string {
  const plain = Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
  return JSON.stringify(plain, Object.keys(plain).sort());
}
