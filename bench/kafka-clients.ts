/**
 * kafkajs (2.2.4, patched: infra/kafka) against @platformatic/kafka on ciclo's two Kafka paths, measured in
 * one run, each client alone, on the same records: the pipeline runs' simulated touchpoints as the collector
 * writes them (bench/kafka.ts `baselineRecords`, about 500k touchpoints, 6 partitions).
 *
 * - produce: the collector's producer (idempotent, acks=all, sends coalesced while one request is in flight:
 *   infra/kafka/coalescing-sender.ts), fed four sends of 1,000 records in flight; each client writes a topic
 *   of its own. kafkajs's topic is then the input of the two readers below.
 * - processor: the exactly-once loop from the start of the input, in a fresh consumer group (read_committed,
 *   ciclo's co-partitioned assignor, 4 partitions at once): each fetched batch of a partition is one
 *   transaction of that partition's transactional producer (one per input partition, for both clients)
 *   with 2 outputs per input (a 200-byte snapshot keyed like the input, a 300-byte changelog record to the
 *   input's partition) and the batch's offsets; committed. kafkajs runs ciclo's own runtime
 *   (startTransactionalProcessor), @platformatic/kafka the same loop on its API
 *   (infra/kafka/platformatic/transactional-processor.ts).
 * - consume: the input read from the start by a fresh group, read_committed, no work, no commits.
 *
 * Each figure is over a window that opens once a fifth of the records is through (the JIT warm, the group
 * joined) and closes when the last is: records per second of wall time, and CPU µs per record of this
 * process (process.cpuUsage over the window; the broker's CPU is not counted). Every topic of the run is
 * deleted at the end.
 *
 * `npm run build && npx -p node@24 node dist/bench/kafka-clients.js` (Node >= 22.22: @platformatic/kafka's
 * floor; it refuses older ones). CICLO_BENCH_CLIENTS_CUSTOMERS sizes the load (93,000: ~500k touchpoints);
 * CICLO_BENCH_CLIENTS_FIRST=platformatic runs @platformatic/kafka first on each path. Needs the stack
 * (`npx ciclo stack up`).
 *
 * Node's flags are printed with the figures because they decide kafkajs's: on Node 24 with its default
 * young generation, kafkajs's produce path ran 27 full GCs over this process's ~265 MB heap where Node 20 ran
 * 3 (18-22 µs a record instead of 2.2-2.5); `--max-semi-space-size=16` brings its produce back to 2.2.
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../infra/config';
import { connectTopicAdmin } from '../infra/kafka/admin';
import { connectConsumer, type MessageConsumer } from '../infra/kafka/consumer';
import { connectProducer, type MessageProducer } from '../infra/kafka/producer';
import { connectPlatformaticConsumer } from '../infra/kafka/platformatic/consumer';
import { nodeRunsPlatformatic, PLATFORMATIC_MIN_NODE } from '../infra/kafka/platformatic/load';
import { connectPlatformaticProducer } from '../infra/kafka/platformatic/producer';
import { startPlatformaticTransactionalProcessor } from '../infra/kafka/platformatic/transactional-processor';
import {
  startTransactionalProcessor,
  type OutputRecord,
  type RunningProcessor,
  type StreamTask,
  type TransactionalProcessorOptions,
} from '../infra/kafka/transactional-processor';
import { DEFAULT_START, simulate } from '../producers/simulate/simulate';
import { BASELINE_PARTITIONS, baselineRecords, type BaselineRecord } from './kafka';
import { countExternalMemoryInHeapLimit } from '../infra/external-memory';

const ROOT = path.resolve(__dirname, '..', '..');
/** Share of the records after which a window opens. */
const WARM_UP = 0.2;
/** Output sizes: a customer snapshot and a changelog record are about this large. */
const SNAPSHOT_BYTES = 200;
const CHANGELOG_BYTES = 300;

export interface PathFigures {
  readonly recordsPerSec: number;
  /** CPU µs of this process per record over the window (per input record for the processor). */
  readonly cpuMicrosPerRecord: number;
  readonly windowSeconds: number;
}

