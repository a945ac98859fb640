/** ciclo's own message types: what crosses the Kafka seam, independent of the client library. */
export type MessageHeaders = Readonly<Record<string, string>>;

export interface OutgoingMessage {
  readonly key: string | null;
  readonly value: Buffer | null;
  readonly headers?: MessageHeaders;
  /** Milliseconds since the epoch; the broker's time when absent. */
  readonly timestamp?: number;
  /**
   * The partition to write to, for records that must reach one partition whatever their key (an import's
   * lane control records go to every partition, schemas/lanes.ts); by the key's hash when absent.
   */
  readonly partition?: number;
}

export interface IncomingMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
  readonly value: Buffer | null;
  readonly headers: MessageHeaders;
  readonly timestamp: number;
}

/** A topic as ciclo creates it: defined with the topics' contracts (schemas/topics.ts). */
export type { TopicSpec } from '../../schemas/topics';
