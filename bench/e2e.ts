/**
 * The e2e figure of `npm run bench` alone, with the raw produce+consume baseline it is compared with measured
 * in the same run, so the pipeline can be tuned in a quick loop: `npm run build && node dist/bench/e2e.js`.
 * Prints the figures and their ratio; writes nothing.
 *
 * Options (environment): CICLO_BENCH_RAW=0 skips the baseline; CICLO_BENCH_RUNS (default 3) runs per figure;
 * CICLO_BENCH_PROFILE=<dir> profiles the processor and projector processes (see pipeline.ts).
 */
import path from 'node:path';
import { loadConfig } from '../infra/config';
import { foldBenchEvents, RUNS } from './fold';
import { rawKafka } from './kafka';
import { e2eEventsPerSec } from './pipeline';

const ROOT = path.resolve(__dirname, '..', '..');

async function main(): Promise<void> {
  const config = loadConfig(process.env, ROOT);
  const runs = Number(process.env.CICLO_BENCH_RUNS ?? RUNS);
  const events = foldBenchEvents();
  const raw =
    process.env.CICLO_BENCH_RAW === '0' ? undefined : await rawKafka(config.endpoints.kafka.brokers, 100_000);
  const e2e = await e2eEventsPerSec(config.endpoints, events, runs);
  const lines = [
    ...(raw ? [`rawKafkaEventsPerSec  ${Math.round(raw.produceConsume)}`] : []),
    `e2eEventsPerSec       ${Math.round(e2e)}`,
    ...(raw ? [`ratio e2eToRawKafka   ${(e2e / raw.produceConsume).toFixed(3)}`] : []),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
