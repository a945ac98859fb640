/**
 * The durability check at start (durability.ts has the rules): warnings are logged, and a topic every write
 * to which would fail stops the start with the reasons.
 */
import { CicloError } from '../errors';
import type { Logger } from '../log';
import type { TopicAdmin } from './admin';
import { durabilityFindings, type DurabilityFinding } from './durability';

/** Kafka's own topics that exactly-once depends on: the transaction log and the groups' offsets. */
const INTERNAL_TOPICS = ['__transaction_state', '__consumer_offsets'];

export async function checkDurability(
  admin: Pick<TopicAdmin, 'replicationOf'>,
  topics: readonly string[],
  log: Pick<Logger, 'warn'>,
): Promise<DurabilityFinding[]> {
  const { brokers, topics: replication } = await admin.replicationOf([...topics, ...INTERNAL_TOPICS]);
  const findings = durabilityFindings(brokers, replication);
  for (const f of findings.filter((x) => x.severity === 'warn'))
    log.warn({ topic: f.topic, brokers }, `durability: ${f.message}`);
  const refused = findings.filter((f) => f.severity === 'refuse');
  if (refused.length > 0)
    throw new CicloError(
      'CONFIG_INVALID',
      `Kafka would refuse ciclo's writes:\n${refused.map((f) => `  ${f.message}`).join('\n')}`,
    );
  return findings;
}
