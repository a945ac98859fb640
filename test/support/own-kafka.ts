/**
 * A Kafka broker of a test's own, for tests that stop the broker (the collector's 503 path) without taking
 * Kafka away from every other test running against the shared services. It is a real single-node KRaft
 * broker on free ports with its own data folder, built from the same jars as `ciclo stack` (installed from
 * Maven Central on first use, also when the shared services come from testcontainers).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { kafkaLibsDir, kafkaService } from '../../infra/stack/kafka-service';
import { readPid, stopProcessGroup, tailFile, waitFor, freePort } from '../../infra/stack/processes';
import { PROJECT_ROOT } from '../setup/services';

export interface OwnKafka {
  readonly brokers: string[];
  /** Starts the broker (again), keeping its data: what it acknowledged before a stop is still there. */
  start(): Promise<void>;
  /** Kills the broker at once (SIGKILL to its process group), as a crash would. */
  kill(): Promise<void>;
  /** Stops it and removes its data folder. */
  dispose(): Promise<void>;
}

export async function createOwnKafka(): Promise<OwnKafka> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ciclo-own-kafka-'));
  const service = kafkaService(home, {
    port: await freePort(),
    controllerPort: await freePort(),
    libsDir: kafkaLibsDir(path.join(PROJECT_ROOT, '.ciclo')),
  });
  await service.install((line) => process.stderr.write(`[own-kafka] ${line}\n`));

  const start = async (): Promise<void> => {
    await service.start((line) => process.stderr.write(`[own-kafka] ${line}\n`));
    await waitFor('own Kafka broker', async () => ((await service.probe()).healthy ? true : undefined), {
      timeoutMs: service.startTimeoutMs,
    }).catch((err: unknown) => {
      throw new Error(`own Kafka broker did not start; log:\n${tailFile(service.logFile, 20)}`, {
        cause: err,
      });
    });
  };
  await start();
  return {
    brokers: service.address.split(','),
    start,
    async kill() {
      const pid = readPid(service.pidFile);
      if (pid === undefined) return;
      await stopProcessGroup(service.pidFile, 0);
    },
    async dispose() {
      await stopProcessGroup(service.pidFile, 5_000);
      fs.rmSync(home, { recursive: true, force: true });
    },
  };
}
