/**
 * The pipeline figures of `npm run bench`, measured on the real services:
 * - e2eEventsPerSec: simulated touchpoints produced as fast as the raw producer can, through the lifecycle
 *   processor (exactly-once transactions) to stage changes on Kafka, and through the projector into
 *   ClickHouse; the clock stops when ClickHouse holds every touchpoint and every stage change that the pure
 *   replay of the same input says there must be.
 * - e2eLatencyP50Ms/P99Ms: at a steady rate (a share of the e2e maximum), first purchases of new customers;
 *   for a sample of them, the time from the send to the customer's stage change being queryable in
 *   ClickHouse (touchpoint -> processor -> stage-change topic -> projector -> ClickHouse).
 * - collectorEventsPerSec: Segment batches over HTTP to `ciclo collect` (its own process, as deployed), Avro
 *   out to Kafka, counted when answered 202.
 * Each run gets its own topics and database, so runs never see each other's data. Processor and projector
 * run in processes of their own (bench/worker.ts), as `ciclo process` and `ciclo project` do when deployed.
 */
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { connectClickHouseServer } from '../infra/clickhouse/engine';
import type { ServiceEndpoints } from '../infra/config';
import { connectTopicAdmin } from '../infra/kafka/admin';
import { connectConsumer } from '../infra/kafka/consumer';
import { connectProducer, type MessageProducer } from '../infra/kafka/producer';
import { createAvroRegistry } from '../infra/registry/schema-registry';
import { loadModel } from '../processors/runtime/model-file';
import { replay } from '../processors/domain/replay';
import { prepareBatches, sendPreparedToCollector } from '../producers/collector/client';
import { toSegmentCall } from '../producers/simulate/segment-calls';
import { dropDatabaseSql, migrateConfigured } from '../projections/migrations/migrate';
import { identifier, stringLiteral } from '../projections/sql';
import { CONTRACTS } from '../schemas/contracts';
import { createSerde } from '../infra/registry/serde';
import { partitionFor } from '../schemas/partitioner';
import { deadLetterTopicFor, touchpointRecords, valueSubject } from '../schemas/topics';
import type { Touchpoint } from '../schemas/touchpoint';
import { cpuMicrosPerEvent, cpuPerEvent, cpuSnapshot, type CpuSnapshot } from './cpu';
import { median } from './fold';
import { freePort } from '../infra/stack/processes';

export const PARTITIONS = 6;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Pipeline {
  readonly run: string;
  readonly topics: {
    touchpoints: string;
    stageChanges: string;
    customerSnapshots: string;
    changelog: string;
    deadLetter: string;
    projectorDeadLetter: string;
  };
  readonly database: string;
  readonly producer: MessageProducer;
  /** Why a worker stopped before it was asked to, if one did. */
  failed(): string | undefined;
  encode(tp: Touchpoint): Promise<Buffer>;
  count(table: 'touchpoints' | 'stage_changes'): Promise<number>;
  query<T>(sql: string): Promise<T[]>;
  close(): Promise<void>;
}

/** The topics of the processor's path, named after a run, so runs never see each other's data. */
export function runTopicNames(run: string) {
  return {
    touchpoints: `${run}.touchpoints`,
    identity: `${run}.identity`,
    stageChanges: `${run}.stage-changes`,
    customerSnapshots: `${run}.snapshots`,
    changelog: `${run}.state`,
  };
}

/** A run's own topics, PARTITIONS each, the changelog compacted, with their leaders known to clients. */
export async function createRunTopics(
  endpoints: ServiceEndpoints,
  topics: Readonly<Record<string, string>> & { readonly changelog: string },
): Promise<void> {
  const admin = await connectTopicAdmin(endpoints.kafka.brokers);
  await admin.ensureTopics(
    Object.values(topics).map((name) => ({
      name,
      partitions: PARTITIONS,
      ...(name === topics.changelog ? { config: { 'cleanup.policy': 'compact' } } : {}),
    })),
  );
  await admin.close();
  await sleep(2000); // new partitions' leadership reaches every client's metadata
}

