/**
 * "Nothing more will show up" without sleeping: once the writers are done, a fence record goes to every
 * partition of the topic, and a read-committed reader that has passed every fence has seen every record
 * committed before it. A transaction still open when the fence is written holds the fence back until it
 * ends (Kafka's last stable offset), so its records, duplicates included, come before the fence too.
 */
import { connectProducer } from '../../infra/kafka/producer';
import type { IncomingMessage } from '../../infra/kafka/types';
import { uniqueName } from './services';

const FENCE_HEADER = 'ciclo-test-fence';

export interface TopicFence {
  /** True when the message is a fence (readers skip it); notes a fence of this one passed. */
  isFence(m: IncomingMessage): boolean;
  /** Writes one fence to each partition; from then on `passed()` tells when the reader has seen them all. */
  raise(): Promise<void>;
  passed(): boolean;
}

export function topicFence(brokers: readonly string[], topic: string, partitions: number): TopicFence {
  const id = uniqueName('fence');
  const waitingOn = new Set<number>();
  let raised = false;
  return {
    isFence(m) {
      const fence = m.headers[FENCE_HEADER];
      if (fence === undefined) return false;
      if (fence === id) waitingOn.delete(m.partition);
      return true;
    },
    async raise() {
      for (let p = 0; p < partitions; p++) waitingOn.add(p);
      raised = true;
      const producer = await connectProducer({ brokers, clientId: id });
      try {
        await producer.send(
          topic,
          Array.from({ length: partitions }, (_, partition) => ({
            key: id, // compacted topics refuse records without a key
            value: null,
            partition,
            headers: { [FENCE_HEADER]: id },
          })),
        );
      } finally {
        await producer.close();
      }
    },
    passed: () => raised && waitingOn.size === 0,
  };
}
