/**
 * Starts the lifecycle processor: its model's changelog topic made if missing, serdes registered, the
 * exactly-once runner on the touchpoint topic with this model's consumer group and changelog. Several
 * instances with the same model share partitions. A partition whose changelog was never initialised is
 * initialised before it is restored, its state moved from the changelog every model shared before
 * (changelog/shared-move.ts).
 */
import type { RecentEventsOptions } from '../domain/recent-events';
import type { CicloConfig, ServiceEndpoints } from '../../infra/config';
import { loadInstallationSecret } from '../../infra/privacy/installation-secret';
import { pseudonymOf } from '../../schemas/pseudonym';
import { CicloError } from '../../infra/errors';
import { connectTopicAdmin } from '../../infra/kafka/admin';
import { openFencedTransactions } from '../../infra/kafka/fenced-transactions';
import type { IncomingMessage } from '../../infra/kafka/types';
import { checkDurability } from '../../infra/kafka/durability-check';
import {
  startTransactionalProcessor,
  type RunningProcessor,
  type StreamTask,
} from '../../infra/kafka/transactional-processor';
import type { Logger } from '../../infra/log';
import { observeConsumerLag } from '../../infra/metrics/consumer-lag';
import type { Metrics } from '../../infra/metrics/registry';
import { createAvroRegistry } from '../../infra/registry/schema-registry';
import { CONTRACTS } from '../../schemas/contracts';
import { createSerde } from '../../infra/registry/serde';
import { provisionTopicsAndSchemas } from '../../infra/registry/provision';
import {
  LIFECYCLE_STATE,
  lifecycleStateTopicOf,
  namespacedTopics,
  processorGroupOf,
  sharedLifecycleStateTopicOf,
  TOPICS,
  topicNameProblem,
  valueSubject,
} from '../../schemas/topics';
import type { StageModel } from '../domain/model';
import { watchHeap } from './heap-watch';
import { CHANGELOG_FORMAT_VERSION } from './changelog/records';
import { initialiseChangelogPartition, isInitialised } from './changelog/shared-move';
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
  /** The model's own changelog (`<ns>.lifecycle-state.<modelId>`); created if missing, like identity. */
  readonly changelog: string;
  /**
   * The changelog every model shared before each had its own: where this model's state is moved from when
   * a partition of `changelog` was never initialised (changelog/shared-move.ts). None, or a topic that does
   * not exist: nothing to move.
   */
  readonly sharedChangelog?: string;
  readonly deadLetter: string;
}

/** A model's processor's topics in a namespace (`ciclo` unless given): `<ns>.touchpoints`, ... */
export function processorTopicsOf(modelId: string, namespace = 'ciclo'): ProcessorTopics {
  const topics = namespace === 'ciclo' ? TOPICS : namespacedTopics(namespace);
  return {
    touchpoints: topics.touchpoints.name,
    identity: topics.lifecycleIdentity.name,
    stageChanges: topics.stageChanges.name,
    customerSnapshots: topics.customerSnapshots.name,
    changelog: lifecycleStateTopicOf(modelId, namespace).name,
    sharedChangelog: sharedLifecycleStateTopicOf(namespace),
    deadLetter: topics.touchpointsDeadLetter.name,
  };
}

