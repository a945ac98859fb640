/**
 * Connecting a process to its pipeline's privacy topics (schemas/topics.ts privacyTopicsFor): the key ring
 * and the suppression list, read whole at start and followed. Writers (`writable`) also create keys.
 */
import type { Logger } from '../log';
import { privacyTopicsFor } from '../../schemas/topics';
import { openKeyRing, type KeyRing } from './key-ring';
import { touchpointPrivacy, type TouchpointPrivacy } from './personal-data';
import { openSuppressionList, type SuppressionList } from './suppression';

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
  const common = {
    brokers: options.brokers,
    secret: options.secret,
    clientId: options.clientId,
    writable: options.writable,
    ...(options.log ? { log: options.log } : {}),
  };
  const [keys, suppression] = await Promise.all([
    openKeyRing({ ...common, topic: topics.personKeys }),
    openSuppressionList({ ...common, topic: topics.forgotten }),
  ]);
  return {
    privacy: touchpointPrivacy(keys, suppression),
    keys,
    suppression,
    async close() {
      await Promise.allSettled([keys.close(), suppression.close()]);
    },
  };
}
