/**
 * The lifecycle task alone (processors/runtime/lifecycle-task.ts): what `ciclo process` spends per touchpoint
 * outside the Kafka client. The records of bench/processor-peer.ts (a million simulated touchpoints, Avro in
 * the Confluent wire format through the stack's registry, links copied to every partition) are handed to the
 * task in batches per partition, as the exactly-once runner hands it fetched batches, and the identity
 * messages it writes are handed back to their partitions, as the identity topic would. No broker: the
 * figure is the task's CPU (decode, fold, changelog, encoding of the outputs), and the outputs it made, per
 * touchpoint and per topic. Subtracted from processorCpuMicrosPerTouchpoint, what is left is the client's.
 *
 * `npm run bench:task` (CICLO_BENCH_TASK_BATCH records per batch, default 2,000, about what a 1 MB fetch of
 * one partition holds; CICLO_BENCH_TASK_PENDING_INLINE_BYTES the reorder buffer's inline limit, see
 * changelog/writer.ts; CICLO_BENCH_PEER_CUSTOMERS as processor-peer.ts). Runs with the young generation
 * `ciclo process` has on Node 20 (infra/processor-heap.ts). Needs the registry of the stack
 * (`npx ciclo stack up`).
 */
import path from 'node:path';
import { loadConfig } from '../infra/config';
import type { IncomingMessage } from '../infra/kafka/types';
import { createAvroRegistry } from '../infra/registry/schema-registry';
import { createSerde } from '../infra/registry/serde';
import { createLifecycleTask } from '../processors/runtime/lifecycle-task';
import { loadModel } from '../processors/runtime/model-file';
import { CONTRACTS } from '../schemas/contracts';
import { partitionFor } from '../schemas/partitioner';
import { touchpointRecords, valueSubject } from '../schemas/topics';
import { peerBenchEvents } from './processor-peer';
import { PARTITIONS } from './pipeline';

const ROOT = path.resolve(__dirname, '..', '..');
/** The share of the input after which CPU is counted (the JIT warm). */
const WARM_UP = 0.2;

interface OutputCount {
  records: number;
  bytes: number;
}

