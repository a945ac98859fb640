/**
 * A benchmark pipeline stage in its own process, as `ciclo process`, `ciclo project` and `ciclo collect` run
 * when deployed: `node dist/bench/worker.js <processor|projector|collector> <json options>`. It prints "ready" once consuming and
 * stops cleanly on SIGTERM. Only the benchmarks use it: they need their own topics and database, so that a
 * benchmark never writes into the topics and tables a user's pipeline reads.
 */
import type { ServiceEndpoints } from '../infra/config';
import { createLogger } from '../infra/log';
import { loadModel } from '../processors/domain/model';
import { startLifecycleProcessor, type ProcessorTopics } from '../processors/runtime/start';
import { loadCollectorConfig } from '../producers/collector/config';
import { startCollector } from '../producers/collector/start';
import { loadWebhooksConfig } from '../producers/webhooks/config';
import { startProjector } from '../projections/projector/projector';

interface WorkerOptions {
  endpoints: ServiceEndpoints;
  run: string;
  topics: ProcessorTopics & { projectorDeadLetter: string };
  /** For the collector: its write key and port. */
  writeKey?: string;
  port?: number;
}

async function main(): Promise<void> {
  const [role, json] = process.argv.slice(2);
  const options = JSON.parse(json ?? '{}') as WorkerOptions;
  const log = createLogger({ level: 'warn', name: `bench-${role ?? ''}` });
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
      config: loadCollectorConfig({ CICLO_WRITE_KEYS: `bench:${options.writeKey ?? ''}` }),
      webhooks: loadWebhooksConfig({}),
      log,
      port: options.port ?? 0,
      host: '127.0.0.1',
      topic: options.topics.touchpoints,
    });
    stop = () => collector.stop();
  } else throw new Error(`unknown role ${role ?? ''}: processor, projector or collector`);
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

main().catch((err: unknown) => {
  process.stderr.write(`${role()} failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

function role(): string {
  return process.argv[2] ?? 'worker';
}
