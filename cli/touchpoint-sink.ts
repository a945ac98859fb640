/** What the CLI commands that write touchpoints share: an idempotent producer and the registered serde. */
import type { ServiceEndpoints } from '../infra/config';
import { partitionCountOf } from '../infra/kafka/admin';
import { connectProducer, type MessageProducer } from '../infra/kafka/producer';
import { createAvroRegistry } from '../infra/registry/schema-registry';
import { CONTRACTS } from '../schemas/contracts';
import { createSerde, type ContractSerde } from '../infra/registry/serde';
import { TOPICS, valueSubject } from '../schemas/topics';
import { connectPrivacy } from '../infra/privacy/connect';
import { privateSerde, type TouchpointPrivacy } from '../infra/privacy/personal-data';
import type { Touchpoint } from '../schemas/touchpoint';

/**
 * The serde seals personal fields (infra/privacy/personal-data.ts privateSerde); `privacy` tells which
 * touchpoints belong to a forgotten person. `close` closes the producer and the privacy topics' readers.
 */
export async function openTouchpointSink(
  endpoints: ServiceEndpoints,
  secret: Buffer,
  clientId: string,
  topic: string = TOPICS.touchpoints.name,
): Promise<{
  producer: MessageProducer;
  serde: ContractSerde<Touchpoint>;
  privacy: TouchpointPrivacy;
  topic: string;
  partitions: number;
  close(): Promise<void>;
}> {
  const partitions = await touchpointPartitions(endpoints, topic);
  const plain = await createSerde(
    createAvroRegistry(endpoints.schemaRegistry.url),
    CONTRACTS.touchpoint,
    valueSubject(topic),
  );
  const privacy = await connectPrivacy({
    brokers: endpoints.kafka.brokers,
    touchpointTopic: topic,
    secret,
    clientId,
    writable: true,
  });
  const producer = await connectProducer({ brokers: endpoints.kafka.brokers, clientId, compression: true });
  return {
    producer,
    serde: privateSerde(plain, privacy.privacy),
    privacy: privacy.privacy,
    topic,
    partitions,
    async close() {
      await Promise.allSettled([producer.close(), privacy.close()]);
    },
  };
}

/** The touchpoint topic's partition count, from the broker's metadata. */
export async function touchpointPartitions(
  endpoints: ServiceEndpoints,
  topic: string = TOPICS.touchpoints.name,
): Promise<number> {
  return partitionCountOf(endpoints.kafka.brokers, topic);
}
