/**
 * Starts the lifecycle processor: serdes registered, the exactly-once runner on the touchpoint topic with
 * this model's consumer group and changelog keys. Several instances with the same model share partitions.
 */
import type { RecentEventsOptions } from '../domain/recent-events';
import type { CicloConfig, ServiceEndpoints } from '../../infra/config';
import { loadInstallationSecret } from '../../infra/privacy/installation-secret';
import { pseudonymOf } from '../../schemas/pseudonym';
import { CicloError } from '../../infra/errors';
import { connectTopicAdmin } from '../../infra/kafka/admin';
import { checkDurability } from '../../infra/kafka/durability-check';
import {
  startTransactionalProcessor,
  type RunningProcessor,
} from '../../infra/kafka/transactional-processor';
import type { Logger } from '../../infra/log';
import { observeConsumerLag } from '../../infra/metrics/consumer-lag';
import type { Metrics } from '../../infra/metrics/registry';
import { createAvroRegistry } from '../../infra/registry/schema-registry';
import { CONTRACTS } from '../../schemas/contracts';
import { createSerde } from '../../infra/registry/serde';
import { processorGroupOf, TOPICS, valueSubject } from '../../schemas/topics';
import type { StageModel } from '../domain/model';
import { watchHeap } from './heap-watch';
import { createLifecycleTask } from './lifecycle-task';
import { registerProcessorMetrics } from './metrics';
import { watchOutcomes } from './outcomes';

/**
 * An import run writes to every partition while it produces (its keys hash all over), so ten minutes without
 * a record of its own on a partition, while others' records come, means it died without closing its lane.
 */
export const LANE_LEASE_MS = 10 * 60_000;

/**
 * How long a partition's input must be quiet before its buffers are applied and its clock moves to the
 * newest time the other partitions announced (partition.ts `flush`). A partition looks quiet while its
 * records are delayed upstream too: a broker lost under the collector holds a partition's records back for
 * as long as its leadership takes to move (10-50 s measured on the three-broker test cluster), and a flush
 * meanwhile runs the partition ahead of records still coming, which then apply out of order (the cluster's
 * leader-kill test gave 79 stage changes unlike the truth with 500 ms; docs/event-time.md). Lifecycle
 * deadlines are days long: a minute's wait when traffic stops costs nothing a user sees.
 */
export const IDLE_FLUSH_MS = 60_000;

export interface ProcessorTopics {
  readonly touchpoints: string;
  /** Messages between the processor's partitions (identity links); created if missing, like touchpoints. */
  readonly identity: string;
  readonly stageChanges: string;
  readonly customerSnapshots: string;
  readonly changelog: string;
  readonly deadLetter: string;
}

export const DEFAULT_PROCESSOR_TOPICS: ProcessorTopics = {
  touchpoints: TOPICS.touchpoints.name,
  identity: TOPICS.lifecycleIdentity.name,
  stageChanges: TOPICS.stageChanges.name,
  customerSnapshots: TOPICS.customerSnapshots.name,
  changelog: TOPICS.lifecycleState.name,
  deadLetter: TOPICS.touchpointsDeadLetter.name,
};