export interface ClientFigures {
  readonly produce: PathFigures;
  readonly processor: PathFigures & {
    /** Transactions committed over the whole run, and input records per transaction. */
    readonly transactions: number;
    readonly recordsPerTransaction: number;
  };
  readonly consume: PathFigures;
}

export interface KafkaClientsFigures {
  readonly touchpoints: number;
  readonly records: number;
  readonly partitions: number;
  /** Which client ran each path first. */
  readonly first: Client;
  readonly nodeVersion: string;
  /** Node's flags (process.execArgv): the young generation's size decides kafkajs's GC cost on Node 24. */
  readonly nodeFlags: readonly string[];
  readonly kafkajs: ClientFigures;
  readonly platformatic: ClientFigures;
}

type Client = 'kafkajs' | 'platformatic';

/**
 * A window over a count of records: opens at WARM_UP of `total`, closes at `total`; wall time and this
 * process's CPU between the two.
 */
function recordWindow(total: number): {
  advance(by: number): void;
  readonly closed: Promise<PathFigures>;
} {
  let done = 0;
  let opened: { at: number; cpu: NodeJS.CpuUsage; done: number } | undefined;
  let close!: (figures: PathFigures) => void;
  const closed = new Promise<PathFigures>((resolve) => (close = resolve));
  let finished = false;
  return {
    closed,
    advance(by) {
      done += by;
      if (opened === undefined && done >= total * WARM_UP)
        opened = { at: performance.now(), cpu: process.cpuUsage(), done };
      if (!finished && opened !== undefined && done >= total) {
        finished = true;
        const seconds = (performance.now() - opened.at) / 1000;
        const cpu = process.cpuUsage(opened.cpu);
        const records = done - opened.done;
        close({
          recordsPerSec: records / seconds,
          cpuMicrosPerRecord: (cpu.user + cpu.system) / records,
          windowSeconds: seconds,
        });
      }
    },
  };
}

/** Every record, four sends of 1,000 in flight, as bench/kafka.ts's baseline sends them. */
async function produce(
  producer: MessageProducer,
  topic: string,
  records: readonly BaselineRecord[],
): Promise<PathFigures> {
  const window = recordWindow(records.length);
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < records.length; i += 1000) {
    const batch = records.slice(i, i + 1000);
    inFlight.push(producer.send(topic, batch).then(() => window.advance(batch.length)));
    if (inFlight.length >= 4) await inFlight.shift();
  }
  await Promise.all(inFlight);
  return window.closed;
}

async function consume(
  connect: typeof connectConsumer,
  brokers: readonly string[],
  topic: string,
  total: number,
  groupId: string,
): Promise<PathFigures> {
  const window = recordWindow(total);
  const consumer: MessageConsumer = await connect({
    brokers,
    groupId,
    topics: [topic],
    fromBeginning: true,
    commitOffsets: false,
  });
  try {
    await consumer.run((messages) => {
      window.advance(messages.length);
      return Promise.resolve();
    });
    return await window.closed;
  } finally {
    await consumer.stop();
  }
}

/** Two outputs per input, the same preallocated bytes every time: the clients' work, not the task's. */
function twoOutputsTask(snapshotTopic: string, changelogTopic: string): StreamTask {
  const snapshot = Buffer.alloc(SNAPSHOT_BYTES, 0x61);
  const changelog = Buffer.alloc(CHANGELOG_BYTES, 0x62);
  return {
    open: () => undefined,
    close: () => undefined,
    process(partition, messages) {
      const out: OutputRecord[] = [];
      for (const m of messages) {
        out.push({ topic: snapshotTopic, key: m.key, value: snapshot });
        out.push({ topic: changelogTopic, partition, key: m.key, value: changelog });
      }
      return Promise.resolve(out);
    },
  };
}

