/**
 * Creates ciclo's topics and registers every contract's schema with its compatibility level. Idempotent:
 * a second run finds everything in place and changes nothing. Reports what it did as data.
 */
import type { TopicAdmin } from '../kafka/admin';
import type { AvroRegistry } from './schema-registry';
import { CONTRACTS } from '../../schemas/contracts';
import { ALL_TOPICS, valueSubject, type TopicDefinition } from '../../schemas/topics';

export interface ProvisionReport {
  readonly createdTopics: readonly string[];
  readonly existingTopics: readonly string[];
  /** Configs set on existing topics (TopicAdmin.alignTopicConfigs), per topic. */
  readonly alignedTopics: readonly { topic: string; changed: readonly string[] }[];
  readonly subjects: readonly {
    subject: string;
    schemaId: number;
    version: number;
    newVersion: boolean;
    compatibility: string;
  }[];
}

export async function provisionTopicsAndSchemas(
  admin: TopicAdmin,
  registry: AvroRegistry,
  topics: readonly TopicDefinition[] = ALL_TOPICS,
): Promise<ProvisionReport> {
  const createdTopics = await admin.ensureTopics(topics);
  const alignedTopics = await admin.alignTopicConfigs(topics.filter((t) => !createdTopics.includes(t.name)));
  const subjects: ProvisionReport['subjects'][number][] = [];
  for (const topic of topics) {
    if (topic.contract === 'raw' || topic.contract === 'private' || !topic.compatibility) continue;
    const subject = valueSubject(topic.name);
    const before = await registry.listVersions(subject);
    // Compatibility first, so even the first version is checked under the right rule from then on.
    if ((await registry.getCompatibility(subject)) !== topic.compatibility) {
      await registry.setCompatibility(subject, topic.compatibility);
    }
    const schemaId = await registry.register(subject, CONTRACTS[topic.contract].avro);
    const after = await registry.listVersions(subject);
    subjects.push({
      subject,
      schemaId,
      version: Math.max(0, ...after),
      newVersion: after.length > before.length,
      compatibility: topic.compatibility,
    });
  }
  return {
    createdTopics,
    existingTopics: topics.map((t) => t.name).filter((n) => !createdTopics.includes(n)),
    alignedTopics,
    subjects,
  };
}
