/**
 * `ciclo_consumer_lag{group,topic,partition}`: records each consumer group has not committed yet, read from
 * Kafka's offsets when scraped (infra/kafka/admin.ts partitionLag), at most once per `cacheMs` however
 * often it is scraped. A failed read shows no series and counts `ciclo_consumer_lag_errors_total`; the
 * admin connection is opened again at the next scrape.
 */
import { connectTopicAdmin, type PartitionLag, type TopicAdmin } from '../kafka/admin';
import type { Logger } from '../log';
import { cachedFor } from './cache';
import type { Metrics } from './registry';

export interface WatchedGroup {
  readonly group: string;
  readonly topics: readonly string[];
}

export const LAG_CACHE_MS = 5000;

export function observeConsumerLag(
  metrics: Metrics,
  options: {
    readonly brokers: readonly string[];
    readonly groups: readonly WatchedGroup[];
    readonly cacheMs?: number;
    readonly log?: Logger;
  },
): { close(): Promise<void> } {
  let admin: Promise<TopicAdmin> | undefined;
  const errors = metrics.counter({
    name: 'ciclo_consumer_lag_errors_total',
    help: 'Scrapes whose consumer lag could not be read from Kafka',
  });
  const lag = cachedFor(options.cacheMs ?? LAG_CACHE_MS, async (): Promise<PartitionLag[]> => {
    admin ??= connectTopicAdmin(options.brokers, undefined, { retries: 1 }); // a scrape waits for it
    const connected = admin;
    try {
      const a = await connected;
      return (await Promise.all(options.groups.map((g) => a.partitionLag(g.group, g.topics)))).flat();
    } catch (err) {
      if (admin === connected) admin = undefined;
      await connected.then((a) => a.close()).catch(() => undefined);
      throw err;
    }
  });
  metrics.observed(
    {
      name: 'ciclo_consumer_lag',
      type: 'gauge',
      help: 'Records of the topic partition the consumer group has not committed yet',
      labelNames: ['group', 'topic', 'partition'],
    },
    async () => {
      try {
        return (await lag()).map((p) => ({
          labels: { group: p.group, topic: p.topic, partition: p.partition },
          value: p.lag,
        }));
      } catch (err) {
        errors.inc();
        options.log?.warn({ err }, 'consumer lag could not be read from Kafka');
        return [];
      }
    },
  );
  return {
    async close() {
      const open = admin;
      admin = undefined;
      await open?.then((a) => a.close()).catch(() => undefined);
    },
  };
}
