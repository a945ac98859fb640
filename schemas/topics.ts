/**
 * Every Kafka topic ciclo uses, in one place: name, partitions, key, cleanup policy and the contract of its
 * values. Keys are plain UTF-8 strings (Confluent's StringSerializer convention); values are Avro in the
 * Confluent wire format, except dead letters, which keep the original bytes, and the privacy topics (person
 * keys, the suppression list), whose small values ciclo alone reads (infra/privacy/).
 *
 * Compacted topics that hold a person's data roll a segment a day and are compacted within a day of a record
 * being superseded (max.compaction.lag.ms, Kafka 2.3+, KIP-354), and tombstones stay a day for readers to see
 * (delete.retention.ms): what a tombstone erases is gone from the broker's disks within about two days of it.
 */
import { partitionFor } from './partitioner';
import type { Touchpoint } from './touchpoint';

export type CompatibilityLevel = 'BACKWARD_TRANSITIVE' | 'FULL_TRANSITIVE';

/** A topic as ciclo creates it (infra/kafka creates it from this). */
export interface TopicSpec {
  readonly name: string;
  readonly partitions: number;
  /** Unless given, derived from the cluster (`replicationFor`). */
  readonly replicationFactor?: number;
  readonly config?: Readonly<Record<string, string>>;
}

/**
 * How ciclo's topics are replicated on a cluster of `brokers` brokers, in one place: three copies where
 * there are three brokers or more, and writes acknowledged by two of them (acks=all with
 * min.insync.replicas=2), so that one broker down loses nothing and stops nothing, the setting Kafka's
 * documentation recommends for durability ("Replication" in the design docs; Confluent's
 * "min.insync.replicas" guidance). Fewer brokers: one copy per broker, and one acknowledgement.
 */
export function replicationFor(brokers: number): { replicationFactor: number; minInsyncReplicas: number } {
  const replicationFactor = Math.max(1, Math.min(3, Math.floor(brokers)));
  return { replicationFactor, minInsyncReplicas: replicationFactor >= 3 ? 2 : 1 };
}

/** A spec as created on a cluster of `brokers` brokers: its replication, unless it names its own. */
export function specForCluster(spec: TopicSpec, brokers: number): TopicSpec {
  if (spec.replicationFactor !== undefined) return spec;
  const { replicationFactor, minInsyncReplicas } = replicationFor(brokers);
  return {
    ...spec,
    replicationFactor,
    config: { 'min.insync.replicas': String(minInsyncReplicas), ...spec.config },
  };
}

export interface TopicDefinition extends TopicSpec {
  /** What the key is; one customer's messages share a key, so they stay ordered in one partition. */
  readonly key: string;
  readonly description: string;
  /**
   * The contract of the values; 'raw' for dead letters (the original bytes), 'private' for the privacy topics
   * (ciclo's own small values, read by infra/privacy/ only).
   */
  readonly contract:
    'touchpoint' | 'stageChanged' | 'customerSnapshot' | 'lifecycleState' | 'raw' | 'private';
  /** Subjects other services consume are FULL_TRANSITIVE: readers and writers of any version interoperate. */
  readonly compatibility?: CompatibilityLevel;
}

const DAY_MS = 24 * 3600 * 1000;
const PARTITIONS = 6;

/** Compaction that removes what a tombstone erases within about two days (see the top of this file). */
const ERASABLE_COMPACTION = {
  'cleanup.policy': 'compact',
  'min.compaction.lag.ms': '60000',
  'max.compaction.lag.ms': String(DAY_MS),
  'segment.ms': String(DAY_MS),
  'delete.retention.ms': String(DAY_MS),
} as const;

