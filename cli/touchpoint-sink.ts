/** What the CLI commands that write touchpoints share: an idempotent producer and the registered serde. */
import type { ServiceEndpoints } from '../infra/config';
import { connectProducer, type MessageProducer } from '../infra/kafka/producer';
import { createAvroRegistry } from '../infra/registry/schema-registry';
import { CONTRACTS } from '../schemas/contracts';
import { createSerde, type ContractSerde } from '../schemas/serde';
import { TOPICS, valueSubject } from '../schemas/topics';
import type { Touchpoint } from '../schemas/touchpoint';

export async function openTouchpointSink(
  endpoints: ServiceEndpoints,
  clientId: string,
  topic: string = TOPICS.touchpoints.name,
): Promise<{ producer: MessageProducer; serde: ContractSerde<Touchpoint>; topic: string }> {
  const serde = await createSerde(
    createAvroRegistry(endpoints.schemaRegistry.url),
    CONTRACTS.touchpoint,
    valueSubject(topic),
  );
  const producer = await connectProducer({ brokers: endpoints.kafka.brokers, clientId, compression: true });
  return { producer, serde, topic };
}