async function main(): Promise<void> {
  const { endpoints } = loadConfig(process.env, ROOT);
  const batchSize = Number(process.env.CICLO_BENCH_TASK_BATCH ?? 2000);
  const events = peerBenchEvents(Number(process.env.CICLO_BENCH_PEER_CUSTOMERS ?? 190_000));
  const run = `bench_task_${Date.now().toString(36)}`;
  const topics = {
    touchpoints: `${run}.touchpoints`,
    identity: `${run}.identity`,
    stageChanges: `${run}.stage-changes`,
    customerSnapshots: `${run}.snapshots`,
    changelog: `${run}.state`,
    deadLetter: `${run}.dlq`,
  };
  const registry = createAvroRegistry(endpoints.schemaRegistry.url);
  const serde = <T>(contract: Parameters<typeof createSerde<T>>[1], topic: string) =>
    createSerde(registry, contract, valueSubject(topic));
  const serdes = {
    touchpoint: await serde(CONTRACTS.touchpoint, topics.touchpoints),
    stageChanged: await serde(CONTRACTS.stageChanged, topics.stageChanges),
    customerSnapshot: await serde(CONTRACTS.customerSnapshot, topics.customerSnapshots),
    lifecycleState: await serde(CONTRACTS.lifecycleState, topics.changelog),
    identity: await serde(CONTRACTS.lifecycleState, topics.identity),
  };

  const inputs: IncomingMessage[][] = Array.from({ length: PARTITIONS }, () => []);
  for (const tp of events) {
    const value = await serdes.touchpoint.encode(tp);
    for (const r of touchpointRecords(tp, value, PARTITIONS)) {
      const partition = r.partition ?? partitionFor(r.key, PARTITIONS);
      inputs[partition]!.push({
        topic: topics.touchpoints,
        partition,
        offset: String(inputs[partition]!.length),
        key: r.key,
        value: r.value,
        headers: r.headers ?? {},
        timestamp: tp.receivedAt,
      });
    }
  }
  // Registers the writer schema's type for decodeKnown, as the processor's first message does.
  await serdes.touchpoint.decode(inputs[0]![0]!.value!);
  const records = inputs.reduce((sum, p) => sum + p.length, 0);

  const task = createLifecycleTask({
    model: loadModel('five-stage'),
    gracePeriodMs: 0,
    partitions: PARTITIONS,
    topics,
    serdes,
    ...(process.env.CICLO_BENCH_TASK_PENDING_INLINE_BYTES
      ? { pendingInlineBytes: Number(process.env.CICLO_BENCH_TASK_PENDING_INLINE_BYTES) }
      : {}),
  });
  for (let p = 0; p < PARTITIONS; p++) await task.open(p, []);

  const identityQueues: IncomingMessage[][] = Array.from({ length: PARTITIONS }, () => []);
  const identityOffsets = new Array<number>(PARTITIONS).fill(0);
  const outputs = new Map<string, OutputCount>();
  const next = new Array<number>(PARTITIONS).fill(0);
  let done = 0;
  let window: { cpu: NodeJS.CpuUsage; at: number; done: number } | undefined;
  let counting = false;
  for (;;) {
    let progressed = false;
    for (let p = 0; p < PARTITIONS; p++) {
      const identity = identityQueues[p]!.splice(0);
      if (identity.length > 0) {
        progressed = true;
        for (const r of await task.process(p, identity)) count(r.topic, r.value, r.key);
      }
      const batch = inputs[p]!.slice(next[p], next[p]! + batchSize);
      if (batch.length === 0) continue;
      progressed = true;
      next[p]! += batch.length;
      done += batch.length;
      for (const r of await task.process(p, batch)) {
        count(r.topic, r.value, r.key);
        if (r.topic === topics.identity) {
          const to = r.partition!;
          identityQueues[to]!.push({
            topic: topics.identity,
            partition: to,
            offset: String(identityOffsets[to]!++),
            key: r.key,
            value: r.value,
            headers: r.headers ?? {},
            timestamp: Date.now(),
          });
        }
      }
      if (window === undefined && done >= records * WARM_UP) {
        window = { cpu: process.cpuUsage(), at: performance.now(), done };
        counting = true;
        outputs.clear();
      }
    }
    if (!progressed) break;
  }
  for (let p = 0; p < PARTITIONS; p++) for (const r of await task.idle!(p)) count(r.topic, r.value, r.key);
  if (window === undefined) throw new Error('the input is too small to measure');
  const cpu = process.cpuUsage(window.cpu);
  const touchpoints = ((done - window.done) * events.length) / records;
  const row = (name: string, value: string): string => `${name.padEnd(44)} ${value.padStart(14)}`;
  const lines = [
    row('touchpoints', String(events.length)),
    row('input records', String(records)),
    row('batch (records per partition)', String(batchSize)),
    row('taskCpuMicrosPerTouchpoint', ((cpu.user + cpu.system) / touchpoints).toFixed(1)),
    row('taskTouchpointsPerSec', (touchpoints / ((performance.now() - window.at) / 1000)).toFixed(0)),
  ];
  for (const [topic, c] of [...outputs].sort((a, b) => b[1].bytes - a[1].bytes))
    lines.push(
      row(
        `out ${topic.slice(run.length + 1)}: records, bytes /tp`,
        `${(c.records / touchpoints).toFixed(3)} ${(c.bytes / touchpoints).toFixed(0)}`,
      ),
    );
  process.stdout.write(`${lines.join('\n')}\n`);

  function count(topic: string, value: Buffer | null, key: string | null): void {
    if (!counting) return;
    // The changelog by kind of record: a customer's state, or the partition's records (keys.ts).
    if (topic === topics.changelog) {
      const kind = /__partition__(\/[a-z-]+)?/.exec(key ?? '')?.[0] ?? 'customer';
      topic = `${topic}[${value === null ? 'tombstone ' : ''}${kind}]`;
    }
    let c = outputs.get(topic);
    if (!c) outputs.set(topic, (c = { records: 0, bytes: 0 }));
    c.records += 1;
    c.bytes += value?.length ?? 0;
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
