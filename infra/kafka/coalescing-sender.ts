/**
 * Coalescing of sends into produce requests, whatever the client: an idempotent producer has one request in
 * flight, so concurrent sends (a busy collector's requests) would each wait a full round trip in turn. Sends
 * that arrive while one request is in flight are queued and go out together, in arrival order, as the next
 * request; each caller's promise settles with the request that carried its messages (Kafka's linger, without
 * a timer). A send larger than one request may carry goes out as several, in order, and resolves when Kafka
 * has all of them (a broker refuses a record batch over its message.max.bytes outright).
 *
 * The client's own part is `sendRequest`: one produce request of the messages, grouped by topic in arrival
 * order, resolved once the broker acknowledged them. kafkajs (producer.ts) and @platformatic/kafka
 * (platformatic/producer.ts) share this queue, so a comparison of the two measures the clients.
 */
import type { OutgoingMessage } from './types';

/** Bytes of messages per coalesced request: under the broker's 1 MiB per record batch for any partition. */
export const MAX_COALESCED_BYTES = 768 * 1024;

export type ProduceRequest = (byTopic: ReadonlyMap<string, readonly OutgoingMessage[]>) => Promise<void>;

/** What a message adds to a request, near enough: keys may be UTF-8 (3 bytes a char), 64 of overhead. */
function approximateBytes(m: OutgoingMessage): number {
  let size = (m.value?.length ?? 0) + (m.key?.length ?? 0) * 3 + 64;
  for (const [k, v] of Object.entries(m.headers ?? {})) size += (k.length + v.length) * 3;
  return size;
}

export function coalescingSender(
  sendRequest: ProduceRequest,
): (topic: string, messages: readonly OutgoingMessage[]) => Promise<void> {
  interface Pending {
    readonly topic: string;
    readonly messages: readonly OutgoingMessage[];
    readonly bytes: number;
    resolve(): void;
    reject(err: unknown): void;
  }
  const queue: Pending[] = [];
  let inFlight = false;

  async function drain(): Promise<void> {
    if (inFlight) return;
    inFlight = true;
    try {
      while (queue.length > 0) {
        // Up to MAX_COALESCED_BYTES per request, and always at least one send, however large.
        const taken: Pending[] = [queue.shift()!];
        let bytes = taken[0]!.bytes;
        while (queue.length > 0 && bytes + queue[0]!.bytes <= MAX_COALESCED_BYTES) {
          bytes += queue[0]!.bytes;
          taken.push(queue.shift()!);
        }
        const byTopic = new Map<string, OutgoingMessage[]>();
        for (const p of taken) {
          const list = byTopic.get(p.topic);
          if (list) list.push(...p.messages);
          else byTopic.set(p.topic, [...p.messages]);
        }
        try {
          await sendRequest(byTopic);
          for (const p of taken) p.resolve();
        } catch (err) {
          for (const p of taken) p.reject(err);
        }
      }
    } finally {
      inFlight = false;
    }
  }

  return async (topic, messages) => {
    const parts: { messages: OutgoingMessage[]; bytes: number }[] = [];
    let current: OutgoingMessage[] = [];
    let bytes = 0;
    for (const m of messages) {
      const size = approximateBytes(m);
      if (current.length > 0 && bytes + size > MAX_COALESCED_BYTES) {
        parts.push({ messages: current, bytes });
        current = [];
        bytes = 0;
      }
      current.push(m);
      bytes += size;
    }
    if (current.length > 0) parts.push({ messages: current, bytes });
    await Promise.all(
      parts.map(
        (part) =>
          new Promise<void>((resolve, reject) => {
            queue.push({ topic, messages: part.messages, bytes: part.bytes, resolve, reject });
            void drain();
          }),
      ),
    );
  };
}