export const TOPICS = {
  touchpoints: {
    name: 'ciclo.touchpoints',
    partitions: PARTITIONS,
    key:
      'customerId, else anonymousId, else "business" for customerless events such as marketing spend; a ' +
      'touchpoint that links ids (Identified with both ids, Aliased) is also written to every other partition ' +
      "(explicitly, same key, header ciclo-link-copy): a copy for that partition's identity table, which readers of facts skip",
    description:
      'Every accepted touchpoint, as produced by the collector, webhooks, imports and the simulator.',
    contract: 'touchpoint',
    compatibility: 'BACKWARD_TRANSITIVE',
    config: { 'cleanup.policy': 'delete', 'retention.ms': String(365 * DAY_MS) },
  },
  touchpointsDeadLetter: {
    name: 'ciclo.touchpoints.dlq',
    partitions: 1,
    key: "the original key; for the collector's, the call's userId, else its anonymousId",
    description:
      'Touchpoints the processor could not decode or validate, and Segment calls the collector could not ' +
      'map (the call as sent, stage collector, every problem), with typed reasons in headers.',
    contract: 'raw',
    config: { 'cleanup.policy': 'delete', 'retention.ms': String(30 * DAY_MS) },
  },
  stageChanges: {
    name: 'ciclo.stage-changes',
    partitions: PARTITIONS,
    key: 'customerId',
    description: 'Every lifecycle stage change, with the model, rule and triggering events that explain it.',
    contract: 'stageChanged',
    compatibility: 'FULL_TRANSITIVE',
    // As long as the touchpoints that explain them; the snapshots keep every customer's current stage.
    config: { 'cleanup.policy': 'delete', 'retention.ms': String(365 * DAY_MS) },
  },
  customerSnapshots: {
    name: 'ciclo.customer-snapshots',
    partitions: PARTITIONS,
    key:
      'modelId/customerId (snapshotKey), in the partition of customerId (co-partitioned with the touchpoints): ' +
      "each model's processor keeps its own row per customer. A profile merged into another customer gets a " +
      'tombstone whose headers name the survivor (ciclo-merged-into) and its last sequence (ciclo-sequence)',
    description:
      'The latest lifecycle snapshot per customer and stage model (compacted): a table other services can load.',
    contract: 'customerSnapshot',
    compatibility: 'FULL_TRANSITIVE',
    config: ERASABLE_COMPACTION,
  },
  lifecycleIdentity: {
    name: 'ciclo.lifecycle-identity',
    partitions: PARTITIONS,
    key: 'the id whose partition it is for; partitioned exactly like ciclo.touchpoints',
    description:
      "Claims, profile handoffs and forwarded touchpoints between the lifecycle processor's partitions, " +
      'when a link joins ids that live on different partitions (internal).',
    contract: 'lifecycleState',
    compatibility: 'BACKWARD_TRANSITIVE',
    config: { 'cleanup.policy': 'delete', 'retention.ms': String(7 * DAY_MS) },
  },
  projectorDeadLetter: {
    name: 'ciclo.projector.dlq',
    partitions: 1,
    key: 'the original key',
    description: 'Messages the ClickHouse projector could not decode or map, with typed reasons in headers.',
    contract: 'raw',
    config: { 'cleanup.policy': 'delete', 'retention.ms': String(30 * DAY_MS) },
  },
  personKeys: {
    name: 'ciclo.person-keys',
    partitions: PARTITIONS,
    key: '<pseudonym of the id>/<key id> (schemas/pseudonym.ts): one record per key, so writers never overwrite each other',
    description:
      'Per-person keys that seal personal fields of touchpoints and dead letters (crypto-shredding): `ciclo forget` ' +
      "tombstones a person's keys, and what they sealed can no longer be read anywhere (infra/privacy/).",
    contract: 'private',
    config: ERASABLE_COMPACTION,
  },
  forgotten: {
    name: 'ciclo.forgotten',
    partitions: 1,
    key: 'the pseudonym of a forgotten id (schemas/pseudonym.ts)',
    description:
      'The suppression list: ids `ciclo forget` erased. The collector, webhooks, imports and the projector drop ' +
      'touchpoints of these ids, and count them. Kept for good: a tombstone would let the person back in.',
    contract: 'private',
    config: { 'cleanup.policy': 'compact', 'min.compaction.lag.ms': '60000' },
  },
} as const satisfies Record<string, TopicDefinition>;

export const ALL_TOPICS: readonly TopicDefinition[] = Object.values(TOPICS);

