/**
 * ciclo's lifecycle processor against the job written in Kafka Streams (bench/peers/kafka-streams), each
 * alone on the same records: at least a million simulated touchpoints written to a run's touchpoint topic
 * (six partitions, Avro in the Confluent wire format, links copied as ciclo's producers copy them) before
 * either starts. Each then consumes the topic from the start, in a process of its own, and its CPU is read
 * from /proc over a window that starts once a fifth of the records is committed (the JIT warm, the group
 * joined, the state restored) and ends when its committed offsets reach the end of the topic (lag 0).
 *
 * `npm run build && node dist/bench/processor-peer.js` prints the figures (CICLO_BENCH_PEER_CUSTOMERS sizes
 * the load: 190,000 customers make about a million touchpoints; CICLO_BENCH_PEER picks the peer's stores,
 * see peerStoresFrom; 0 runs ciclo's processor alone, for profiling it; CICLO_BENCH_PEER_ROUNDS repeats
 * the comparison, 1 here and 3 in `npm run bench`). Needs the stack (`npx ciclo stack up`).
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadConfig, type ServiceEndpoints } from '../infra/config';
import { connectTopicAdmin } from '../infra/kafka/admin';
import { connectProducer } from '../infra/kafka/producer';
import { createAvroRegistry } from '../infra/registry/schema-registry';
import { createSerde } from '../infra/registry/serde';
import { DEFAULT_START, simulate } from '../producers/simulate/simulate';
import { CONTRACTS } from '../schemas/contracts';
import { deadLetterTopicFor, touchpointRecords, valueSubject } from '../schemas/topics';
import type { Touchpoint } from '../schemas/touchpoint';
import { cpuSnapshot } from './cpu';
import { createRunTopics, PARTITIONS, runTopicNames, startWorker } from './pipeline';
import { startKafkaStreamsPeer } from './peers/kafka-streams';

const ROOT = path.resolve(__dirname, '..', '..');
/** Committed share of the records after which the CPU window opens. */
const WARM_UP = 0.2;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface SteadyState {
  /** CPU µs of the process per touchpoint over the window. */
  readonly cpuMicrosPerTouchpoint: number;
  /** Touchpoints per second over the window (wall time). */
  readonly eventsPerSec: number;
  readonly windowSeconds: number;
}

export type PeerStore = 'rocksdb' | 'in-memory';

export interface ProcessorPeerFigures {
  readonly touchpoints: number;
  readonly records: number;
  /** The round whose CPU per touchpoint is the median of ciclo's rounds. */
  readonly processor: SteadyState;
  /** Per store asked for (none: CICLO_BENCH_PEER=0), the round whose CPU is the median of its rounds. */
  readonly peerKafkaStreams: Partial<Record<PeerStore, SteadyState>>;
  /**
   * Per store, the median over rounds of ciclo's CPU per touchpoint over the peer's in the same round: the
   * two measured minutes apart, so that what else the machine's host did then weighs on both alike.
   */
  readonly pairedRatios: Partial<Record<PeerStore, number>>;
  /** Every round: ciclo's figures and each peer's, in the order they ran. */
  readonly rounds: readonly {
    readonly processor: SteadyState;
    readonly peerKafkaStreams: Partial<Record<PeerStore, SteadyState>>;
  }[];
}

/** The element of `xs` whose `by` is the median (the lower middle of an even count). */
function medianBy<T>(xs: readonly T[], by: (x: T) => number): T {
  return [...xs].sort((a, b) => by(a) - by(b))[Math.floor((xs.length - 1) / 2)]!;
}

/** CPU seconds of one process, from /proc (bench/cpu.ts). */
function cpuSecondsOf(pid: number): number {
  const p = cpuSnapshot().get(pid);
  if (p === undefined) throw new Error(`process ${pid} is gone`);
  return p.seconds;
}

/**
 * Watches a consumer group's committed offsets on the topic until they reach `end` records; CPU of `pid`
 * over the window from WARM_UP of them to all of them.
 */
async function steadyState(
  endpoints: ServiceEndpoints,
  group: string,
  topic: string,
  pid: number,
  records: number,
  touchpointsPerRecord: number,
  failed: () => string | undefined,
): Promise<SteadyState> {
  const admin = await connectTopicAdmin(endpoints.kafka.brokers);
  try {
    const committed = async (): Promise<number> => {
      let sum = 0;
      for (const offset of (await admin.committedOffsets(group, topic)).values()) sum += Math.max(0, offset);
      return sum;
    };
    let window: { at: number; records: number; cpu: number } | undefined;
    const deadline = Date.now() + 1_800_000;
    for (;;) {
      const done = await committed();
      if (window === undefined && done >= records * WARM_UP)
        window = { at: performance.now(), records: done, cpu: cpuSecondsOf(pid) };
      if (done >= records && window !== undefined) {
        const seconds = (performance.now() - window.at) / 1000;
        const touchpoints = (done - window.records) * touchpointsPerRecord;
        return {
          cpuMicrosPerTouchpoint: ((cpuSecondsOf(pid) - window.cpu) * 1e6) / touchpoints,
          eventsPerSec: touchpoints / seconds,
          windowSeconds: seconds,
        };
      }
      const failure = failed();
      if (failure !== undefined) throw new Error(failure);
      if (Date.now() > deadline)
        throw new Error(`${group} committed ${done} of ${records} records in 30 min`);
      await sleep(100);
    }
  } finally {
    await admin.close();
  }
}

