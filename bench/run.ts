/**
 * `npm run bench`: prints one table and writes bench/results.json. Each figure is the median of several
 * runs. Figures not measured yet are written as null with the reason, never guessed.
 *
 * Needs the stack for the Kafka baselines (`npx ciclo stack up`, or the env endpoints).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../infra/config';
import { countExternalMemoryInHeapLimit } from '../infra/external-memory';
import {
  collectorEventsPerSec,
  e2eEventsPerSec,
  e2eLatency,
  type LatencyFigures,
  topologyEventsPerSec,
  type CpuRuns,
} from './pipeline';
import {
  foldBenchEvents,
  foldFigures,
  longHistoryFigures,
  median,
  RUNS,
  stateBytesPerCustomer,
} from './fold';
import { BASELINE_PARTITIONS, baselineRecords, rawKafka } from './kafka';
import { parseCdnow } from '../projections/clv/cdnow';
import { parseIsoDay } from '../projections/clv/dates';
import { fitCdnow } from '../projections/clv/fit-cdnow';
import { peerBenchEvents, peerRoundsFrom, peerStoresFrom, processorAgainstPeer } from './processor-peer';
import { restoreSecondsPerMillionCustomers } from './restore';

const ROOT = path.resolve(__dirname, '..', '..');
function clvFitMasterSec(): number {
  const text = fs.readFileSync(path.join(ROOT, 'test', 'data', 'cdnow', 'CDNOW_master.txt'), 'utf8');
  const times: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t = performance.now();
    const parsed = parseCdnow(text);
    if (!parsed.ok) throw new Error(parsed.reason);
    const fit = fitCdnow(parsed.customers, parseIsoDay('1997-09-30')!);
    if (!fit.ok) throw new Error(fit.reason);
    times.push((performance.now() - t) / 1000);
  }
  return median(times);
}

/** The median over runs of one process's CPU µs per event (bench/cpu.ts), to 0.1 µs; null off Linux. */
function cpuMedian(runs: CpuRuns, name: string): number | null {
  const values = runs.map((r) => r.get(name)).filter((v): v is number => v !== undefined);
  return values.length === 0 ? null : Math.round(median(values) * 10) / 10;
}

