/** What the CLI commands that write touchpoints share: an idempotent producer and the registered serde. */
import type { ServiceEndpoints } from '../infra/config';
import { partitionCountOf } from '../infra/kafka/admin';
import { connectProducer, type MessageProducer } from '../infra/kafka/producer';
import { createAvroRegistry } from '../infra/registry/schema-registry';
import { CONTRACTS } from '../schemas/contracts';
import { createSerde, type ContractSerde } from '../infra/registry/serde';
import { TOPICS, valueSubject } from '../schemas/topics';
import type { Touchpoint } from '../schemas/touchpoint';

export async function openTouchpointSink(
  endpoints: ServiceEndpoints,
  clientId: string,
  topic: string = TOPICS.touchpoints.name,
): Promise<{
  producer: MessageProducer;
  serde: ContractSerde<Touchpoint>;
  topic: string;
  partitions: number;
}> {
  const partitions = await touchpointPartitions(endpoints, topic);
  const serde = await createSerde(
    createAvroRegistry(endpoints.schemaRegistry.url),
    CONTRACTS.touchpoint,
    valueSubject(topic),
  );
  const producer = await connectProducer({ brokers: endpoints.kafka.brokers, clientId, compression: true });
  return { producer, serde, topic, partitions };
}

/** The touchpoint topic's partition count, from the broker's metadata. */
export async function touchpointPartitions(
  endpoints: ServiceEndpoints,
  topic: string = TOPICS.touchpoints.name,
): Promise<number> {
  return partitionCountOf(endpoints.kafka.brokers, topic);
}