/** A run's every topic, created, and its ClickHouse database, migrated; `scoped` points at that database. */
export async function createRun(endpoints: ServiceEndpoints, label: string) {
  const run = `bench_${label}_${Date.now().toString(36)}`;
  const topics = {
    ...runTopicNames(run),
    deadLetter: `${run}.dlq`,
    projectorDeadLetter: `${run}.projector-dlq`,
    collectorDeadLetter: deadLetterTopicFor(`${run}.touchpoints`),
  };
  await createRunTopics(endpoints, topics);
  await migrateConfigured(endpoints.clickhouse, { database: run });
  const scoped: ServiceEndpoints = { ...endpoints, clickhouse: { ...endpoints.clickhouse, database: run } };
  return { run, topics, scoped };
}

/** Drops what `createRun` made. */
export async function removeRun(
  endpoints: ServiceEndpoints,
  run: string,
  topics: Readonly<Record<string, string>>,
): Promise<void> {
  const clickhouse = connectClickHouseServer({ url: endpoints.clickhouse.url });
  await clickhouse.command(dropDatabaseSql(run, endpoints.clickhouse.cluster));
  await clickhouse.close();
  const admin = await connectTopicAdmin(endpoints.kafka.brokers);
  await admin.deleteTopics(Object.values(topics));
  await admin.close();
}

/** Fresh topics and database, and the processor and the projector, each in a process of its own. */
async function startPipeline(endpoints: ServiceEndpoints, label: string): Promise<Pipeline> {
  const { run, topics, scoped } = await createRun(endpoints, label);
  const clickhouse = connectClickHouseServer({ url: endpoints.clickhouse.url });
  const serde = await createSerde(
    createAvroRegistry(endpoints.schemaRegistry.url),
    CONTRACTS.touchpoint,
    valueSubject(topics.touchpoints),
  );
  // Processor and projector in processes of their own, as deployed: each gets a core of its own to
  // compete for, instead of sharing this one's event loop with the load generator.
  const workers = await Promise.all(
    (['processor', 'projector'] as const).map((role) =>
      startWorker(role, { endpoints: scoped, run, topics }),
    ),
  );
  const producer = await connectProducer({ brokers: endpoints.kafka.brokers, clientId: run });
  const db = identifier(run);
  return {
    run,
    topics,
    database: run,
    producer,
    failed: () => workers.map((w) => w.failed()).find((f) => f !== undefined),
    encode: (tp) => serde.encode(tp),
    async count(table) {
      const [row] = await clickhouse.query<{ n: string }>(`SELECT count() AS n FROM ${db}.${table}`);
      return Number(row?.n ?? 0);
    },
    query: (sql) => clickhouse.query(sql),
    async close() {
      await producer.close();
      await Promise.all(workers.map((w) => w.stop()));
      await clickhouse.close();
      await removeRun(endpoints, run, topics);
    },
  };
}

/** How many offsets each of a run's topics took per touchpoint: what the processor wrote for each. */
async function printTopicSpans(
  endpoints: ServiceEndpoints,
  topics: Readonly<Record<string, string>>,
  touchpoints: number,
): Promise<void> {
  const admin = await connectTopicAdmin(endpoints.kafka.brokers);
  try {
    const spans = await admin.offsetSpans(Object.values(topics));
    for (const [role, name] of Object.entries(topics))
      process.stderr.write(
        `  ${role.padEnd(20)} ${String(spans.get(name) ?? 0).padStart(9)} offsets  ${((spans.get(name) ?? 0) / touchpoints).toFixed(2)} per touchpoint\n`,
      );
    process.stderr.write(
      '  (offsets of transactional topics include one commit marker per partition per transaction)\n',
    );
  } finally {
    await admin.close();
  }
}

const WORKER = path.join(__dirname, 'worker.js');