/**
 * `rounds` times, one after the other: ciclo's processor, then the peer with each store, on the same
 * records. The same code measured alone gave figures a fifth apart from one run to the next on this machine
 * (a virtual machine's cores share their host), hence rounds and medians, and ratios of neighbours in time.
 */
export async function processorAgainstPeer(
  endpoints: ServiceEndpoints,
  home: string,
  events: readonly Touchpoint[],
  peerStores: readonly PeerStore[] = ['rocksdb'],
  rounds = 1,
): Promise<ProcessorPeerFigures> {
  const run = `bench_peer_${Date.now().toString(36)}`;
  const input = {
    touchpoints: `${run}.touchpoints`,
    collectorDeadLetter: deadLetterTopicFor(`${run}.touchpoints`),
    peerStageChangesRocksdb: `${run}.peer-stage-changes-rocksdb`,
    peerStageChangesInMemory: `${run}.peer-stage-changes-in-memory`,
  };
  // Each round's processor has topics of its own: on its predecessor's changelog it would restore a year.
  const processorTopics = (round: number) => {
    const name = `${run}_${round}`;
    return { ...runTopicNames(name), touchpoints: input.touchpoints, deadLetter: `${name}.dlq` };
  };
  const created: string[] = [...Object.values(input)];
  const peerApplication = (store: PeerStore, round: number): string =>
    `${run}-kafka-streams-${store}-${round}`;
  try {
    await createRunTopics(endpoints, { ...input, ...processorTopics(0) });
    const serde = await createSerde(
      createAvroRegistry(endpoints.schemaRegistry.url),
      CONTRACTS.touchpoint,
      valueSubject(input.touchpoints),
    );
    const producer = await connectProducer({ brokers: endpoints.kafka.brokers, clientId: run });
    let records = 0;
    try {
      for (let i = 0; i < events.length; i += 5000) {
        const batch: ReturnType<typeof touchpointRecords<Buffer>> = [];
        for (const tp of events.slice(i, i + 5000))
          batch.push(...touchpointRecords(tp, await serde.encode(tp), PARTITIONS));
        await producer.send(input.touchpoints, batch);
        records += batch.length;
      }
    } finally {
      await producer.close();
    }
    const perRecord = events.length / records;
    process.stderr.write(`processor-peer: ${events.length} touchpoints in ${records} records\n`);

    const measured: ProcessorPeerFigures['rounds'][number][] = [];
    for (let round = 0; round < rounds; round++) {
      const topics = processorTopics(round);
      created.push(...Object.values(topics));
      if (round > 0) await createRunTopics(endpoints, topics);
      const processor = await startWorker('processor', {
        endpoints,
        run: `${run}_${round}`,
        topics: { ...topics, projectorDeadLetter: `${run}_${round}.projector-dlq` },
      });
      let ciclo: SteadyState;
      try {
        ciclo = await steadyState(
          endpoints,
          `${run}_${round}-processor`,
          input.touchpoints,
          processor.pid,
          records,
          perRecord,
          processor.failed,
        );
      } finally {
        await processor.stop();
      }
      process.stderr.write(`processor-peer: round ${round + 1}, ciclo ${JSON.stringify(ciclo)}\n`);
      const peers: Partial<Record<PeerStore, SteadyState>> = {};
      for (const store of peerStores) {
        const application = peerApplication(store, round);
        const peer = await startKafkaStreamsPeer(home, {
          bootstrapServers: endpoints.kafka.brokers.join(','),
          registryUrl: endpoints.schemaRegistry.url,
          inputTopic: input.touchpoints,
          outputTopic: store === 'rocksdb' ? input.peerStageChangesRocksdb : input.peerStageChangesInMemory,
          applicationId: application,
          store,
          punctuateIntervalMs: peerPunctuateMs(process.env),
        });
        try {
          await peer.ready;
          peers[store] = await steadyState(
            endpoints,
            application,
            input.touchpoints,
            peer.pid,
            records,
            perRecord,
            () => peer.failed(),
          );
        } finally {
          await peer.stop();
        }
        process.stderr.write(
          `processor-peer: round ${round + 1}, kafka streams (${store}) ${JSON.stringify(peers[store])}\n`,
        );
      }
      measured.push({ processor: ciclo, peerKafkaStreams: peers });
    }
    const cpu = (s: SteadyState): number => s.cpuMicrosPerTouchpoint;
    const peerKafkaStreams: Partial<Record<PeerStore, SteadyState>> = {};
    const pairedRatios: Partial<Record<PeerStore, number>> = {};
    for (const store of peerStores) {
      peerKafkaStreams[store] = medianBy(
        measured.map((r) => r.peerKafkaStreams[store]!),
        cpu,
      );
      pairedRatios[store] = medianBy(
        measured.map((r) => cpu(r.processor) / cpu(r.peerKafkaStreams[store]!)),
        (x) => x,
      );
    }
    return {
      touchpoints: events.length,
      records,
      processor: medianBy(
        measured.map((r) => r.processor),
        cpu,
      ),
      peerKafkaStreams,
      pairedRatios,
      rounds: measured,
    };
  } finally {
    const admin = await connectTopicAdmin(endpoints.kafka.brokers);
    const internal = (await admin.listTopics()).filter((t) => t.startsWith(`${run}-kafka-streams-`));
    await admin.deleteTopics([...new Set([...created, ...internal])]);
    await admin.close();
  }
}

