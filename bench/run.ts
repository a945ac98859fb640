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
import { connectTopicAdmin } from '../infra/kafka/admin';
import { connectConsumer } from '../infra/kafka/consumer';
import { connectProducer } from '../infra/kafka/producer';
import { foldBenchEvents, foldEventsPerSec, median, RUNS, stateBytesPerCustomer } from './fold';
import { parseCdnow } from '../projections/clv/cdnow';
import { parseIsoDay } from '../projections/clv/dates';
import { fitCdnow } from '../projections/clv/fit-cdnow';

const ROOT = path.resolve(__dirname, '..', '..');
async function rawKafka(
  brokers: readonly string[],
  messages: number,
): Promise<{ produce: number; produceConsume: number }> {
  const topic = `ciclo.bench.raw.${Date.now()}`;
  const admin = await connectTopicAdmin(brokers);
  await admin.ensureTopics([{ name: topic, partitions: 6 }]);
  await admin.close();
  const value = Buffer.alloc(300, 7); // about the size of an Avro touchpoint
  const producer = await connectProducer({ brokers, clientId: 'bench' });
  const produceRates: number[] = [];
  const bothRates: number[] = [];
  try {
    for (let r = 0; r < RUNS; r++) {
      const t0 = performance.now();
      let consumed = 0;
      const consumer = await connectConsumer({
        brokers,
        groupId: `bench-${Date.now()}-${r}`,
        topics: [topic],
        fromBeginning: false,
        commitOffsets: false,
      });
      let done!: () => void;
      const all = new Promise<void>((resolve) => (done = resolve));
      await consumer.run((batch) => {
        consumed += batch.length;
        if (consumed >= messages) done();
        return Promise.resolve();
      });
      await new Promise((r2) => setTimeout(r2, 3000)); // group joined, positioned at the end
      const start = performance.now();
      const batches: Promise<void>[] = [];
      for (let i = 0; i < messages; i += 1000) {
        batches.push(
          producer.send(
            topic,
            Array.from({ length: Math.min(1000, messages - i) }, (_, k) => ({
              key: `k${(i + k) % 5000}`,
              value,
            })),
          ),
        );
        if (batches.length >= 4) await batches.shift();
      }
      await Promise.all(batches);
      const produced = performance.now();
      await all;
      const end = performance.now();
      await consumer.stop();
      produceRates.push(messages / ((produced - start) / 1000));
      bothRates.push(messages / ((end - start) / 1000));
      void t0;
    }
  } finally {
    await producer.close();
    const cleanup = await connectTopicAdmin(brokers);
    await cleanup.deleteTopics([topic]);
    await cleanup.close();
  }
  return { produce: median(produceRates), produceConsume: median(bothRates) };
}

function clvFitMasterSec(): number {
  const text = fs.readFileSync(
    path.join(ROOT, '..', 'shared', 'datasets', 'cdnow', 'CDNOW_master.txt'),
    'utf8',
  );
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

async function main(): Promise<void> {
  const config = loadConfig(process.env, ROOT);
  const events = foldBenchEvents();
  const fold = foldEventsPerSec(events);
  const state = stateBytesPerCustomer(1_000_000);
  const kafka = await rawKafka(config.endpoints.kafka.brokers, 100_000);
  const clv = clvFitMasterSec();
  const notMeasured = 'not measured yet (next session)';
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
    foldEvents: events.length,
    stateBytesPerCustomer: Math.round(state),
    rawKafkaEventsPerSec: Math.round(kafka.produceConsume),
    rawProduceEventsPerSec: Math.round(kafka.produce),
    e2eEventsPerSec: null,
    e2eLatencyP50Ms: null,
    e2eLatencyP99Ms: null,
    collectorEventsPerSec: null,
    clvFitMasterSec: Math.round(clv * 1000) / 1000,
    notes: {
      e2eEventsPerSec: notMeasured,
      e2eLatencyP50Ms: notMeasured,
      e2eLatencyP99Ms: notMeasured,
      collectorEventsPerSec: notMeasured,
    },
  };
  fs.writeFileSync(path.join(ROOT, 'bench', 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  const rows: [string, string][] = Object.entries(results)
    .filter(([k]) => !['machine', 'notes', 'measuredAt'].includes(k))
    .map(([k, v]) => [
      k,
      v === null ? 'not measured' : typeof v === 'number' ? v.toString() : JSON.stringify(v),
    ]);
  const width = Math.max(...rows.map(([k]) => k.length));
  process.stdout.write(
    `${rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')}\nwrote bench/results.json\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