async function processor(
  start: (options: TransactionalProcessorOptions) => Promise<RunningProcessor>,
  brokers: readonly string[],
  topics: { input: string; snapshots: string; changelog: string },
  total: number,
  runId: string,
): Promise<ClientFigures['processor']> {
  const window = recordWindow(total);
  let transactions = 0;
  const running = await start({
    brokers,
    groupId: `${runId}.group`,
    inputTopic: topics.input,
    changelogTopic: topics.changelog,
    transactionalIdPrefix: runId,
    task: twoOutputsTask(topics.snapshots, topics.changelog),
    partitionsConsumedConcurrently: 4,
    onTransaction: ({ records }) => {
      transactions++;
      window.advance(records / 2);
    },
  });
  try {
    const figures = await Promise.race([window.closed, running.crashed.then((err) => Promise.reject(err))]);
    return { ...figures, transactions, recordsPerTransaction: total / transactions };
  } finally {
    await running.stop();
  }
}

/**
 * The figures of both clients on `records` (what `touchpoints` touchpoints are written as), each path
 * measured for kafkajs then for @platformatic/kafka. Needs Node >= 22.22.
 */
export async function kafkaClientFigures(
  brokers: readonly string[],
  records: readonly BaselineRecord[],
  touchpoints: number,
  options: { first?: Client } = {},
): Promise<KafkaClientsFigures> {
  const clients: readonly Client[] =
    options.first === 'platformatic' ? ['platformatic', 'kafkajs'] : ['kafkajs', 'platformatic'];
  const runId = `ciclo.bench.clients.${Date.now()}`;
  const topic = (name: string): string => `${runId}.${name}`;
  const names = {
    input: topic('input'),
    platformaticProduced: topic('produced-by-platformatic'),
    kafkajsSnapshots: topic('kafkajs-snapshots'),
    kafkajsChangelog: topic('kafkajs-changelog'),
    platformaticSnapshots: topic('platformatic-snapshots'),
    platformaticChangelog: topic('platformatic-changelog'),
  };
  const admin = await connectTopicAdmin(brokers);
  const say = (line: string): void => void process.stderr.write(`${line}\n`);
  try {
    await admin.ensureTopics(Object.values(names).map((name) => ({ name, partitions: BASELINE_PARTITIONS })));
    const total = records.length;
    const produced = {} as Record<Client, PathFigures>;
    for (const client of clients) {
      const connect = client === 'kafkajs' ? connectProducer : connectPlatformaticProducer;
      const producer = await connect({ brokers, clientId: `${runId}.${client}` });
      try {
        const to = client === 'kafkajs' ? names.input : names.platformaticProduced;
        produced[client] = await produce(producer, to, records);
      } finally {
        await producer.close();
      }
      say(`produce ${client}: ${Math.round(produced[client].recordsPerSec)} records/s`);
    }
    const spans = await admin.offsetSpans([names.input, names.platformaticProduced]);
    for (const [name, span] of spans)
      if (span !== total) throw new Error(`${name} holds ${span} records, not the ${total} sent`);

    const consumed = {} as Record<Client, PathFigures>;
    for (const client of clients) {
      const connect = client === 'kafkajs' ? connectConsumer : connectPlatformaticConsumer;
      consumed[client] = await consume(connect, brokers, names.input, total, `${runId}.consume.${client}`);
      say(`consume ${client}: ${Math.round(consumed[client].recordsPerSec)} records/s`);
    }

    const processed = {} as Record<Client, ClientFigures['processor']>;
    for (const client of clients) {
      const start =
        client === 'kafkajs' ? startTransactionalProcessor : startPlatformaticTransactionalProcessor;
      const outputs =
        client === 'kafkajs'
          ? { snapshots: names.kafkajsSnapshots, changelog: names.kafkajsChangelog }
          : { snapshots: names.platformaticSnapshots, changelog: names.platformaticChangelog };
      const clientRun = `${runId}.eos.${client}`;
      processed[client] = await processor(
        start,
        brokers,
        { input: names.input, ...outputs },
        total,
        clientRun,
      );
      // Every input offset committed through the transactions, all the way to the end.
      const [ends, committed] = await Promise.all([
        admin.endOffsets(names.input),
        admin.committedOffsets(`${clientRun}.group`, names.input),
      ]);
      for (const [partition, end] of ends)
        if (committed.get(partition) !== end)
          throw new Error(
            `${client}: partition ${partition} committed ${committed.get(partition)}, end ${end}`,
          );
      say(`processor ${client}: ${Math.round(processed[client].recordsPerSec)} records/s`);
    }
    const of = (client: Client): ClientFigures => ({
      produce: produced[client],
      processor: processed[client],
      consume: consumed[client],
    });
    return {
      touchpoints,
      records: total,
      partitions: BASELINE_PARTITIONS,
      first: clients[0]!,
      nodeVersion: process.versions.node,
      nodeFlags: process.execArgv,
      kafkajs: of('kafkajs'),
      platformatic: of('platformatic'),
    };
  } finally {
    await admin.deleteTopics(Object.values(names)).catch((err: unknown) => {
      say(`deleting the run's topics failed: ${String(err)}`);
    });
    await admin.close();
  }
}