async function main(): Promise<void> {
  countExternalMemoryInHeapLimit(); // as every ciclo process: the load and the raw baselines too
  const config = loadConfig(process.env, ROOT);
  const events = foldBenchEvents();
  const folds = foldFigures(events);
  const fold = folds.foldEventsPerSecPerCore;
  const state = stateBytesPerCustomer(1_000_000);
  const longHistory = longHistoryFigures();
  const rawRecords = baselineRecords(events, BASELINE_PARTITIONS);
  const kafka = await rawKafka(config.endpoints.kafka.brokers, rawRecords, events.length);
  const clv = clvFitMasterSec();
  const say = (line: string): void => void process.stderr.write(`${line}\n`);
  say(`fold ${Math.round(fold)}/s, raw kafka ${Math.round(kafka.produceConsume)}/s; now the pipeline...`);
  const e2eCpu: CpuRuns = [];
  const e2e = await e2eEventsPerSec(config.endpoints, events, RUNS, e2eCpu);
  say(`e2e ${Math.round(e2e)}/s`);
  // What the topology alone allows (no work at any stage): the ceiling the e2e figure is measured against.
  const topology = await topologyEventsPerSec(config.endpoints, events, RUNS);
  say(`topology ${Math.round(topology)}/s`);
  const latencyRate = Math.round(e2e * 0.25);
  const latencies: LatencyFigures[] = [];
  const latencyCpu: CpuRuns = [];
  for (let r = 0; r < RUNS; r++)
    latencies.push(await e2eLatency(config.endpoints, latencyRate, 30, latencyCpu));
  const collectorCpu: CpuRuns = [];
  const collector = await collectorEventsPerSec(config.endpoints, events, RUNS, collectorCpu);
  say(`collector ${Math.round(collector)}/s`);
  // RUNS rounds (a million touchpoints, minutes apiece): the processor alone, then the Kafka Streams peer.
  const peerRun = await processorAgainstPeer(
    config.endpoints,
    config.home,
    peerBenchEvents(),
    peerStoresFrom(process.env),
    peerRoundsFrom(process.env, RUNS),
  );
  const peer = peerRun.peerKafkaStreams;
  say(`processor ${peerRun.processor.cpuMicrosPerTouchpoint.toFixed(1)} µs/touchpoint`);
  const restore = await restoreSecondsPerMillionCustomers(config.endpoints, config.home);
  say(`restore ${restore.secondsPerMillionCustomers.toFixed(1)} s per million customers`);
  const tenth = (v: number | undefined): number | null => (v === undefined ? null : Math.round(v * 10) / 10);
  const cpuRatio = (store: 'rocksdb' | 'in-memory'): number | null => {
    const theirs = peer[store]?.cpuMicrosPerTouchpoint;
    return theirs === undefined
      ? null
      : Math.round((peerRun.processor.cpuMicrosPerTouchpoint / theirs) * 1000) / 1000;
  };
  const pairedRatio = (store: 'rocksdb' | 'in-memory'): number | null => {
    const ratio = peerRun.pairedRatios[store];
    return ratio === undefined ? null : Math.round(ratio * 1000) / 1000;
  };
  const byProcess = (runs: CpuRuns): Record<string, number | null> =>
    Object.fromEntries(
      ['processor', 'projector', 'kafka broker', 'clickhouse', 'bench (load generator, polling)'].map(
        (name) => [name, cpuMedian(runs, name)],
      ),
    );
  const results = {
    measuredAt: new Date().toISOString(),
    machine: {
      cores: os.cpus().length,
      cpu: os.cpus()[0]?.model ?? 'unknown',
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
    },
    runsPerFigure: RUNS,
    cores: os.cpus().length,
    foldEventsPerSecPerCore: Math.round(fold),
    foldEventsPerSecSimulatorTouchpoints: Math.round(folds.foldEventsPerSecSimulatorTouchpoints),
    foldEvents: events.length,
    stateBytesPerCustomer: Math.round(state),
    stateBytesPerLongHistoryCustomer: Math.round(longHistory.stateBytesPerLongHistoryCustomer),
    changelogBytesPerTouchpointLongHistory: Math.round(longHistory.changelogBytesPerTouchpointLongHistory),
    rawKafkaEventsPerSec: Math.round(kafka.produceConsume),
    rawProduceEventsPerSec: Math.round(kafka.produce),
    e2eEventsPerSec: Math.round(e2e),
    e2eCpuMicrosPerTouchpoint: cpuMedian(e2eCpu, 'total'),
    e2eCpuMicrosPerTouchpointByProcess: byProcess(e2eCpu),
    topologyEventsPerSec: Math.round(topology),
    e2eLatencyP50Ms: Math.round(median(latencies.map((l) => l.p50))),
    e2eLatencyP99Ms: Math.round(median(latencies.map((l) => l.p99))),
    e2eLatencyRateEventsPerSec: latencyRate,
    e2eLatencySamples: latencies.reduce((n, l) => n + l.samples, 0),
    touchpointQueryableP99Ms: Math.round(median(latencies.map((l) => l.touchpointP99))),
    stageChangeCommittedP50Ms: Math.round(median(latencies.map((l) => l.committedP50))),
    stageChangeCommittedP99Ms: Math.round(median(latencies.map((l) => l.committedP99))),
    e2eLatencyCpuMicrosPerTouchpoint: cpuMedian(latencyCpu, 'total'),
    e2eLatencyCpuMicrosPerTouchpointByProcess: byProcess(latencyCpu),
    collectorEventsPerSec: Math.round(collector),
    collectorCpuMicrosPerEvent: cpuMedian(collectorCpu, 'collector'),
    clvFitMasterSec: Math.round(clv * 1000) / 1000,
    processorCpuMicrosPerTouchpoint: tenth(peerRun.processor.cpuMicrosPerTouchpoint),
    processorEventsPerSec: Math.round(peerRun.processor.eventsPerSec),
    peerKafkaStreamsCpuMicrosPerTouchpoint: tenth(peer.rocksdb?.cpuMicrosPerTouchpoint),
    peerKafkaStreamsEventsPerSec: peer.rocksdb ? Math.round(peer.rocksdb.eventsPerSec) : null,
    peerKafkaStreamsInMemoryCpuMicrosPerTouchpoint: tenth(peer['in-memory']?.cpuMicrosPerTouchpoint),
    peerKafkaStreamsInMemoryEventsPerSec: peer['in-memory']
      ? Math.round(peer['in-memory'].eventsPerSec)
      : null,
    peerTouchpoints: peerRun.touchpoints,
    processorPeerRounds: peerRun.rounds.map((r) => ({
      processorCpuMicrosPerTouchpoint: tenth(r.processor.cpuMicrosPerTouchpoint),
      ...Object.fromEntries(
        Object.entries(r.peerKafkaStreams).map(([store, peer]) => [
          `${store}CpuMicrosPerTouchpoint`,
          tenth(peer.cpuMicrosPerTouchpoint),
        ]),
      ),
    })),
    restoreSecondsPerMillionCustomers: tenth(restore.secondsPerMillionCustomers),
    restoreCustomers: restore.customers,
    ratios: {
      e2eToRawKafka: Math.round((e2e / kafka.produceConsume) * 1000) / 1000,
      topologyToRawKafka: Math.round((topology / kafka.produceConsume) * 1000) / 1000,
      e2eToTopology: Math.round((e2e / topology) * 1000) / 1000,
      collectorToRawProduce: Math.round((collector / kafka.produce) * 1000) / 1000,
      processorToPeerKafkaStreamsCpu: cpuRatio('rocksdb'),
      processorToPeerKafkaStreamsInMemoryCpu: cpuRatio('in-memory'),
      processorToPeerKafkaStreamsCpuPaired: pairedRatio('rocksdb'),
      processorToPeerKafkaStreamsInMemoryCpuPaired: pairedRatio('in-memory'),
    },
    notes: {
      stateBytesPerLongHistoryCustomer:
        'heap bytes per customer after 2,000 page views each, 2,000 customers (stateBytesPerCustomer: after two events, 1M customers)',
      changelogBytesPerTouchpointLongHistory:
        'changelog bytes the processor writes per touchpoint of a customer with 1,000-2,000 earlier touchpoints (its state record, and its archive of older event ids when that changed)',
      rawKafkaEventsPerSec: `kafkajs produce+consume, no work, of the e2e run's own records (each touchpoint's Avro value and key: ${rawRecords.length} records for ${events.length} touchpoints), 6 partitions; touchpoints per second`,
      e2eEventsPerSec: `${events.length} simulated touchpoints, 6 partitions, processor (five-stage, grace 0, exactly-once) and projector each in its own Node process; until ClickHouse has every touchpoint and every stage change the replay predicts`,
      topologyEventsPerSec: `the e2e run's touchpoints through ciclo's Kafka topology with no work at any stage: a relay on the processor's exactly-once runner writing per touchpoint a snapshot, a changelog record and the replay's share of stage changes, and a sink consuming touchpoints, snapshots and stage changes as the projector does, each in its own Node process, no ClickHouse; a ceiling for e2eEventsPerSec, not a target`,
      e2eLatency: `steady ${latencyRate} events/s (25% of e2e) for 30 s, first purchases of new customers; sampled send -> stage change queryable in ClickHouse, polled every 50 ms; stageChangeCommitted: sampled send -> the stage change read by a read_committed consumer (the processor's part of the path); touchpointQueryable: sampled send -> the touchpoint queryable (the projector's path alone); e2eLatencyCpuMicrosPerTouchpoint: CPU per touchpoint sent over the 30 s of sending, every busy process (as e2eCpuMicrosPerTouchpoint), median of the runs`,
      rawProduceEventsPerSec:
        'kafkajs produce alone (no consumer running) of the same records; touchpoints per second',
      collectorEventsPerSec:
        'the collector in its own process on a topic of its own; Segment batches of 500, 8 in flight, counted on 202',
      e2eCpuMicrosPerTouchpoint:
        "CPU time per touchpoint over each e2e run's timed window, summed over every busy process on the machine (from /proc), median of the runs; ByProcess: each process's own median",
      collectorCpuMicrosPerEvent:
        "the collector process's CPU time per accepted event over each timed run, median of the runs",
      processorCpuMicrosPerTouchpoint: `bench/processor-peer.ts, the median of ${peerRun.rounds.length} rounds (each: ciclo, then the peer with each store): ${peerRun.touchpoints} simulated touchpoints (${peerRun.records} records, links copied) on a topic of 6 partitions before the processor starts; ciclo's processor (five-stage, exactly-once) in its own process, CPU from /proc from 20% of the records committed until lag 0, per touchpoint`,
      peerKafkaStreamsCpuMicrosPerTouchpoint:
        'the same records and window for the same job in Kafka Streams (bench/peers/kafka-streams: exactly_once_v2, RocksDB store, punctuation every hour of stream time, no identity merges); InMemory: with in-memory stores (changelogged too)',
      processorToPeerKafkaStreamsCpuPaired:
        "ratios: the median over the rounds of ciclo's CPU per touchpoint over the peer's in the same round (the medians' ratio is processorToPeerKafkaStreamsCpu); rounds: every round's figures",
      restoreSecondsPerMillionCustomers: `bench/restore.ts, one run: a processor holding ${restore.customers} customers SIGKILLed once it committed them; seconds from a new process's spawn until every partition processes again (${restore.seconds.toFixed(1)} s, scaled to a million customers; the killed member's session timeout, ${restore.sessionSeconds.toFixed(1)} s, waited out apart)`,
    },
  };
  fs.writeFileSync(path.join(ROOT, 'bench', 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  const rows: [string, string][] = Object.entries(results)
    .filter(([k]) => !['machine', 'notes', 'measuredAt', 'ratios'].includes(k))
    .map(([k, v]): [string, string] => [
      k,
      v === null ? 'not measured' : typeof v === 'number' ? v.toString() : JSON.stringify(v),
    ])
    .concat(Object.entries(results.ratios).map(([k, v]): [string, string] => [`ratio ${k}`, String(v)]));
  const width = Math.max(...rows.map(([k]) => k.length));
  process.stdout.write(
    `${rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')}\nwrote bench/results.json\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
