/**
 * How soon a lifecycle processor that holds N customers processes again after a crash. A run's touchpoint
 * topic gets one page view for each of N customers (Avro in the Confluent wire format, as ciclo's producers
 * write them); a processor in a process of its own (bench/worker.ts, as `ciclo process` runs) takes them all,
 * and once its group has committed every record it is SIGKILLed. A probe purchase then goes to each partition
 * (one customer of each, already held). Once the killed member's session has timed out (Kafka's wait, 10 s
 * after a crash, printed apart and not counted), a new processor is started: the clock runs from spawning its
 * process until a read_committed reader of the stage-change topic has every probe's stage change. That spans
 * Node's start, the group join, fencing and restoring every partition from the changelog, and the probes'
 * transactions. Each probe's change must be its customer's second (reach -> conversion, sequence 2): the
 * state was restored, not started afresh.
 *
 * `npm run build && node dist/bench/restore.js` prints the seconds, and seconds per million customers
 * (CICLO_BENCH_RESTORE_CUSTOMERS sizes it: 1,000,000 unless given). Needs the stack (`npx ciclo stack up`).
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadConfig, type ServiceEndpoints } from '../infra/config';
import { connectTopicAdmin, type TopicAdmin } from '../infra/kafka/admin';
import { connectConsumer } from '../infra/kafka/consumer';
import { connectProducer } from '../infra/kafka/producer';
import { createAvroRegistry } from '../infra/registry/schema-registry';
import { createSerde } from '../infra/registry/serde';
import { CONTRACTS } from '../schemas/contracts';
import type { StageChanged } from '../schemas/outputs';
import { partitionFor } from '../schemas/partitioner';
import { valueSubject } from '../schemas/topics';
import type { Touchpoint } from '../schemas/touchpoint';
import { createRunTopics, PARTITIONS, runTopicNames, startWorker } from './pipeline';

const ROOT = path.resolve(__dirname, '..', '..');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface RestoreFigures {
  readonly customers: number;
  /** From spawning the new process until every probe's stage change was read. */
  readonly seconds: number;
  readonly secondsPerMillionCustomers: number;
  /** From spawning the new process until it printed "ready" (started, joined; partitions still restoring). */
  readonly readySeconds: number;
  /** How long the first processor took to commit the N customers' touchpoints (for scale). */
  readonly firstRunSeconds: number;
  /** From the kill until the group had no member (the killed one's session timed out), not counted. */
  readonly sessionSeconds: number;
}

const customerId = (i: number): string => `c${i}`;

/** The run's touchpoints: one page view per customer, at one time (no inactivity deadline comes due). */
function pageView(i: number, at: number): Touchpoint {
  return {
    eventId: `v${i}`,
    type: 'PageViewed',
    customerId: customerId(i),
    occurredAt: at,
    receivedAt: at,
    source: { kind: 'api', name: 'bench' },
    payload: { path: '/' },
  };
}

/** Sum of the group's committed offsets on the topic. */
async function committedRecords(admin: TopicAdmin, group: string, topic: string): Promise<number> {
  let sum = 0;
  for (const offset of (await admin.committedOffsets(group, topic)).values()) sum += Math.max(0, offset);
  return sum;
}