/**
 * The peer's punctuation: every hour of stream time unless CICLO_BENCH_PEER_PUNCTUATE_MS says otherwise.
 * Inactivity deadlines are days apart, so an hour is what a user would pick; every 60 s of stream time (the
 * peer's own default) scanned the deadline index over a year of simulated time and cost the peer 527 µs a
 * touchpoint instead of 56 on a million touchpoints (RocksDB).
 */
function peerPunctuateMs(env: NodeJS.ProcessEnv): number {
  return Number(env.CICLO_BENCH_PEER_PUNCTUATE_MS ?? 3_600_000);
}

/**
 * The peer stores to run: RocksDB (Kafka Streams' default) and the in-memory store, unless CICLO_BENCH_PEER
 * names one (rocksdb, in-memory) or none (0).
 */
export function peerStoresFrom(env: NodeJS.ProcessEnv): PeerStore[] {
  const asked = env.CICLO_BENCH_PEER;
  if (asked === '0') return [];
  if (asked === 'rocksdb' || asked === 'in-memory') return [asked];
  return ['rocksdb', 'in-memory'];
}

/** Rounds of the comparison: CICLO_BENCH_PEER_ROUNDS, else `otherwise`. */
export function peerRoundsFrom(env: NodeJS.ProcessEnv, otherwise: number): number {
  const asked = env.CICLO_BENCH_PEER_ROUNDS;
  if (asked === undefined) return otherwise;
  const rounds = Number(asked);
  if (!Number.isInteger(rounds) || rounds < 1)
    throw new Error(`CICLO_BENCH_PEER_ROUNDS must be a whole number of at least 1, not ${asked}`);
  return rounds;
}

/** About a million touchpoints: the simulator makes 5.4 per customer over its year. */
export function peerBenchEvents(customers = 190_000): Touchpoint[] {
  return simulate({ customers, seed: 24, days: 365, start: DEFAULT_START });
}

async function main(): Promise<void> {
  const config = loadConfig(process.env, ROOT);
  const customers = Number(process.env.CICLO_BENCH_PEER_CUSTOMERS ?? 190_000);
  const figures = await processorAgainstPeer(
    config.endpoints,
    config.home,
    peerBenchEvents(customers),
    peerStoresFrom(process.env),
    peerRoundsFrom(process.env, 1),
  );
  const row = (name: string, value: number): string => `${name.padEnd(48)} ${value.toFixed(1).padStart(12)}`;
  const ciclo = figures.processor;
  process.stdout.write(
    [
      row('touchpoints', figures.touchpoints),
      row('processorCpuMicrosPerTouchpoint', ciclo.cpuMicrosPerTouchpoint),
      row('processorEventsPerSec', ciclo.eventsPerSec),
      ...Object.entries(figures.peerKafkaStreams).flatMap(([store, peer]) => [
        row(`peerKafkaStreamsCpuMicrosPerTouchpoint (${store})`, peer.cpuMicrosPerTouchpoint),
        row(`peerKafkaStreamsEventsPerSec (${store})`, peer.eventsPerSec),
        row(
          `ratio ciclo / Kafka Streams CPU (${store})`,
          ciclo.cpuMicrosPerTouchpoint / peer.cpuMicrosPerTouchpoint,
        ),
        row(`paired ratio, median of rounds (${store})`, figures.pairedRatios[store as PeerStore]!),
      ]),
      ...figures.rounds.map(
        (r, i) =>
          `round ${i + 1}: ciclo ${r.processor.cpuMicrosPerTouchpoint.toFixed(1)}` +
          Object.entries(r.peerKafkaStreams)
            .map(([store, peer]) => `, ${store} ${peer.cpuMicrosPerTouchpoint.toFixed(1)}`)
            .join('') +
          ' µs/touchpoint',
      ),
    ].join('\n') + '\n',
  );
}

if (require.main === module)
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
