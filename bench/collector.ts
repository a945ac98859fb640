/**
 * `npm run bench:collector`: the collector figure of `npm run bench` alone, with the raw produce baseline
 * it is compared with measured in the same run, so the collector can be tuned in a quick loop. Prints the
 * figures and their ratio; writes nothing.
 *
 * Options (environment): CICLO_BENCH_RAW=0 skips the baseline; CICLO_BENCH_RUNS (default 3) runs per figure;
 * CICLO_BENCH_PROFILE=<dir> profiles the collector process (see pipeline.ts).
 */
import path from 'node:path';
import { loadConfig } from '../infra/config';
import { foldBenchEvents, RUNS } from './fold';
import { rawKafka } from './kafka';
import { collectorEventsPerSec } from './pipeline';

const ROOT = path.resolve(__dirname, '..', '..');

async function main(): Promise<void> {
  const config = loadConfig(process.env, ROOT);
  const runs = Number(process.env.CICLO_BENCH_RUNS ?? RUNS);
  const events = foldBenchEvents();
  const raw =
    process.env.CICLO_BENCH_RAW === '0' ? undefined : await rawKafka(config.endpoints.kafka.brokers, 100_000);
  const collector = await collectorEventsPerSec(config.endpoints, events, runs);
  const lines = [
    ...(raw ? [`rawProduceEventsPerSec  ${Math.round(raw.produce)}`] : []),
    `collectorEventsPerSec   ${Math.round(collector)}`,
    ...(raw ? [`ratio collectorToRawProduce  ${(collector / raw.produce).toFixed(3)}`] : []),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
