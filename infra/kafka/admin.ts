/**
 * Topic administration: create topics idempotently, list and delete them; consumer groups' state and lag
 * (lag.ts).
 */
import type { TopicReplication } from './durability';
import { CicloError } from '../errors';
import type { Logger } from '../log';
import { ConfigResourceTypes, ConfigSource } from 'kafkajs';
import { createKafka } from './client';
import { lagOfPartitions, type PartitionLag } from './lag';
import type { TopicSpec } from './types';
import { specForCluster } from '../../schemas/topics';

export type { PartitionLag } from './lag';

/** A consumer group as the broker describes it. */
export interface ConsumerGroupState {
  readonly group: string;
  /** Kafka's group state: Stable, Empty (no member), PreparingRebalance, CompletingRebalance, Dead, ... */
  readonly state: string;
  readonly members: number;
}

export interface PartitionLeader {
  readonly topic: string;
  readonly partition: number;
  readonly leader: number;
  readonly isr: readonly number[];
}

export interface TopicAdmin {
  /** Creates the topics that do not exist yet; returns the names it created. */
  ensureTopics(specs: readonly TopicSpec[]): Promise<string[]>;
  /**
   * Brings existing topics' configs to their specs where nobody chose otherwise: a config the topic does not
   * set gets the spec's value, as does `retention.ms` of -1 (forever: ciclo's default for stage changes
   * before it had an end). A value someone set on purpose stays. Returns what changed, per topic.
   */
  alignTopicConfigs(specs: readonly TopicSpec[]): Promise<{ topic: string; changed: string[] }[]>;
  listTopics(): Promise<string[]>;
  /** The leader (node id) and in-sync replicas of every partition of the named topics that exist. */
  partitionLeaders(names: readonly string[]): Promise<PartitionLeader[]>;
  /**
   * The cluster's broker count and the replication of each named topic that exists: its copies and its
   * effective min.insync.replicas (durability.ts judges them).
   */
  replicationOf(names: readonly string[]): Promise<{ brokers: number; topics: TopicReplication[] }>;
  /** Partition count of each named topic that exists. */
  partitionCounts(names: readonly string[]): Promise<Map<string, number>>;
  /**
   * Offsets each topic spans, summed over its partitions (end minus start): its message count, where a
   * transactional topic's count includes one commit marker per partition per transaction.
   */
  offsetSpans(names: readonly string[]): Promise<Map<string, number>>;
  /**
   * Records of the topic the consumer group has not committed yet, summed over partitions (a partition it
   * never committed counts from its start). Meaningful for topics written without transactions, whose end
   * offset is their last record's plus one.
   */
  groupLag(groupId: string, topic: string): Promise<number>;
  /** The same, per partition of each topic (lag.ts); topics that do not exist are left out. */
  partitionLag(groupId: string, topics: readonly string[]): Promise<PartitionLag[]>;
  /** Each partition's end offset (the offset the next record gets). */
  endOffsets(topic: string): Promise<Map<number, number>>;
  /** The group's committed offset per partition of the topic (partitions it never committed left out). */
  committedOffsets(groupId: string, topic: string): Promise<Map<number, number>>;
  /** The ids of the broker's consumer groups. */
  listGroups(): Promise<string[]>;
  describeGroups(groupIds: readonly string[]): Promise<ConsumerGroupState[]>;
  deleteTopics(names: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * A group's offsets are asked of its coordinator, and kafkajs' admin does not retry an OffsetFetch that a
 * broker refuses as retriable (NOT_COORDINATOR while the coordinator moves, COORDINATOR_LOAD_IN_PROGRESS
 * after a restart): asked again after a short backoff, up to 5 times.
 */
async function whileRetriable<T>(request: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await request();
    } catch (err) {
      if (attempt >= 5 || (err as { retriable?: unknown } | null)?.retriable !== true) throw err;
      await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
    }
  }
}