/**
 * The lifecycle processor's changelog, one topic per stage model, as Kafka Streams gives each application its
 * own: `<ns>.lifecycle-state.<modelId>` (lifecycleStateTopicOf), so that a processor restores its own
 * model's records and no other's. Its processor creates it at start, with as many partitions as the
 * touchpoint topic (a partition's state goes to the same partition number); `ciclo topics ensure` creates
 * the default model's (and those named by `--model`) beforehand. The name here is the pattern.
 */
export const LIFECYCLE_STATE = {
  name: 'ciclo.lifecycle-state.<modelId>',
  partitions: PARTITIONS,
  key:
    'modelId/customerId (its state, or a redirect once the id belongs to another customer), ' +
    "modelId/__partition__/applied/customerId (the customer's older applied-event ids), or " +
    'modelId/__partition__ and keys under it (the partition), the model prefix kept from the topic every ' +
    'model shared before; and __initialised__, written once a partition is ready (its state moved from the ' +
    'shared topic, if any); same partition number as the input it comes from',
  description:
    "A stage model's lifecycle processor's changelog: what a started or rebalanced instance restores (internal).",
  contract: 'lifecycleState',
  compatibility: 'BACKWARD_TRANSITIVE',
  config: ERASABLE_COMPACTION,
} as const satisfies TopicDefinition;

/**
 * The changelog every stage model shared before each had its own: `<ns>.lifecycle-state`. ciclo no longer
 * creates it; a model's processor moves its records out of it once, at its first start on its own topic
 * (processors/runtime/changelog/shared-move.ts, docs/changelog-format.md).
 */
export function sharedLifecycleStateTopicOf(namespace = 'ciclo'): string {
  return `${namespace}.lifecycle-state`;
}

/** A stage model's changelog in a namespace: `<ns>.lifecycle-state.<modelId>` (see LIFECYCLE_STATE). */
export function lifecycleStateTopicOf(modelId: string, namespace = 'ciclo'): TopicDefinition {
  return { ...LIFECYCLE_STATE, name: `${sharedLifecycleStateTopicOf(namespace)}.${modelId}` };
}

/**
 * Why Kafka would refuse a topic of this name, if it would: at most 249 characters, each an ASCII letter,
 * a digit, '.', '_' or '-', and neither '.' nor '..' (Kafka's `Topic.validate`).
 */
export function topicNameProblem(name: string): string | undefined {
  if (name === '' || name === '.' || name === '..') return `"${name}" is not a topic name`;
  if (name.length > 249) return `it has ${name.length} characters, and Kafka allows 249`;
  const illegal = /[^a-zA-Z0-9._-]/.exec(name);
  if (illegal)
    return `it holds "${illegal[0]}", and Kafka allows only ASCII letters, digits, '.', '_' and '-'`;
  return undefined;
}

/**
 * ciclo's topics under another namespace (`<ns>.touchpoints`, ...), same partitions, policies and contracts:
 * a pipeline of its own on a shared Kafka (`ciclo demo --namespace`, tests). The default is `ciclo`.
 */
export function namespacedTopics(namespace: string): typeof TOPICS {
  return Object.fromEntries(
    Object.entries(TOPICS).map(([k, t]) => [
      k,
      { ...t, name: `${namespace}${t.name.slice('ciclo'.length)}` },
    ]),
  ) as unknown as typeof TOPICS;
}

/** The consumer group of a stage model's lifecycle processor in a namespace: `<ns>-processor-<model>`. */
export function processorGroupOf(namespace: string, modelId: string): string {
  return `${namespace}-processor-${modelId}`;
}

/** The ClickHouse projector's consumer group in a namespace: `<ns>-projector`. */
export function projectorGroupOf(namespace: string): string {
  return `${namespace}-projector`;
}

/**
 * Where the collector dead-letters the calls it cannot map when it produces to `touchpointTopic`:
 * `<topic>.dlq`, so `ciclo.touchpoints.dlq` for the default and `<ns>.touchpoints.dlq` in a namespace.
 */
export function deadLetterTopicFor(touchpointTopic: string): string {
  return `${touchpointTopic}.dlq`;
}

