/**
 * A benchmark pipeline stage in its own process, as `ciclo process`, `ciclo project` and `ciclo collect` run
 * when deployed: `node dist/bench/worker.js <processor|projector|collector> <json options>`. It prints "ready" once consuming and
 * stops cleanly on SIGTERM. Only the benchmarks use it: they need their own topics and database, so that a
 * benchmark never writes into the topics and tables a user's pipeline reads.
 */
import { randomBytes } from 'node:crypto';
import type { ServiceEndpoints } from '../infra/config';
import { connectConsumer } from '../infra/kafka/consumer';
import {
  startTransactionalProcessor,
  type OutputRecord,
  type StreamTask,
} from '../infra/kafka/transactional-processor';
import { createLogger } from '../infra/log';
import { countExternalMemoryInHeapLimit } from '../infra/external-memory';
import { startWithProcessorHeap } from '../infra/processor-heap';
import { loadModel } from '../processors/runtime/model-file';
import { startLifecycleProcessor, type ProcessorTopics } from '../processors/runtime/start';
import { loadCollectorConfig } from '../producers/collector/config';
import { startCollector } from '../producers/server/start';
import { loadWebhooksConfig } from '../producers/webhooks/config';
import { startProjector } from '../projections/projector/projector';

/**
 * The topology bench's relay (pipeline.ts `topologyEventsPerSec`): the processor's exactly-once runner with
 * no fold, writing per input record a snapshot, a changelog record and, at the processor's share, a stage
 * change, each a copy of the input's bytes.
 */
async function startRelay(options: WorkerOptions): Promise<() => Promise<void>> {
  const share = options.stageChangesPerEvent ?? 0;
  const task: StreamTask = {
    open: () => undefined,
    close: () => undefined,
    process(partition, messages) {
      const out: OutputRecord[] = [];
      for (const m of messages) {
        if (m.topic !== options.topics.touchpoints) continue;
        out.push({ topic: options.topics.customerSnapshots, key: m.key, value: m.value });
        out.push({ topic: options.topics.changelog, partition, key: m.key, value: m.value });
        const o = Number(m.offset);
        if (Math.floor((o + 1) * share) > Math.floor(o * share))
          out.push({ topic: options.topics.stageChanges, key: m.key, value: m.value });
      }
      return Promise.resolve(out);
    },
  };
  const relay = await startTransactionalProcessor({
    brokers: options.endpoints.kafka.brokers,
    groupId: `${options.run}-relay`,
    inputTopic: options.topics.touchpoints,
    coPartitionedTopics: [options.topics.identity],
    changelogTopic: options.topics.changelog,
    transactionalIdPrefix: `${options.run}-relay`,
    task,
    idleFlushMs: 500,
  });
  return () => relay.stop();
}

/** The topology bench's sink: consumes as the projector does, counts, and prints the count as it grows. */
async function startSink(options: WorkerOptions): Promise<() => Promise<void>> {
  let consumed = 0;
  let printed = 0;
  const consumer = await connectConsumer({
    brokers: options.endpoints.kafka.brokers,
    groupId: `${options.run}-sink`,
    topics: [options.topics.touchpoints, options.topics.stageChanges, options.topics.customerSnapshots],
    fromBeginning: true,
    minBytes: 64 * 1024,
    maxWaitTimeMs: 250,
    partitionsConsumedConcurrently: 16,
  });
  await consumer.run((messages) => {
    consumed += messages.length;
    return Promise.resolve();
  });
  const timer = setInterval(() => {
    if (consumed !== printed) process.stdout.write(`consumed ${(printed = consumed)}\n`);
  }, 50);
  return async () => {
    clearInterval(timer);
    await consumer.stop();
  };
}

interface WorkerOptions {
  endpoints: ServiceEndpoints;
  run: string;
  topics: ProcessorTopics & { projectorDeadLetter: string };
  /** For the relay: the share of input records that get a stage change. */
  stageChangesPerEvent?: number;
  /** For the collector: its write key and port. */
  writeKey?: string;
  port?: number;
  /** The worker's log level (warn unless given): the restore bench shows the processor's "partition restored". */
  logLevel?: string;
}

async function main(): Promise<void> {
  const [role, json] = process.argv.slice(2);
  const options = JSON.parse(json ?? '{}') as WorkerOptions;
  const log = createLogger({ level: options.logLevel ?? 'warn', name: `bench-${role ?? ''}` });
  let stop: () => Promise<void>;
  if (role === 'processor') {
    const processor = await startLifecycleProcessor({
      endpoints: options.endpoints,
      model: loadModel('five-stage'),
      gracePeriodMs: 0,
      idleFlushMs: 500,
      log,
      topics: options.topics,
      groupId: `${options.run}-processor`,
    });
    void processor.crashed.then((err) => {
      process.stderr.write(`processor crashed: ${err.message}\n`);
      process.exit(1);
    });
    stop = () => processor.stop();
  } else if (role === 'projector') {
    const projector = await startProjector({
      endpoints: options.endpoints,
      log,
      groupId: `${options.run}-projector`,
      topics: { ...options.topics, deadLetter: options.topics.projectorDeadLetter },
    });
    stop = () => projector.stop();
  } else if (role === 'collector') {
    const collector = await startCollector({
      endpoints: options.endpoints,
      // The benchmark measures the collector, not its per-key rate limit (which would cap it).
      config: loadCollectorConfig({
        CICLO_WRITE_KEYS: `bench:${options.writeKey ?? ''}`,
        CICLO_RATE_LIMIT: 'off',
      }),
      // No webhook is configured or sent: a secret of this run's keys nothing.
      webhooks: loadWebhooksConfig({}, randomBytes(32)),
      log,
      port: options.port ?? 0,
      host: '127.0.0.1',
      topic: options.topics.touchpoints,
    });
    stop = () => collector.stop();
  } else if (role === 'relay') {
    stop = await startRelay(options);
  } else if (role === 'sink') {
    stop = await startSink(options);
  } else throw new Error(`unknown role ${role ?? ''}: processor, projector, collector, relay or sink`);
  process.stdout.write('ready\n');
  process.once('SIGTERM', () => {
    // CICLO_BENCH_CPU=1: the CPU time this worker used, from start to stop.
    if (process.env.CICLO_BENCH_CPU === '1') {
      const { user, system } = process.cpuUsage();
      process.stderr.write(`cpu ${role ?? ''} ${((user + system) / 1e6).toFixed(1)} s\n`);
    }
    void stop().then(() => process.exit(0));
  });
}

const start = (): void => {
  main().catch((err: unknown) => {
    process.stderr.write(`${role()} failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
};
// Each role with the heap settings its ciclo command has (bin/ciclo.js): Buffers in the heap's limit on Node
// 24, and the processor (and the relay on its runner) with the young generation of `ciclo process`.
countExternalMemoryInHeapLimit();
if (['processor', 'relay'].includes(role())) startWithProcessorHeap(__filename, process.argv.slice(2), start);
else start();

function role(): string {
  return process.argv[2] ?? 'worker';
}