/** `retries`: of each request, before it fails (8 unless given); probes that must answer soon take fewer. */
export async function connectTopicAdmin(
  brokers: readonly string[],
  log?: Logger,
  options: { retries?: number } = {},
): Promise<TopicAdmin> {
  const admin = createKafka({
    brokers,
    clientId: 'ciclo-admin',
    ...(log ? { log } : {}),
    ...(options.retries !== undefined ? { retries: options.retries } : {}),
  }).admin();
  await admin.connect();
  async function partitionLag(groupId: string, topics: readonly string[]): Promise<PartitionLag[]> {
    const existing = new Set(await admin.listTopics());
    const wanted = topics.filter((t) => existing.has(t));
    if (wanted.length === 0) return [];
    const [ends, committed] = await Promise.all([
      Promise.all(wanted.map((topic) => admin.fetchTopicOffsets(topic))),
      whileRetriable(() => admin.fetchOffsets({ groupId, topics: [...wanted] })),
    ]);
    return wanted.flatMap((topic, i) => {
      const at = committed.find((c) => c.topic === topic)?.partitions ?? [];
      return lagOfPartitions(
        groupId,
        topic,
        ends[i]!,
        new Map(at.map((p) => [p.partition, Number(p.offset)])),
      );
    });
  }
  /** Every partition of the topics has a leader, asked again for up to 30 s. */
  async function whenLeadersElected(names: readonly string[]): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ready = await admin
        .fetchTopicMetadata({ topics: [...names] })
        .then(
          ({ topics }) =>
            topics.length === names.length && topics.every((t) => t.partitions.every((p) => p.leader >= 0)),
        )
        .catch(() => false);
      if (ready) return;
      if (Date.now() > deadline)
        throw new CicloError('SERVICE_UNHEALTHY', `topics ${names.join(', ')} have no leaders after 30 s`, {
          retriable: true,
        });
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  return {
    async ensureTopics(specs) {
      const existing = new Set(await admin.listTopics());
      const missing = specs.filter((s) => !existing.has(s.name));
      if (missing.length === 0) return [];
      // Replication follows the cluster (schemas/topics.ts replicationFor) where a spec does not fix it.
      const brokers = (await admin.describeCluster()).brokers.length;
      const names = missing.map((s) => s.name);
      await admin
        .createTopics({
          waitForLeaders: true,
          topics: missing
            .map((s) => specForCluster(s, brokers))
            .map((s) => ({
              topic: s.name,
              numPartitions: s.partitions,
              replicationFactor: s.replicationFactor ?? 1,
              configEntries: Object.entries(s.config ?? {}).map(([name, value]) => ({ name, value })),
            })),
        })
        .catch(async (err: unknown) => {
          // kafkajs waits for the leaders by asking any broker for metadata, and gives up at once when it
          // asks one that does not know the topics yet (a broker just restarted, still catching up). The
          // topics exist; wait for their leaders from the cluster's view instead.
          if ((err as { type?: unknown }).type !== 'UNKNOWN_TOPIC_OR_PARTITION') throw err;
          await whenLeadersElected(names);
        });
      return names;
    },
    async alignTopicConfigs(specs) {
      const existing = new Set(await admin.listTopics());
      const wanted = specs.filter((s) => existing.has(s.name) && s.config);
      if (wanted.length === 0) return [];
      const { resources } = await admin.describeConfigs({
        includeSynonyms: false,
        resources: wanted.map((s) => ({ type: ConfigResourceTypes.TOPIC, name: s.name })),
      });
      const report: { topic: string; changed: string[] }[] = [];
      for (const spec of wanted) {
        const entries = resources.find((r) => r.resourceName === spec.name)?.configEntries ?? [];
        // The topic's own settings: alterConfigs replaces them all, so every one is given back.
        const own = new Map(
          entries
            .filter((e) => e.configSource === ConfigSource.TOPIC_CONFIG)
            .map((e) => [e.configName, e.configValue]),
        );
        const changed: string[] = [];
        for (const [name, value] of Object.entries(spec.config ?? {})) {
          const current = own.get(name);
          if (current === value) continue;
          if (current === undefined || (name === 'retention.ms' && current === '-1')) {
            own.set(name, value);
            changed.push(`${name}=${value}`);
          }
        }
        if (changed.length === 0) continue;
        await admin.alterConfigs({
          validateOnly: false,
          resources: [
            {
              type: ConfigResourceTypes.TOPIC,
              name: spec.name,
              configEntries: [...own].map(([name, value]) => ({ name, value })),
            },
          ],
        });
        report.push({ topic: spec.name, changed });
      }
      return report;
    },
    listTopics: () => admin.listTopics(),
    async partitionCounts(names) {
      const existing = new Set(await admin.listTopics());
      const wanted = names.filter((n) => existing.has(n));
      if (wanted.length === 0) return new Map();
      const { topics } = await admin.fetchTopicMetadata({ topics: [...wanted] });
      return new Map(topics.map((t) => [t.name, t.partitions.length]));
    },
    async partitionLeaders(names) {
      const existing = new Set(await admin.listTopics());
      const wanted = names.filter((n) => existing.has(n));
      if (wanted.length === 0) return [];
      const { topics } = await admin.fetchTopicMetadata({ topics: [...wanted] });
      return topics.flatMap((t) =>
        t.partitions.map((p) => ({ topic: t.name, partition: p.partitionId, leader: p.leader, isr: p.isr })),
      );
    },
    async replicationOf(names) {
      const brokers = (await admin.describeCluster()).brokers.length;
      const existing = new Set(await admin.listTopics());
      const wanted = names.filter((n) => existing.has(n));
      if (wanted.length === 0) return { brokers, topics: [] };
      const [{ topics }, { resources }] = await Promise.all([
        admin.fetchTopicMetadata({ topics: [...wanted] }),
        admin.describeConfigs({
          includeSynonyms: false,
          resources: wanted.map((name) => ({
            type: ConfigResourceTypes.TOPIC,
            name,
            configNames: ['min.insync.replicas'],
          })),
        }),
      ]);
      return {
        brokers,
        topics: topics.map((t) => ({
          name: t.name,
          replicationFactor: Math.min(...t.partitions.map((p) => p.replicas.length)),
          minInsyncReplicas: Number(
            resources
              .find((r) => r.resourceName === t.name)
              ?.configEntries.find((e) => e.configName === 'min.insync.replicas')?.configValue ?? 1,
          ),
        })),
      };
    },
    async offsetSpans(names) {
      const spans = await Promise.all(
        names.map(async (name) => {
          const offsets = await admin.fetchTopicOffsets(name);
          return offsets.reduce((sum, o) => sum + (Number(o.high) - Number(o.low)), 0);
        }),
      );
      return new Map(names.map((name, i) => [name, spans[i]!]));
    },
    async groupLag(groupId, topic) {
      return (await partitionLag(groupId, [topic])).reduce((sum, p) => sum + p.lag, 0);
    },
    partitionLag,
    async endOffsets(topic) {
      return new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.high)]));
    },
    async committedOffsets(groupId, topic) {
      const [at] = await whileRetriable(() => admin.fetchOffsets({ groupId, topics: [topic] }));
      return new Map(
        (at?.partitions ?? [])
          .filter((p) => Number(p.offset) >= 0)
          .map((p) => [p.partition, Number(p.offset)]),
      );
    },
    async listGroups() {
      return (await admin.listGroups()).groups.map((g) => g.groupId);
    },
    async describeGroups(groupIds) {
      if (groupIds.length === 0) return [];
      const { groups } = await admin.describeGroups([...groupIds]);
      return groups.map((g) => ({ group: g.groupId, state: g.state, members: g.members.length }));
    },
    deleteTopics: (names) => admin.deleteTopics({ topics: [...names] }),
    close: () => admin.disconnect(),
  };
}

/**
 * An existing topic's partition count, from the broker's metadata (import lanes and link copies go to every
 * partition, however many the topic was created with); CONFIG_INVALID when the topic does not exist.
 */
export async function partitionCountOf(brokers: readonly string[], topic: string): Promise<number> {
  const admin = await connectTopicAdmin(brokers);
  try {
    const partitions = (await admin.partitionCounts([topic])).get(topic);
    if (partitions === undefined)
      throw new CicloError('CONFIG_INVALID', `topic ${topic} does not exist: run \`ciclo topics ensure\``);
    return partitions;
  } finally {
    await admin.close();
  }
}
