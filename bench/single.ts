/**
 * One figure of `npm run bench` alone, with the Kafka baseline it is compared with measured in the same run,
 * so a stage can be tuned in a quick loop (`collector.ts`, `e2e.ts`). Prints the figures and their ratio;
 * writes nothing.
 *
 * Options (environment): CICLO_BENCH_RAW=0 skips the baseline; CICLO_BENCH_RUNS (default 3) runs per figure;
 * CICLO_BENCH_PROFILE=<dir> profiles the worker processes (see pipeline.ts).
 */
import path from 'node:path';
import { loadConfig, type ServiceEndpoints } from '../infra/config';
import { countExternalMemoryInHeapLimit } from '../infra/external-memory';
import type { Touchpoint } from '../schemas/touchpoint';
import { foldBenchEvents, RUNS } from './fold';
import { BASELINE_PARTITIONS, baselineRecords, rawKafka } from './kafka';

const ROOT = path.resolve(__dirname, '..', '..');

export function benchSingleFigure(figure: {
  /** The figure's key, as in results.json. */
  readonly name: string;
  /** Which baseline it is a ratio of: kafkajs produce alone, or produce and consume. */
  readonly baseline: 'produce' | 'produceConsume';
  readonly measure: (endpoints: ServiceEndpoints, events: Touchpoint[], runs: number) => Promise<number>;
}): void {
  const main = async (): Promise<void> => {
    countExternalMemoryInHeapLimit(); // as every ciclo process: the load and the raw baselines too
    const config = loadConfig(process.env, ROOT);
    const runs = Number(process.env.CICLO_BENCH_RUNS ?? RUNS);
    const events = foldBenchEvents();
    const raw =
      process.env.CICLO_BENCH_RAW === '0'
        ? undefined
        : await rawKafka(
            config.endpoints.kafka.brokers,
            baselineRecords(events, BASELINE_PARTITIONS),
            events.length,
          );
    const value = await figure.measure(config.endpoints, events, runs);
    const baselineName = figure.baseline === 'produce' ? 'rawProduceEventsPerSec' : 'rawKafkaEventsPerSec';
    const lines = raw
      ? [
          `${baselineName}  ${Math.round(raw[figure.baseline])}`,
          `${figure.name}  ${Math.round(value)}`,
          `ratio  ${(value / raw[figure.baseline]).toFixed(3)}`,
        ]
      : [`${figure.name}  ${Math.round(value)}`];
    process.stdout.write(`${lines.join('\n')}\n`);
  };
  main().catch((err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