export async function startLifecycleProcessor(options: {
  endpoints: ServiceEndpoints;
  model: StageModel;
  gracePeriodMs: number;
  idleFlushMs: number;
  /** How long an import lane may carry nothing before it is closed as abandoned (default LANE_LEASE_MS). */
  laneLeaseMs?: number;
  /** What each partition remembers to drop copies of its input (default DEFAULT_RECENT_EVENTS). */
  recentEvents?: RecentEventsOptions;
  log: Logger;
  topics?: ProcessorTopics;
  groupId?: string;
  /** Stops the processor when aborted, also while it is still starting (see startTransactionalProcessor). */
  signal?: AbortSignal;
  /** Where to report the processor's metrics (metrics.ts) and its consumer lag; none when absent. */
  metrics?: Metrics;
  /**
   * Where the installation's secret is (infra/privacy/installation-secret.ts): the key of the pseudonyms
   * forget markers name people by. Without it, a forget marker stops the processor (lifecycle-task.ts).
   */
  installation?: Pick<CicloConfig, 'home' | 'pseudonymSecret'>;
}): Promise<RunningProcessor> {
  const topics = options.topics ?? DEFAULT_PROCESSOR_TOPICS;
  const installation = options.installation;
  const secret = installation && loadInstallationSecret(installation.home, installation.pseudonymSecret);
  const { partitions, snapshotPartitions } = await topicLayout(
    options.endpoints.kafka.brokers,
    topics,
    options.log,
  );
  const registry = createAvroRegistry(options.endpoints.schemaRegistry.url);
  const task = createLifecycleTask({
    model: options.model,
    gracePeriodMs: options.gracePeriodMs,
    laneLeaseMs: options.laneLeaseMs ?? LANE_LEASE_MS,
    ...(options.recentEvents ? { recentEvents: options.recentEvents } : {}),
    partitions,
    snapshotPartitions,
    topics: {
      touchpoints: topics.touchpoints,
      identity: topics.identity,
      stageChanges: topics.stageChanges,
      customerSnapshots: topics.customerSnapshots,
      changelog: topics.changelog,
      deadLetter: topics.deadLetter,
    },
    serdes: {
      touchpoint: await createSerde(registry, CONTRACTS.touchpoint, valueSubject(topics.touchpoints)),
      stageChanged: await createSerde(registry, CONTRACTS.stageChanged, valueSubject(topics.stageChanges)),
      customerSnapshot: await createSerde(
        registry,
        CONTRACTS.customerSnapshot,
        valueSubject(topics.customerSnapshots),
      ),
      lifecycleState: await createSerde(registry, CONTRACTS.lifecycleState, valueSubject(topics.changelog)),
      identity: await createSerde(registry, CONTRACTS.lifecycleState, valueSubject(topics.identity)),
    },
    log: options.log,
    ...(secret ? { pseudonymOf: (id: string) => pseudonymOf(secret, id) } : {}),
  });
  const groupId = options.groupId ?? processorGroupOf('ciclo', options.model.id);
  const metrics = options.metrics && registerProcessorMetrics(options.metrics, options.model.id, task);
  const lag =
    options.metrics &&
    observeConsumerLag(options.metrics, {
      brokers: options.endpoints.kafka.brokers,
      groups: [{ group: groupId, topics: [topics.touchpoints, topics.identity] }],
      log: options.log,
    });
  const running = await startTransactionalProcessor({
    brokers: options.endpoints.kafka.brokers,
    groupId,
    inputTopic: topics.touchpoints,
    coPartitionedTopics: [topics.identity],
    changelogTopic: topics.changelog,
    transactionalIdPrefix: groupId,
    task,
    log: options.log,
    idleFlushMs: options.idleFlushMs,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(metrics ? { onTransaction: metrics.onTransaction } : {}),
  }).catch(async (err: unknown) => {
    await lag?.close();
    throw err;
  });
  const stopWatching = watchHeap(options.log, () => {
    let customers = 0;
    for (const p of task.partitions.values()) customers += p.customers.size;
    return customers;
  });
  const stopOutcomes = watchOutcomes(options.log, () => task.partitions.values());
  return {
    ...running,
    stop: async () => {
      stopWatching();
      stopOutcomes();
      await running.stop();
      await lag?.close();
    },
  };
}

/**
 * The touchpoint topic's partition count, after making sure the identity topic exists with the same count
 * (ids are routed between partitions by that count, so a mismatch would send messages to the wrong state),
 * and the snapshot topic's, which snapshots are partitioned by explicitly (created like the identity topic
 * if missing).
 */
async function topicLayout(
  brokers: readonly string[],
  topics: ProcessorTopics,
  log: Logger,
): Promise<{ partitions: number; snapshotPartitions: number }> {
  const admin = await connectTopicAdmin(brokers);
  try {
    const before = await admin.partitionCounts([
      topics.touchpoints,
      topics.identity,
      topics.customerSnapshots,
    ]);
    const partitions = before.get(topics.touchpoints);
    if (partitions === undefined)
      throw new CicloError(
        'CONFIG_INVALID',
        `topic ${topics.touchpoints} does not exist: run ciclo stack up`,
      );
    if (!before.has(topics.identity))
      await admin.ensureTopics([{ ...TOPICS.lifecycleIdentity, name: topics.identity, partitions }]);
    const identity = (await admin.partitionCounts([topics.identity])).get(topics.identity);
    if (identity !== partitions)
      throw new CicloError(
        'CONFIG_INVALID',
        `topic ${topics.identity} has ${identity} partitions, ${topics.touchpoints} has ${partitions}: ` +
          'they must match (delete the identity topic while no processor runs; it is recreated)',
      );
    if (!before.has(topics.customerSnapshots))
      await admin.ensureTopics([{ ...TOPICS.customerSnapshots, name: topics.customerSnapshots, partitions }]);
    const snapshotPartitions = (await admin.partitionCounts([topics.customerSnapshots])).get(
      topics.customerSnapshots,
    );
    if (snapshotPartitions === undefined)
      throw new CicloError('CONFIG_INVALID', `topic ${topics.customerSnapshots} could not be created`);
    await checkDurability(admin, Object.values(topics), log);
    return { partitions, snapshotPartitions };
  } finally {
    await admin.close();
  }
}