/** Refuses, naming the model, a changelog topic name that Kafka would refuse. */
export function checkChangelogTopicName(modelId: string, topic: string): void {
  const problem = topicNameProblem(topic);
  if (problem !== undefined)
    throw new CicloError(
      'CONFIG_INVALID',
      `model "${modelId}" cannot have its changelog topic "${topic}": ${problem}. A model's id names its ` +
        'changelog (<namespace>.lifecycle-state.<model id>), so it must fit in a topic name',
    );
}

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
  const { model, log } = options;
  const topics = options.topics ?? processorTopicsOf(model.id);
  checkChangelogTopicName(model.id, topics.changelog);
  const installation = options.installation;
  const secret = installation && loadInstallationSecret(installation.home, installation.pseudonymSecret);
  const registry = createAvroRegistry(options.endpoints.schemaRegistry.url);
  const { partitions, snapshotPartitions, sharedChangelog } = await topicLayout(
    options.endpoints.kafka.brokers,
    registry,
    topics,
    log,
  );
  const changelogSerde = await createSerde(
    registry,
    CONTRACTS.lifecycleState,
    valueSubject(topics.changelog),
  );
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
      lifecycleState: changelogSerde,
      identity: await createSerde(registry, CONTRACTS.lifecycleState, valueSubject(topics.identity)),
    },
    log: options.log,
    ...(secret ? { pseudonymOf: (id: string) => pseudonymOf(secret, id) } : {}),
  });
  const groupId = options.groupId ?? processorGroupOf('ciclo', options.model.id);
  const brokers = options.endpoints.kafka.brokers;
  /** Initialises a partition of the model's changelog (changelog/shared-move.ts); its records after. */
  const initialise = async (partition: number): Promise<readonly IncomingMessage[]> => {
    const port = await openFencedTransactions({
      brokers,
      // Of the model's group and the changelog's partition: two instances never move one partition at once.
      transactionalId: `${groupId}-init-${topics.changelog}-${partition}`,
      log,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    try {
      const moved = await initialiseChangelogPartition({
        port,
        modelId: model.id,
        partition,
        topic: topics.changelog,
        ...(sharedChangelog !== undefined ? { shared: sharedChangelog } : {}),
        marker: (movedKeys) =>
          changelogSerde.encode({
            kind: 'partition',
            modelId: model.id,
            modelVersion: model.version,
            formatVersion: CHANGELOG_FORMAT_VERSION,
            state: JSON.stringify({
              initialised: true,
              ...(sharedChangelog !== undefined ? { movedFrom: sharedChangelog, movedKeys } : {}),
            }),
          }),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      if (moved.initialisedHere)
        log.info(
          {
            partition,
            changelog: topics.changelog,
            ...(sharedChangelog !== undefined
              ? { movedFrom: sharedChangelog, movedKeys: moved.movedKeys }
              : {}),
          },
          'changelog partition initialised',
        );
      return moved.records;
    } finally {
      await port.close().catch(() => undefined);
    }
  };
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
    task: initialisingChangelog(task, initialise),
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
 * The task as the runner drives it: a partition whose changelog lacks the marker of an initialised one is
 * initialised first, and restored from what that leaves.
 */
function initialisingChangelog(
  task: StreamTask,
  initialise: (partition: number) => Promise<readonly IncomingMessage[]>,
): StreamTask {
  return {
    open: async (partition, changelog) =>
      task.open(partition, isInitialised(changelog) ? changelog : await initialise(partition)),
    process: (partition, messages) => task.process(partition, messages),
    close: (partition) => task.close(partition),
    ...(task.idle ? { idle: (partition: number) => task.idle!(partition) } : {}),
  };
}

/**
 * The touchpoint topic's partition count, after making sure the identity topic exists with the same count
 * (ids are routed between partitions by that count, so a mismatch would send messages to the wrong state),
 * and so does the model's changelog (a partition's state goes to the changelog partition of its number;
 * created with its schema's subject if missing); the snapshot topic's count, which snapshots are partitioned
 * by explicitly (created like the identity topic if missing); and the shared changelog, if it exists.
 */
async function topicLayout(
  brokers: readonly string[],
  registry: ReturnType<typeof createAvroRegistry>,
  topics: ProcessorTopics,
  log: Logger,
): Promise<{ partitions: number; snapshotPartitions: number; sharedChangelog?: string }> {
  const admin = await connectTopicAdmin(brokers);
  try {
    const before = await admin.partitionCounts([
      topics.touchpoints,
      topics.identity,
      topics.customerSnapshots,
      topics.changelog,
      ...(topics.sharedChangelog !== undefined ? [topics.sharedChangelog] : []),
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
    // As `ciclo topics ensure` provisions a topic: its schema's subject registered with its compatibility.
    if (!before.has(topics.changelog))
      await provisionTopicsAndSchemas(admin, registry, [
        { ...LIFECYCLE_STATE, name: topics.changelog, partitions },
      ]);
    const changelog = (await admin.partitionCounts([topics.changelog])).get(topics.changelog);
    if (changelog !== partitions)
      throw new CicloError(
        'CONFIG_INVALID',
        `topic ${topics.changelog} has ${changelog} partitions, ${topics.touchpoints} has ${partitions}: ` +
          "they must match (a partition's state is written to the changelog partition of its number)",
      );
    if (!before.has(topics.customerSnapshots))
      await admin.ensureTopics([{ ...TOPICS.customerSnapshots, name: topics.customerSnapshots, partitions }]);
    const snapshotPartitions = (await admin.partitionCounts([topics.customerSnapshots])).get(
      topics.customerSnapshots,
    );
    if (snapshotPartitions === undefined)
      throw new CicloError('CONFIG_INVALID', `topic ${topics.customerSnapshots} could not be created`);
    const { sharedChangelog, ...own } = topics;
    await checkDurability(admin, Object.values(own), log);
    return {
      partitions,
      snapshotPartitions,
      ...(sharedChangelog !== undefined && before.has(sharedChangelog) ? { sharedChangelog } : {}),
    };
  } finally {
    await admin.close();
  }
}