/** `_home` (CICLO_HOME) is taken as the other benches take it; this one keeps nothing there. */
export async function restoreSecondsPerMillionCustomers(
  endpoints: ServiceEndpoints,
  _home: string,
  customers = 1_000_000,
): Promise<RestoreFigures> {
  const run = `bench_restore_${Date.now().toString(36)}`;
  const topics = { ...runTopicNames(run), deadLetter: `${run}.dlq` };
  const group = `${run}-processor`;
  const workerOptions = {
    endpoints,
    run,
    topics: { ...topics, projectorDeadLetter: `${run}.projector-dlq` },
  };
  await createRunTopics(endpoints, topics);
  const admin = await connectTopicAdmin(endpoints.kafka.brokers);
  const workers: Awaited<ReturnType<typeof startWorker>>[] = [];
  try {
    const registry = createAvroRegistry(endpoints.schemaRegistry.url);
    const touchpoints = await createSerde(registry, CONTRACTS.touchpoint, valueSubject(topics.touchpoints));
    const producer = await connectProducer({ brokers: endpoints.kafka.brokers, clientId: run });
    const at = Date.now() - 60_000;
    try {
      for (let i = 0; i < customers; i += 5000) {
        const batch: Touchpoint[] = [];
        for (let k = i; k < Math.min(customers, i + 5000); k++) batch.push(pageView(k, at));
        const values = await touchpoints.encodeAll(batch);
        await producer.send(
          topics.touchpoints,
          batch.map((tp, k) => ({ key: tp.customerId!, value: values[k]! })),
        );
      }
      process.stderr.write(`restore: ${customers} customers' touchpoints produced\n`);

      const firstStart = performance.now();
      const first = await startWorker('processor', workerOptions);
      workers.push(first);
      const deadline = Date.now() + 1_800_000;
      while ((await committedRecords(admin, group, topics.touchpoints)) < customers) {
        const failed = first.failed();
        if (failed !== undefined) throw new Error(failed);
        if (Date.now() > deadline)
          throw new Error(`the first processor did not commit ${customers} in 30 min`);
        await sleep(500);
      }
      const firstRunSeconds = (performance.now() - firstStart) / 1000;
      process.stderr.write(
        `restore: the first processor committed them in ${firstRunSeconds.toFixed(1)} s\n`,
      );
      process.kill(first.pid, 'SIGKILL');
      while (first.failed() === undefined) await sleep(20);
      // Kafka keeps the killed member in the group until its session times out (10 s): a processor started
      // sooner waits for that in its join. Waited out here, so that the figure is the processor's own.
      const killed = performance.now();
      for (;;) {
        const [state] = await admin.describeGroups([group]);
        if (state !== undefined && state.members === 0) break;
        await sleep(100);
      }
      const sessionSeconds = (performance.now() - killed) / 1000;

      // One probe per partition, for a customer it holds: a purchase, its second stage.
      const probes = new Map<number, number>();
      for (let i = 0; probes.size < PARTITIONS; i++) {
        const partition = partitionFor(customerId(i), PARTITIONS);
        if (!probes.has(partition)) probes.set(partition, i);
      }
      const probeEvents: Touchpoint[] = [...probes.values()].map((i) => ({
        eventId: `probe-${i}`,
        type: 'PurchaseCompleted',
        customerId: customerId(i),
        occurredAt: at + 1000,
        receivedAt: at + 1000,
        source: { kind: 'api', name: 'bench' },
        payload: { orderId: `o${i}`, lineItems: [], amountMinor: 1999, currency: 'USD' },
      }));
      const probeValues = await touchpoints.encodeAll(probeEvents);
      await producer.send(
        topics.touchpoints,
        probeEvents.map((tp, k) => ({ key: tp.customerId!, value: probeValues[k]! })),
      );

      // Joined before the new processor starts: from the topic's end, it reads the probes' changes alone.
      const stageChanged = await createSerde(
        registry,
        CONTRACTS.stageChanged,
        valueSubject(topics.stageChanges),
      );
      const changes: StageChanged[] = [];
      const reader = await connectConsumer({
        brokers: endpoints.kafka.brokers,
        groupId: `${run}-reader`,
        topics: [topics.stageChanges],
        fromBeginning: false,
        commitOffsets: false,
        maxWaitTimeMs: 100,
      });
      try {
        await reader.run(async (messages) => {
          for (const m of messages) {
            const decoded = await stageChanged.decode(m.value!);
            if (decoded.ok) changes.push(decoded.value);
          }
        });
        await sleep(3000); // the reader's group joined, its position at the end

        const start = performance.now();
        const probesDeadline = Date.now() + 1_800_000;
        // Its log says, for each partition, how long reading and building it took and the longest hold of its event loop.
        const second = await startWorker('processor', { ...workerOptions, logLevel: 'info' });
        workers.push(second);
        const readySeconds = (performance.now() - start) / 1000;
        const wanted = new Set(probeEvents.map((tp) => tp.eventId));
        const seen = (): StageChanged[] =>
          changes.filter((c) => c.triggeringEventIds.some((id) => wanted.has(id)));
        while (seen().length < probeEvents.length) {
          const failed = second.failed();
          if (failed !== undefined) throw new Error(failed);
          if (Date.now() > probesDeadline) throw new Error('the probes did not come through in 30 min');
          await sleep(10);
        }
        const seconds = (performance.now() - start) / 1000;
        const wrong = seen().filter((c) => c.sequence !== 2 || c.fromStage === undefined);
        if (wrong.length > 0)
          throw new Error(`probes applied to customers not restored: ${JSON.stringify(wrong)}`);
        return {
          customers,
          seconds,
          secondsPerMillionCustomers: (seconds * 1_000_000) / customers,
          readySeconds,
          firstRunSeconds,
          sessionSeconds,
        };
      } finally {
        await reader.stop();
      }
    } finally {
      await producer.close();
    }
  } finally {
    for (const w of workers) if (w.failed() === undefined) await w.stop();
    await admin.deleteTopics(Object.values(topics)).catch(() => undefined);
    await admin.close();
  }
}

async function main(): Promise<void> {
  const config = loadConfig(process.env, ROOT);
  const customers = Number(process.env.CICLO_BENCH_RESTORE_CUSTOMERS ?? 1_000_000);
  if (!Number.isSafeInteger(customers) || customers < PARTITIONS)
    throw new Error(`CICLO_BENCH_RESTORE_CUSTOMERS must be a whole number >= ${PARTITIONS}`);
  const figures = await restoreSecondsPerMillionCustomers(config.endpoints, config.home, customers);
  const row = (name: string, value: number): string => `${name.padEnd(36)} ${value.toFixed(1).padStart(12)}`;
  process.stdout.write(
    [
      row('customers', figures.customers),
      row('restoreSeconds', figures.seconds),
      row('restoreSecondsPerMillionCustomers', figures.secondsPerMillionCustomers),
      row('restoreReadySeconds', figures.readySeconds),
      row('firstRunSeconds', figures.firstRunSeconds),
      row('sessionTimeoutSeconds (not counted)', figures.sessionSeconds),
    ].join('\n') + '\n',
  );
}

if (require.main === module)
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
