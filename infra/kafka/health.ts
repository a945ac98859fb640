/** Health probe for a Kafka cluster: connects an admin client and describes the cluster. */
import { createKafka } from './client';

export interface KafkaClusterInfo {
  readonly brokerCount: number;
  readonly brokerIds: readonly number[];
  readonly controllerId: number | null;
  readonly clusterId: string;
}

export async function describeKafkaCluster(
  brokers: readonly string[],
  timeoutMs = 3000,
): Promise<KafkaClusterInfo> {
  const admin = createKafka({
    brokers,
    clientId: 'ciclo-health',
    connectionTimeoutMs: timeoutMs,
    retries: 0,
  }).admin();
  await admin.connect();
  try {
    const cluster = await admin.describeCluster();
    return {
      brokerCount: cluster.brokers.length,
      brokerIds: cluster.brokers.map((b) => b.nodeId),
      controllerId: cluster.controller,
      clusterId: cluster.clusterId,
    };
  } finally {
    await admin.disconnect();
  }
}