/** The table: each path's figures for both clients, and @platformatic/kafka's over kafkajs's. */
export function clientsTable(figures: KafkaClientsFigures): string {
  const rows: [string, (c: ClientFigures) => number, number][] = [
    ['produce records/s', (c) => c.produce.recordsPerSec, 0],
    ['produce CPU µs/record', (c) => c.produce.cpuMicrosPerRecord, 1],
    ['processor (EOS) input records/s', (c) => c.processor.recordsPerSec, 0],
    ['processor (EOS) CPU µs/input record', (c) => c.processor.cpuMicrosPerRecord, 1],
    ['processor input records/transaction', (c) => c.processor.recordsPerTransaction, 0],
    ['consume records/s', (c) => c.consume.recordsPerSec, 0],
    ['consume CPU µs/record', (c) => c.consume.cpuMicrosPerRecord, 1],
  ];
  const cell = (v: string, width: number): string => v.padStart(width);
  return [
    `${figures.records} records (${figures.touchpoints} touchpoints), ${figures.partitions} partitions, ` +
      `Node ${figures.nodeVersion} ${figures.nodeFlags.join(' ') || '(default flags)'}, ${figures.first} first`,
    `${'figure'.padEnd(38)}${cell('kafkajs', 12)}${cell('platformatic', 14)}${cell('ratio', 8)}`,
    ...rows.map(([name, value, digits]) => {
      const k = value(figures.kafkajs);
      const p = value(figures.platformatic);
      return `${name.padEnd(38)}${cell(k.toFixed(digits), 12)}${cell(p.toFixed(digits), 14)}${cell((p / k).toFixed(2), 8)}`;
    }),
    'ratio: platformatic / kafkajs (above 1: more records/s, or more CPU per record)',
  ].join('\n');
}

async function main(): Promise<void> {
  countExternalMemoryInHeapLimit(); // kafkajs as ciclo runs it on Node 24 (infra/external-memory.ts)
  if (!nodeRunsPlatformatic(process.versions.node)) {
    process.stderr.write(
      `bench/kafka-clients needs Node >= ${PLATFORMATIC_MIN_NODE.join('.')} (@platformatic/kafka's floor); ` +
        `this is Node ${process.versions.node}. Run: npx -p node@24 node dist/bench/kafka-clients.js\n`,
    );
    process.exit(2);
  }
  const config = loadConfig(process.env, ROOT);
  const customers = Number(process.env.CICLO_BENCH_CLIENTS_CUSTOMERS ?? 93_000);
  const events = simulate({ customers, seed: 24, days: 365, start: DEFAULT_START });
  const records = baselineRecords(events, BASELINE_PARTITIONS);
  const first = process.env.CICLO_BENCH_CLIENTS_FIRST === 'platformatic' ? 'platformatic' : 'kafkajs';
  const figures = await kafkaClientFigures(config.endpoints.kafka.brokers, records, events.length, { first });
  process.stdout.write(`${clientsTable(figures)}\n`);
}

if (require.main === module)
  main().catch((err: unknown) => {
    process.stderr.write(
      `bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  });
