/**
 * Reading a test pipeline's touchpoints as the projector does: with their sealed personal fields opened
 * (infra/privacy/personal-data.ts), through the installation's secret and the pipeline's person keys.
 */
import type { CicloConfig } from '../../infra/config';
import { connectPrivacy, type PrivacyConnection } from '../../infra/privacy/connect';
import { loadInstallationSecret } from '../../infra/privacy/installation-secret';
import { privateSerde } from '../../infra/privacy/personal-data';
import { createAvroRegistry } from '../../infra/registry/schema-registry';
import { createSerde, type ContractSerde } from '../../infra/registry/serde';
import { CONTRACTS } from '../../schemas/contracts';
import { valueSubject } from '../../schemas/topics';
import type { Touchpoint } from '../../schemas/touchpoint';

export async function openedTouchpoints(
  config: CicloConfig,
  touchpointTopic: string,
  clientId: string,
): Promise<{ privacy: PrivacyConnection; serde: ContractSerde<Touchpoint> }> {
  const { endpoints } = config;
  const privacy = await connectPrivacy({
    brokers: endpoints.kafka.brokers,
    touchpointTopic,
    secret: loadInstallationSecret(config.home, config.pseudonymSecret),
    clientId,
    writable: false,
  });
  const plain = await createSerde(
    createAvroRegistry(endpoints.schemaRegistry.url),
    CONTRACTS.touchpoint,
    valueSubject(touchpointTopic),
  ).catch(async (err: unknown) => {
    await privacy.close();
    throw err;
  });
  return { privacy, serde: privateSerde(plain, privacy.privacy) };
}