/** Starts a bench/worker.ts process and resolves once it consumes. */
export async function startWorker(
  role: 'processor' | 'projector' | 'collector' | 'relay' | 'sink',
  options: unknown,
): Promise<{
  readonly pid: number;
  stop(): Promise<void>;
  readonly failed: () => string | undefined;
  /** The last number the worker printed after "ready" (the sink's count of messages consumed). */
  readonly reported: () => number;
}> {
  // CICLO_BENCH_PROFILE=<dir> writes a CPU profile of each worker there (node --cpu-prof);
  // CICLO_BENCH_WORKER_NODE_ARGS adds node flags to each worker (for trying V8 settings), and
  // CICLO_BENCH_WORKER_STDOUT=<file> keeps what the workers print (--trace-gc writes to stdout).
  const profile = process.env.CICLO_BENCH_PROFILE;
  const nodeArgs = [
    ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`, `--cpu-prof-name=${role}.cpuprofile`] : []),
    ...(process.env.CICLO_BENCH_WORKER_NODE_ARGS?.split(' ').filter((a) => a !== '') ?? []),
  ];
  const child = spawn(process.execPath, [...nodeArgs, WORKER, role, JSON.stringify(options)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let reported = 0;
  await new Promise<void>((resolve, reject) => {
    const keep = process.env.CICLO_BENCH_WORKER_STDOUT;
    child.stdout.on('data', (chunk: Buffer) => {
      if (keep) fs.appendFileSync(keep, chunk);
      const text = chunk.toString();
      if (text.includes('ready')) resolve();
      const numbers = text.match(/\d+/g);
      if (numbers) reported = Number(numbers[numbers.length - 1]);
    });
    child.once('exit', (code) => reject(new Error(`bench ${role} exited with ${code ?? 'a signal'}`)));
  });
  let stopping = false;
  let failure: string | undefined;
  child.once('exit', (code) => {
    if (!stopping) failure = `bench ${role} exited with ${code ?? 'a signal'}`;
  });
  return {
    pid: child.pid!,
    failed: () => failure,
    reported: () => reported,
    async stop() {
      stopping = true;
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Touchpoints in -> stage changes on Kafka -> rows queryable in ClickHouse, events per second. */
/** CPU µs per event of each busy process in one timed run, and 'total' (bench/cpu.ts); one map per run. */
export type CpuRuns = Map<string, number>[];

/** A run's CPU per event into `cpuRuns`; with CICLO_BENCH_CPU=1 also printed, each busy process's own. */
function keepCpu(
  cpuRuns: CpuRuns | undefined,
  before: CpuSnapshot,
  after: CpuSnapshot,
  events: number,
): void {
  cpuRuns?.push(cpuMicrosPerEvent(before, after, events));
  if (process.env.CICLO_BENCH_CPU === '1') process.stderr.write(`${cpuPerEvent(before, after, events)}\n`);
}

async function e2eOnce(
  endpoints: ServiceEndpoints,
  events: readonly Touchpoint[],
  cpuRuns?: CpuRuns,
): Promise<number> {
  const expectedChanges = replay(events, loadModel('five-stage'), {
    partitions: PARTITIONS,
    gracePeriodMs: 0,
  }).stageChanges.length;
  const p = await startPipeline(endpoints, 'e2e');
  try {
    const encoded: ReturnType<typeof touchpointRecords<Buffer>> = [];
    // One at a time: the registry client caches the schema after the first lookup, and 100k concurrent
    // first lookups would all go to the registry.
    for (const tp of events) encoded.push(...touchpointRecords(tp, await p.encode(tp), PARTITIONS));
    await sleep(3000); // consumer groups joined before the clock starts
    // CICLO_BENCH_CPU=1 also prints, every second, how far each table is: which path lags; and at the end
    // each process's CPU per touchpoint: where the machine's two cores went.
    const progress = process.env.CICLO_BENCH_CPU === '1';
    const cpuBefore = cpuSnapshot();
    const start = performance.now();
    // One send at a time keeps each partition in the order the replay assumes (concurrent sends may
    // interleave within a partition, and with grace 0 a reordered event is late and folds differently).
    for (let i = 0; i < encoded.length; i += 2000)
      await p.producer.send(p.topics.touchpoints, encoded.slice(i, i + 2000));
    const deadline = Date.now() + 600_000;
    let nextReport = 0;
    for (;;) {
      const [tp, sc] = [await p.count('touchpoints'), await p.count('stage_changes')];
      if (progress && performance.now() >= nextReport) {
        nextReport = performance.now() + 1000;
        process.stderr.write(
          `  ${((performance.now() - start) / 1000).toFixed(1)} s: touchpoints ${tp}, stage changes ${sc}/${expectedChanges}\n`,
        );
      }
      if (tp >= events.length && sc >= expectedChanges) break;
      const failed = p.failed();
      if (failed !== undefined) throw new Error(failed);
      if (Date.now() > deadline || (tp >= events.length && sc > expectedChanges))
        throw new Error(
          `e2e did not complete as the replay predicts: ${tp}/${events.length} touchpoints, ${sc}/${expectedChanges} stage changes`,
        );
      await sleep(200);
    }
    const rate = events.length / ((performance.now() - start) / 1000);
    const cpuAfter = cpuSnapshot();
    keepCpu(cpuRuns, cpuBefore, cpuAfter, events.length);
    if (progress) await printTopicSpans(endpoints, p.topics, events.length);
    return rate;
  } finally {
    await p.close();
  }
}

export async function e2eEventsPerSec(
  endpoints: ServiceEndpoints,
  events: readonly Touchpoint[],
  runs: number,
  cpuRuns?: CpuRuns,
): Promise<number> {
  const rates: number[] = [];
  for (let r = 0; r < runs; r++) {
    rates.push(await e2eOnce(endpoints, events, cpuRuns));
    process.stderr.write(`e2e run ${r + 1}: ${Math.round(rates[r]!)}/s\n`);
  }
  return median(rates);
}

/**
 * What ciclo's Kafka topology alone allows, as a ceiling for e2eEventsPerSec (a diagnostic; no target): the
 * e2e run's touchpoints through the same path with no work at any stage. A relay in its own process, on the
 * same exactly-once runner as the processor, writes for each touchpoint a snapshot and a changelog record
 * (the processor writes one of each per customer changed in a batch, so at most this many) and a stage
 * change as often as the replay says the processor does; a sink in its own process, consuming like the
 * projector, reads the touchpoints, snapshots and stage changes and counts them, with no ClickHouse. The
 * clock stops when the sink has read them all.
 */
export async function topologyEventsPerSec(
  endpoints: ServiceEndpoints,
  events: readonly Touchpoint[],
  runs: number,
): Promise<number> {
  const stageChangesPerEvent =
    replay(events, loadModel('five-stage'), { partitions: PARTITIONS, gracePeriodMs: 0 }).stageChanges
      .length / events.length;
  const rates: number[] = [];
  for (let r = 0; r < runs; r++) {
    const run = `bench_topo_${Date.now().toString(36)}`;
    const topics = runTopicNames(run);
    await createRunTopics(endpoints, topics);
    const serde = await createSerde(
      createAvroRegistry(endpoints.schemaRegistry.url),
      CONTRACTS.touchpoint,
      valueSubject(topics.touchpoints),
    );
    const encoded: ReturnType<typeof touchpointRecords<Buffer>> = [];
    for (const tp of events) encoded.push(...touchpointRecords(tp, await serde.encode(tp), PARTITIONS));
    // What the sink must read: every touchpoint record, and per record the relay's snapshot, and the stage
    // changes the relay writes (at offsets o of a partition where floor((o + 1) * share) > floor(o * share)).
    const relayed = encoded.length;
    const perPartition = new Array<number>(PARTITIONS).fill(0);
    for (const r of encoded) perPartition[r.partition ?? partitionFor(r.key, PARTITIONS)]! += 1;
    const stageChanges = perPartition.reduce((n, count) => n + Math.floor(count * stageChangesPerEvent), 0);
    const workers = await Promise.all(
      (['relay', 'sink'] as const).map((role) =>
        startWorker(role, { endpoints, run, topics, stageChangesPerEvent }),
      ),
    );
    const producer = await connectProducer({ brokers: endpoints.kafka.brokers, clientId: run });
    try {
      await sleep(3000);
      const cpuBefore = process.env.CICLO_BENCH_CPU === '1' ? cpuSnapshot() : undefined;
      const start = performance.now();
      for (let i = 0; i < encoded.length; i += 2000)
        await producer.send(topics.touchpoints, encoded.slice(i, i + 2000));
      const expected = 2 * relayed + stageChanges;
      const deadline = Date.now() + 600_000;
      while (workers[1]!.reported() < expected) {
        const failed = workers.map((w) => w.failed()).find((f) => f !== undefined);
        if (failed !== undefined) throw new Error(failed);
        if (Date.now() > deadline)
          throw new Error(`topology run read ${workers[1]!.reported()} of ${expected} messages`);
        await sleep(100);
      }
      rates.push(events.length / ((performance.now() - start) / 1000));
      if (cpuBefore) {
        process.stderr.write(`${cpuPerEvent(cpuBefore, cpuSnapshot(), events.length)}\n`);
        await printTopicSpans(endpoints, topics, events.length);
      }
      process.stderr.write(`topology run ${r + 1}: ${Math.round(rates[r]!)}/s\n`);
    } finally {
      await producer.close();
      await Promise.all(workers.map((w) => w.stop()));
      const cleanup = await connectTopicAdmin(endpoints.kafka.brokers);
      await cleanup.deleteTopics(Object.values(topics));
      await cleanup.close();
    }
  }
  return median(rates);
}

const percentile = (sorted: readonly number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

export interface LatencyFigures {
  /** Send to the stage change queryable in ClickHouse: the whole path. */
  readonly p50: number;
  readonly p99: number;
  readonly samples: number;
  /** Send to the touchpoint queryable in ClickHouse: the projector's path alone, no processor. */
  readonly touchpointP99: number;
  /** Send to the stage change readable on Kafka by a read_committed consumer: the processor's part. */
  readonly committedP50: number;
  readonly committedP99: number;
}

/**
 * Event produced -> its stage change queryable, at a steady `rate` for `seconds`. Every event is a first
 * purchase of a new customer (each one changes stage); one in `sampleEvery` is timed, by polling
 * ClickHouse every 50 ms for the sampled customers still outstanding (so figures carry up to 50 ms of
 * polling granularity).
 */
export async function e2eLatency(
  endpoints: ServiceEndpoints,
  rate: number,
  seconds: number,
  cpuRuns?: CpuRuns,
): Promise<LatencyFigures> {
  const p = await startPipeline(endpoints, 'lat');
  const sampleEvery = Math.max(1, Math.round(rate / 100)); // about 100 timed events a second
  const outstanding = new Map<string, number>();
  const outstandingTouchpoints = new Map<string, number>();
  const outstandingCommits = new Map<string, number>();
  const latencies: number[] = [];
  const touchpointLatencies: number[] = [];
  const commitLatencies: number[] = [];
  // The first half of the path, read as a downstream service reads it: when the processor's transaction
  // holding the stage change has committed (read_committed), before the projector and ClickHouse.
  const watcher = await connectConsumer({
    brokers: endpoints.kafka.brokers,
    groupId: `${p.run}-watch`,
    topics: [p.topics.stageChanges],
    fromBeginning: true,
    commitOffsets: false,
    minBytes: 1,
    maxWaitTimeMs: 20,
    partitionsConsumedConcurrently: PARTITIONS,
  });
  await watcher.run((messages) => {
    const now = performance.now();
    for (const m of messages) {
      const sent = m.key === null ? undefined : outstandingCommits.get(m.key);
      if (sent === undefined) continue;
      commitLatencies.push(now - sent);
      outstandingCommits.delete(m.key!);
    }
    return Promise.resolve();
  });
  let sending = true;
  const db = identifier(p.database);

  // One query a poll for both tables: each query costs ClickHouse 18.16 about 8 ms of CPU whatever it reads,
  // and the poller must not load the machine whose latency it measures more than it has to.
  const poll = async (): Promise<void> => {
    while (sending || outstanding.size > 0 || outstandingTouchpoints.size > 0) {
      const customers = [...outstanding.keys()];
      const events = [...outstandingTouchpoints.keys()];
      const parts: string[] = [];
      if (customers.length > 0)
        parts.push(
          `SELECT 'c' AS kind, customer_id AS id FROM ${db}.stage_changes WHERE customer_id IN (${customers.map(stringLiteral).join(',')}) GROUP BY customer_id`,
        );
      if (events.length > 0)
        parts.push(
          `SELECT 'e' AS kind, event_id AS id FROM ${db}.touchpoints WHERE event_id IN (${events.map(stringLiteral).join(',')})`,
        );
      if (parts.length > 0) {
        const rows = await p.query<{ kind: string; id: string }>(parts.join(' UNION ALL '));
        const now = performance.now();
        for (const { kind, id } of rows) {
          const waiting = kind === 'c' ? outstanding : outstandingTouchpoints;
          const sent = waiting.get(id);
          if (sent === undefined) continue;
          (kind === 'c' ? latencies : touchpointLatencies).push(now - sent);
          waiting.delete(id);
        }
      }
      await sleep(50);
    }
  };

  try {
    await sleep(3000); // consumer groups joined
    const poller = poll();
    const tickMs = 100;
    const perTick = rate / (1000 / tickMs);
    const start = performance.now();
    const cpuBefore = cpuSnapshot();
    let sent = 0;
    const inFlight: Promise<void>[] = [];
    while (performance.now() - start < seconds * 1000) {
      const due = Math.floor(((performance.now() - start) / 1000) * rate) + Math.ceil(perTick);
      const batch: { key: string; value: Buffer }[] = [];
      const timed: string[] = [];
      for (; sent < due; sent++) {
        const customerId = `${p.run}-c${sent}`;
        const eventId = `${p.run}-e${sent}`;
        const now = Date.now();
        const tp: Touchpoint = {
          eventId,
          type: 'PurchaseCompleted',
          customerId,
          occurredAt: now,
          receivedAt: now,
          source: { kind: 'api', name: 'bench' },
          payload: { orderId: `o${sent}`, lineItems: [], amountMinor: 1999, currency: 'USD' },
        };
        batch.push({ key: customerId, value: await p.encode(tp) });
        if (sent % sampleEvery === 0) timed.push(sent.toString());
      }
      const sentAt = performance.now();
      for (const i of timed) {
        outstanding.set(`${p.run}-c${i}`, sentAt);
        outstandingCommits.set(`${p.run}-c${i}`, sentAt);
        outstandingTouchpoints.set(`${p.run}-e${i}`, sentAt);
      }
      if (batch.length > 0) inFlight.push(p.producer.send(p.topics.touchpoints, batch));
      if (inFlight.length > 8) await inFlight.shift();
      await sleep(Math.max(0, tickMs - (performance.now() - sentAt)));
    }
    await Promise.all(inFlight);
    const cpuAfter = cpuSnapshot();
    keepCpu(cpuRuns, cpuBefore, cpuAfter, sent);
    sending = false;
    const waitUntil = Date.now() + 60_000;
    while ((outstanding.size > 0 || outstandingTouchpoints.size > 0) && Date.now() < waitUntil)
      await sleep(100);
    if (outstanding.size > 0)
      throw new Error(`${outstanding.size} timed stage changes never became queryable`);
    await poller;
    for (const l of [latencies, touchpointLatencies, commitLatencies]) l.sort((a, b) => a - b);
    return {
      p50: percentile(latencies, 0.5),
      p99: percentile(latencies, 0.99),
      samples: latencies.length,
      touchpointP99: percentile(touchpointLatencies, 0.99),
      committedP50: percentile(commitLatencies, 0.5),
      committedP99: percentile(commitLatencies, 0.99),
    };
  } finally {
    sending = false;
    outstanding.clear();
    outstandingTouchpoints.clear();
    await watcher.stop();
    await p.close();
  }
}

/**
 * Batched HTTP in, Avro to Kafka out: the collector in its own process (as `ciclo collect` runs), on a topic
 * of this run's own, fed Segment batches of 500 calls (request bodies built before the clock starts) with 8
 * requests in flight; events per second counted from 202 answers.
 */
export async function collectorEventsPerSec(
  endpoints: ServiceEndpoints,
  events: readonly Touchpoint[],
  runs: number,
  cpuRuns?: CpuRuns,
  client: { batchSize: number; concurrency: number } = { batchSize: 500, concurrency: 8 },
): Promise<number> {
  const run = `bench_col_${Date.now().toString(36)}`;
  const topic = `${run}.touchpoints`;
  const admin = await connectTopicAdmin(endpoints.kafka.brokers);
  await admin.ensureTopics([
    { name: topic, partitions: PARTITIONS },
    { name: deadLetterTopicFor(topic), partitions: PARTITIONS },
  ]);
  await admin.close();
  await sleep(2000);
  const writeKey = `wk_${run}`;
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const collector = await startWorker('collector', {
    endpoints,
    run,
    topics: { touchpoints: topic },
    writeKey,
    port,
  });
  try {
    // Request bodies are built once, before the clock starts: the figure is the collector's, and the load
    // generator shares the machine with it, so it should spend no CPU of its own on JSON.
    const batches = prepareBatches(events.map(toSegmentCall), client.batchSize);
    const rates: number[] = [];
    for (let r = 0; r < runs; r++) {
      const cpuBefore = cpuSnapshot();
      const start = performance.now();
      const report = await sendPreparedToCollector({ url, writeKey }, batches, {
        concurrency: client.concurrency,
      });
      rates.push(report.accepted / ((performance.now() - start) / 1000));
      const cpuAfter = cpuSnapshot();
      keepCpu(cpuRuns, cpuBefore, cpuAfter, report.accepted);
    }
    return median(rates);
  } finally {
    await collector.stop();
    const cleanup = await connectTopicAdmin(endpoints.kafka.brokers);
    await cleanup.deleteTopics([topic]);
    await cleanup.close();
  }
}
