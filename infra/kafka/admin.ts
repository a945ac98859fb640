/** Topic administration: create topics idempotently, list and delete them. */
import { CicloError } from '../errors';
import type { Logger } from '../log';
import { createKafka } from './client';
import type { TopicSpec } from './types';

export interface TopicAdmin {
  /** Creates the topics that do not exist yet; returns the names it created. */
  ensureTopics(specs: readonly TopicSpec[]): Promise<string[]>;
  listTopics(): Promise<string[]>;
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
  deleteTopics(names: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

export async function connectTopicAdmin(brokers: readonly string[], log?: Logger): Promise<TopicAdmin> {
  const admin = createKafka({ brokers, clientId: 'ciclo-admin', ...(log ? { log } : {}) }).admin();
  await admin.connect();
  return {
    async ensureTopics(specs) {
      const existing = new Set(await admin.listTopics());
      const missing = specs.filter((s) => !existing.has(s.name));
      if (missing.length === 0) return [];
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((s) => ({
          topic: s.name,
          numPartitions: s.partitions,
          replicationFactor: s.replicationFactor ?? 1,
          configEntries: Object.entries(s.config ?? {}).map(([name, value]) => ({ name, value })),
        })),
      });
      return missing.map((s) => s.name);
    },
    listTopics: () => admin.listTopics(),
    async partitionCounts(names) {
      const existing = new Set(await admin.listTopics());
      const wanted = names.filter((n) => existing.has(n));
      if (wanted.length === 0) return new Map();
      const { topics } = await admin.fetchTopicMetadata({ topics: [...wanted] });
      return new Map(topics.map((t) => [t.name, t.partitions.length]));
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
      const [ends, [committed]] = await Promise.all([
        admin.fetchTopicOffsets(topic),
        admin.fetchOffsets({ groupId, topics: [topic] }),
      ]);
      const at = new Map(committed?.partitions.map((p) => [p.partition, Number(p.offset)]) ?? []);
      return ends.reduce((lag, o) => {
        const done = at.get(o.partition) ?? -1;
        return lag + Number(o.high) - (done >= 0 ? done : Number(o.low));
      }, 0);
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
