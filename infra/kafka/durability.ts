/**
 * What ciclo checks of a Kafka cluster's durability at start (`ciclo process`, `ciclo collect`, the
 * projector, `ciclo topics ensure`): pure rules over the cluster's size and each topic's replication, so an
 * external cluster that cannot keep what ciclo promises says so before the first event rather than after
 * the first broker is lost.
 *
 * - `refuse`: writes would fail every time: min.insync.replicas above the topic's copies (acks=all is
 *   refused with NOT_ENOUGH_REPLICAS), or a topic with more copies than the cluster has brokers.
 * - `warn`: it works until a broker is lost: one copy of a topic on a cluster of three brokers or more, or
 *   writes acknowledged by one copy where three exist (Kafka's documentation: "Replication", and the
 *   recommended min.insync.replicas of 2 with a replication factor of 3). The transaction state and group
 *   offsets topics count: a lost transaction coordinator's log stops every exactly-once writer.
 */
import { replicationFor } from '../../schemas/topics';

export interface TopicReplication {
  readonly name: string;
  readonly replicationFactor: number;
  /** The topic's effective min.insync.replicas (its own, else the broker's). */
  readonly minInsyncReplicas: number;
}

export interface DurabilityFinding {
  readonly severity: 'refuse' | 'warn';
  readonly topic: string;
  readonly message: string;
}

export function durabilityFindings(
  brokers: number,
  topics: readonly TopicReplication[],
): DurabilityFinding[] {
  const wanted = replicationFor(brokers);
  const findings: DurabilityFinding[] = [];
  for (const t of topics) {
    if (t.replicationFactor > brokers)
      findings.push({
        severity: 'refuse',
        topic: t.name,
        message: `${t.name} has ${t.replicationFactor} copies on a cluster of ${brokers} broker(s): partitions without enough brokers are offline`,
      });
    if (t.minInsyncReplicas > t.replicationFactor)
      findings.push({
        severity: 'refuse',
        topic: t.name,
        message: `${t.name} has min.insync.replicas=${t.minInsyncReplicas} but ${t.replicationFactor} copies: every acks=all write is refused; lower min.insync.replicas to ${wanted.minInsyncReplicas} or add copies`,
      });
    else if (t.replicationFactor < wanted.replicationFactor)
      findings.push({
        severity: 'warn',
        topic: t.name,
        message: `${t.name} has ${t.replicationFactor} cop${t.replicationFactor === 1 ? 'y' : 'ies'} on a cluster of ${brokers} brokers: losing a broker that holds it loses or stops it; reassign it to ${wanted.replicationFactor} copies (kafka-reassign-partitions) and set min.insync.replicas=${wanted.minInsyncReplicas}`,
      });
    else if (t.replicationFactor >= 3 && t.minInsyncReplicas < wanted.minInsyncReplicas)
      findings.push({
        severity: 'warn',
        topic: t.name,
        message: `${t.name} has min.insync.replicas=${t.minInsyncReplicas} with ${t.replicationFactor} copies: a write acknowledged by one copy is lost with that broker; set min.insync.replicas=${wanted.minInsyncReplicas}`,
      });
  }
  return findings;
}
