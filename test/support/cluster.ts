/**
 * The test cluster of issue 23: `ciclo stack up --brokers 3 --clickhouse-replicas 2` in a home of its own
 * (`.ciclo/test-cluster`, kept between runs so its installs are reused) on ports shifted by
 * CLUSTER_PORT_OFFSET, beside the shared single-node stack the other integration tests use. Members are
 * killed with SIGKILL to their process group, as a crash would, and started again keeping their data.
 */
import fs from 'node:fs';
import path from 'node:path';
import { connectTopicAdmin } from '../../infra/kafka/admin';
import { loadConfig, type CicloConfig } from '../../infra/config';
import type { NativeService } from '../../infra/stack/service';
import { stackShapeFile } from '../../infra/stack/shape';
import { createStack, type Stack } from '../../infra/stack/stack';
import { isAlive, readPid, stopProcessGroup, tailFile, waitFor } from '../../infra/stack/processes';
import { PROJECT_ROOT } from '../setup/services';

export const CLUSTER_PORT_OFFSET = 10_000;
export const CLUSTER_HOME = path.join(PROJECT_ROOT, '.ciclo', 'test-cluster');

/** The endpoint variables of the shared stack: a child of the cluster's pipeline must not inherit them. */
const SHARED_ENDPOINT_VARS = ['KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL', 'CLICKHOUSE_URL', 'CLICKHOUSE_CLUSTER'];

export interface TestCluster {
  readonly config: CicloConfig;
  readonly stack: Stack;
  /** The environment of a `ciclo` child of the cluster: its home, none of the shared stack's endpoints. */
  readonly env: NodeJS.ProcessEnv;
  member(name: string): NativeService;
  kill(name: string): Promise<void>;
  /** SIGTERM, waiting for the member to exit (Kafka's controlled shutdown hands its leadership over). */
  stopGracefully(name: string): Promise<void>;
  /** Starts a killed member again and waits until it is healthy; resolves with when it was. */
  restart(name: string): Promise<number>;
  stop(): Promise<void>;
}

export async function startTestCluster(): Promise<TestCluster> {
  const baseEnv: NodeJS.ProcessEnv = { ...process.env, CICLO_HOME: CLUSTER_HOME };
  for (const name of SHARED_ENDPOINT_VARS) delete baseEnv[name];
  const shape = { brokers: 3, clickhouseReplicas: 2, portOffset: CLUSTER_PORT_OFFSET };
  const say = (line: string): void => void process.stderr.write(`[test-cluster] ${line}\n`);
  await createStack(loadConfig(baseEnv, PROJECT_ROOT), shape).up(say);
  // Read again: the endpoints follow the shape the stack was brought up with.
  const config = loadConfig(baseEnv, PROJECT_ROOT);
  const stack = createStack(config);
  const member = (name: string): NativeService => {
    const found = stack.services.find((s) => s.name === name);
    if (!found) throw new Error(`no member ${name} in ${stack.services.map((s) => s.name).join(', ')}`);
    return found;
  };
  return {
    config,
    stack,
    env: baseEnv,
    member,
    async kill(name) {
      await stopProcessGroup(member(name).pidFile, 0);
    },
    async stopGracefully(name) {
      await stopProcessGroup(member(name).pidFile, 60_000);
    },
    async restart(name) {
      const s = member(name);
      await s.start(say);
      const pid = readPid(s.pidFile);
      await waitFor(name, async () => ((await s.probe()).healthy ? true : undefined), {
        timeoutMs: s.startTimeoutMs,
        isDead: () => pid === undefined || !isAlive(pid),
      }).catch((err: unknown) => {
        throw new Error(`${name} did not come back; log:\n${tailFile(s.logFile, 20)}`, { cause: err });
      });
      return Date.now();
    },
    async stop() {
      await stack.down(say);
    },
  };
}

/**
 * In CI, the test cluster a run started stops with the run (as the shared stack does); locally it stays up
 * for the next run.
 */
export async function stopTestClusterInCi(): Promise<void> {
  if (!process.env.CI || !fs.existsSync(stackShapeFile(CLUSTER_HOME))) return;
  const env: NodeJS.ProcessEnv = { ...process.env, CICLO_HOME: CLUSTER_HOME };
  for (const name of SHARED_ENDPOINT_VARS) delete env[name];
  await createStack(loadConfig(env, PROJECT_ROOT)).down((line) =>
    process.stderr.write(`[test-cluster] ${line}\n`),
  );
}

/** Node id -> how many partitions of `topics` it leads. */
export async function leadersOf(
  brokers: readonly string[],
  topics: readonly string[],
): Promise<Map<number, number>> {
  const admin = await connectTopicAdmin(brokers);
  try {
    const leaders = new Map<number, number>();
    for (const t of await admin.partitionLeaders(topics))
      leaders.set(t.leader, (leaders.get(t.leader) ?? 0) + 1);
    return leaders;
  } finally {
    await admin.close();
  }
}

/** Java's String.hashCode, which Kafka uses to place a transactional id on a __transaction_state partition. */
export function javaStringHash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h;
}

/**
 * The broker coordinating each transactional id: the leader of its __transaction_state partition,
 * `abs(hashCode) % partitions` (Kafka's TransactionStateManager.partitionFor; Utils.abs maps MIN_VALUE to 0).
 */
export async function transactionCoordinators(
  brokers: readonly string[],
  transactionalIds: readonly string[],
): Promise<Map<string, number>> {
  const admin = await connectTopicAdmin(brokers);
  try {
    const partitions = await admin.partitionLeaders(['__transaction_state']);
    const leaderOf = new Map(partitions.map((p) => [p.partition, p.leader]));
    const result = new Map<string, number>();
    for (const id of transactionalIds) {
      const h = javaStringHash(id);
      const partition = (h === -2147483648 ? 0 : Math.abs(h)) % partitions.length;
      result.set(id, leaderOf.get(partition)!);
    }
    return result;
  } finally {
    await admin.close();
  }
}

/** Partitions of every topic with fewer than three replicas in sync. */
export async function underReplicatedPartitions(brokers: readonly string[]): Promise<number> {
  const admin = await connectTopicAdmin(brokers);
  try {
    const partitions = await admin.partitionLeaders(await admin.listTopics());
    return partitions.filter((p) => p.isr.length < 3).length;
  } finally {
    await admin.close();
  }
}