/** Confluent's TopicNameStrategy: the value subject of a topic. */
export function valueSubject(topic: string): string {
  return `${topic}-value`;
}

/** The partitioning key of a touchpoint. */
export function touchpointKey(tp: {
  customerId?: string | undefined;
  anonymousId?: string | undefined;
}): string {
  return tp.customerId ?? tp.anonymousId ?? 'business';
}

/**
 * The other id a touchpoint says belongs to its customer, if any: the anonymous id of an identify call, or
 * the previous id of an alias.
 */
export function linkedIdOf(tp: Touchpoint): string | undefined {
  if (tp.type === 'Aliased') return tp.payload.previousId;
  return tp.type === 'Identified' && tp.customerId !== undefined && tp.anonymousId !== undefined
    ? tp.anonymousId
    : undefined;
}

/** Marks a link's copy, so that readers can tell it from the fact (and skip it when its value cannot be read). */
export const LINK_COPY_HEADER = 'ciclo-link-copy';

/**
 * The records a touchpoint is written as, for a topic of `partitions` partitions: the fact, keyed by its
 * customer (`touchpointKey`); and for a touchpoint that links another id to its customer, a copy on every
 * other partition, marked with LINK_COPY_HEADER. Every partition's processor applies every link to its
 * replica of the identity table in its own event order (processors/domain/identity.ts).
 */
export function touchpointRecords<V>(
  tp: Touchpoint,
  value: V,
  partitions: number,
): { key: string; value: V; partition?: number; headers?: Record<string, string> }[] {
  const key = touchpointKey(tp);
  const fact = { key, value };
  const linked = linkedIdOf(tp);
  if (linked === undefined || linked === key || partitions <= 1) return [fact];
  const home = partitionFor(key, partitions);
  const records: { key: string; value: V; partition?: number; headers?: Record<string, string> }[] = [fact];
  for (let partition = 0; partition < partitions; partition++)
    if (partition !== home) records.push({ key, value, partition, headers: { [LINK_COPY_HEADER]: '1' } });
  return records;
}

/** Whether a record is a link's copy (see `touchpointRecords`), not the fact. */
export function isLinkCopy(headers: Readonly<Record<string, string | undefined>>): boolean {
  return headers[LINK_COPY_HEADER] !== undefined;
}

/**
 * The key of a customer's snapshot: model and customer. Keyed by the customer alone, two models' processors
 * would overwrite each other's rows in the compacted topic, and one model's merge tombstone would delete the
 * other model's snapshot.
 */
export function snapshotKey(modelId: string, customerId: string): string {
  return `${modelId}/${customerId}`;
}

/** The model and customer of a snapshot key; undefined for a key of another form (before `snapshotKey`). */
export function parseSnapshotKey(key: string): { modelId: string; customerId: string } | undefined {
  // Model ids have no '/' (processors/domain/model.ts); customer ids may.
  const slash = key.indexOf('/');
  return slash > 0 ? { modelId: key.slice(0, slash), customerId: key.slice(slash + 1) } : undefined;
}

/** On a snapshot tombstone: the customer the profile was merged into (the key's id now leads there). */
export const MERGED_INTO_HEADER = 'ciclo-merged-into';
/** On a snapshot tombstone: the merged profile's last sequence, which the removal outranks on a tie. */
export const SEQUENCE_HEADER = 'ciclo-sequence';

/**
 * The person-key and suppression topics of a touchpoint topic's pipeline: `<ns>.person-keys` and
 * `<ns>.forgotten` for `<ns>.touchpoints`; for a topic of another name (a benchmark's), `<topic>.person-keys`
 * and `<topic>.forgotten`.
 */
export function privacyTopicsFor(touchpointTopic: string): { personKeys: string; forgotten: string } {
  const suffix = TOPICS.touchpoints.name.slice('ciclo'.length);
  const base = touchpointTopic.endsWith(suffix) ? touchpointTopic.slice(0, -suffix.length) : touchpointTopic;
  return {
    personKeys: `${base}${TOPICS.personKeys.name.slice('ciclo'.length)}`,
    forgotten: `${base}${TOPICS.forgotten.name.slice('ciclo'.length)}`,
  };
}
