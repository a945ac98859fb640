/**
 * The queue of calls not yet accepted by the collector, and the decisions about it: what goes in the next
 * batch, what is over the limits, and which queues left behind by closed pages this page takes over.
 *
 * Each page keeps its queue under its own storage key with an `ack` time, refreshed on every change and
 * retry, and set to 0 when the page goes away (pagehide). A page that loads takes over queues that were
 * released or whose page stopped acknowledging them long ago: the design of Segment's localstorage-retry
 * (https://github.com/segmentio/localstorage-retry), so a reload while the collector is down loses nothing
 * and two open tabs never send each other's calls. Pure: the clock is passed in.
 */
import type { Call } from './calls';

export const QUEUE_KEY_PREFIX = 'ciclo.queue.';

export interface StoredQueue {
  /** When the owning page last touched the queue (ms since the epoch); 0 once it was released. */
  readonly ack: number;
  readonly items: readonly Call[];
}

export interface QueueLimits {
  /** Calls kept at most; beyond it the oldest are dropped (and reported). */
  readonly maxItems: number;
  /** A single call larger than this (as JSON) is refused when made (Segment's limit is 32 KB). */
  readonly maxCallBytes: number;
}

export const DEFAULT_LIMITS: QueueLimits = { maxItems: 1000, maxCallBytes: 32 * 1024 };

/** A text's size in UTF-8 (surrogate pairs counted as 2 + 2, near enough for limits). */
export function utf8Bytes(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f) bytes += c > 0x7ff ? 2 : 1;
  }
  return bytes;
}

/** Size as the collector will count it: JSON in UTF-8. */
export function jsonBytes(value: unknown): number {
  return utf8Bytes(JSON.stringify(value));
}

export interface Enqueued {
  readonly items: Call[];
  /** Calls that did not fit: the new one when too large, else the oldest when over maxItems. */
  readonly dropped: Call[];
}

export function enqueue(items: readonly Call[], call: Call, limits: QueueLimits): Enqueued {
  if (jsonBytes(call) > limits.maxCallBytes) return { items: [...items], dropped: [call] };
  const next = [...items, call];
  const over = Math.max(0, next.length - limits.maxItems);
  return { items: next.slice(over), dropped: next.slice(0, over) };
}

/**
 * The next batch: calls from the head of the queue, skipping those already in flight, at most `maxCalls`
 * and `maxBytes` of JSON (but always at least one call, so a large one is not stuck behind the limit).
 */
export function takeBatch(
  items: readonly Call[],
  inFlight: ReadonlySet<string>,
  maxCalls: number,
  maxBytes: number,
): Call[] {
  const batch: Call[] = [];
  let bytes = 0;
  for (const call of items) {
    if (inFlight.has(call.messageId)) continue;
    const size = jsonBytes(call) + 1;
    if (batch.length > 0 && (batch.length >= maxCalls || bytes + size > maxBytes)) break;
    batch.push(call);
    bytes += size;
  }
  return batch;
}

export function without(items: readonly Call[], messageIds: ReadonlySet<string>): Call[] {
  return items.filter((c) => !messageIds.has(c.messageId));
}

/** Queues merged in the order the calls were made; a call present in both is kept once. */
export function merge(a: readonly Call[], b: readonly Call[]): Call[] {
  const seen = new Set(a.map((c) => c.messageId));
  const merged = [...a, ...b.filter((c) => !seen.has(c.messageId))];
  return merged.sort((x, y) => (x.timestamp < y.timestamp ? -1 : x.timestamp > y.timestamp ? 1 : 0));
}

/** A stored queue, or undefined when absent or unreadable (storage another script overwrote). */
export function parseQueue(text: string | null): StoredQueue | undefined {
  if (!text) return undefined;
  try {
    const value = JSON.parse(text) as { ack?: unknown; items?: unknown } | null;
    if (!value || typeof value.ack !== 'number' || !Array.isArray(value.items)) return undefined;
    const items = (value.items as unknown[]).filter(
      (c): c is Call =>
        c !== null && typeof c === 'object' && typeof (c as { messageId?: unknown }).messageId === 'string',
    );
    return { ack: value.ack, items };
  } catch {
    return undefined;
  }
}

/**
 * Whether a page may take over another page's queue: released (ack 0), or not acknowledged for `staleMs`.
 * Timers of hidden tabs run about once a minute (Chrome's intensive throttling), so staleMs must be well
 * above that, or a live background tab would lose its queue to a new one.
 */
export function isAbandoned(queue: StoredQueue, now: number, staleMs: number): boolean {
  return queue.ack === 0 || now - queue.ack > staleMs;
}
