/**
 * Connecting a process to its pipeline's privacy topics (schemas/topics.ts privacyTopicsFor): the key ring
 * and the suppression list, read whole at start and followed. Writers (`writable`) also create keys.
 */
import type { Logger } from '../log';
import { connectTopicAdmin } from '../kafka/admin';
import { openCompactedTable, type CompactedTable } from '../kafka/compacted-table';
import { privacyTopicsFor, TOPICS } from '../../schemas/topics';
import { keyRingOver, type KeyRing } from './key-ring';
import { touchpointPrivacy, type TouchpointPrivacy } from './personal-data';
import { suppressionListOver, type SuppressionList } from './suppression';

export interface PrivacyConnection {
  readonly privacy: TouchpointPrivacy;
  readonly keys: KeyRing;
  readonly suppression: SuppressionList;
  close(): Promise<void>;
}

export async function connectPrivacy(options: {
  brokers: readonly string[];
  /** The pipeline's touchpoint topic: its privacy topics are named after it. */
  touchpointTopic: string;
  secret: Buffer;
  clientId: string;
  writable: boolean;
  log?: Logger;
}): Promise<PrivacyConnection> {
  const topics = privacyTopicsFor(options.touchpointTopic);
  // Internal topics of the pipeline, as Kafka Streams creates its own: made here when missing (a benchmark's
  // or a test's pipeline), with the partitions and configs of schemas/topics.ts.
  const admin = await connectTopicAdmin(options.brokers);
  try {
    await admin.ensureTopics([
      { ...TOPICS.personKeys, name: topics.personKeys },
      { ...TOPICS.forgotten, name: topics.forgotten },
    ]);
  } finally {
    await admin.close();
  }
  const open = (topic: string): Promise<CompactedTable> =>
    openCompactedTable({
      brokers: options.brokers,
      topic,
      clientId: options.clientId,
      writable: options.writable,
      ...(options.log ? { log: options.log } : {}),
    });
  const keyTable = await open(topics.personKeys);
  const suppressionTable = await open(topics.forgotten).catch(async (err: unknown) => {
    await keyTable.close();
    throw err;
  });
  const keys = keyRingOver(keyTable, options.secret);
  const suppression = suppressionListOver(suppressionTable, options.secret);
  return {
    privacy: touchpointPrivacy(options.secret, keys, suppression),
    keys,
    suppression,
    async close() {
      await Promise.allSettled([keys.close(), suppression.close()]);
    },
  };
}
