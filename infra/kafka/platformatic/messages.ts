/**
 * ciclo's message types (../types.ts) to and from @platformatic/kafka's, with string keys and headers (its
 * string serde) and values as bytes, as kafkajs hands them over.
 */
import type { Message, MessageToProduce, Partitioner } from '@platformatic/kafka' with {
  'resolution-mode': 'import',
};
import { murmur2 } from '../../../schemas/partitioner';
import type { IncomingMessage, OutgoingMessage } from '../types';

export type PlatformaticOutgoing = MessageToProduce<string, Buffer, string, string>;
export type PlatformaticIncoming = Message<string, Buffer, string, string>;

export function toPlatformaticMessage(topic: string, m: OutgoingMessage): PlatformaticOutgoing {
  return {
    topic,
    ...(m.key !== null ? { key: m.key } : {}),
    ...(m.value !== null ? { value: m.value } : {}),
    ...(m.headers ? { headers: { ...m.headers } } : {}),
    ...(m.timestamp !== undefined ? { timestamp: BigInt(m.timestamp) } : {}),
    ...(m.partition !== undefined ? { partition: m.partition } : {}),
  };
}

export function fromPlatformaticMessage(m: PlatformaticIncoming): IncomingMessage {
  const headers: Record<string, string> = {};
  for (const [k, v] of m.headerEntries) headers[k] = v;
  return {
    topic: m.topic,
    partition: m.partition,
    offset: m.offset.toString(),
    key: m.key ?? null,
    value: m.value ?? null,
    headers,
    timestamp: Number(m.timestamp),
  };
}

/**
 * Keyed messages placed as the Java client places them: murmur2 of the key's bytes made positive (& 0x7fffffff),
 * modulo the partition count (@platformatic/kafka takes the modulo itself). Its default partitioner takes
 * murmur2 as unsigned (>>> 0) instead, which puts about a third of keys on another partition of a 6-partition
 * topic than every other client does; its `compatibilityPartitioner` is Java's too. Keyless messages without
 * a partition go round-robin, as they do without a partitioner.
 */
export function javaCompatiblePartitioner(): Partitioner<string, Buffer, string, string> {
  let next = 0;
  return (_message, key) => (key ? murmur2(key) & 0x7fffffff : next++ & 0x7fffffff);
}
