/**
 * The processor keeps its customers' state in memory (the changelog is its backup, read on restore), about
 * half a kilobyte per customer and more for long histories (bench/RESULTS.md). Past V8's heap limit the
 * process dies, and so does every restart while the state is as large, so the processor warns in its log
 * well before: with how many customers it holds and what to do.
 */
import v8 from 'node:v8';
import type { Logger } from '../../infra/log';

export interface HeapReading {
  readonly usedBytes: number;
  readonly limitBytes: number;
  readonly customers: number;
}

/** The share of the heap limit above which the processor warns. */
export const HEAP_WARNING_SHARE = 0.75;
/** How often the heap is read, and how long a warning holds before it is repeated. */
export const HEAP_CHECK_MS = 30_000;
const HEAP_WARNING_REPEAT_MS = 10 * 60_000;

const mib = (bytes: number): number => Math.round(bytes / 2 ** 20);

/**
 * Decides on each reading whether to warn. Heap in use includes garbage not yet collected, so one high
 * reading proves nothing: it warns on the second high reading in a row, then at most every ten minutes while
 * readings stay high.
 */
export class HeapWatch {
  private highBefore = false;
  private warnedAt = -Infinity;

  observe(reading: HeapReading, now: number): string | undefined {
    const high = reading.usedBytes >= HEAP_WARNING_SHARE * reading.limitBytes;
    const confirmed = high && this.highBefore;
    this.highBefore = high;
    if (!confirmed || now - this.warnedAt < HEAP_WARNING_REPEAT_MS) return undefined;
    this.warnedAt = now;
    const share = Math.round((100 * reading.usedBytes) / reading.limitBytes);
    const each =
      reading.customers > 0 ? `, about ${Math.round(reading.usedBytes / reading.customers)} bytes each` : '';
    return (
      `heap ${mib(reading.usedBytes)} MiB of its ${mib(reading.limitBytes)} MiB limit (${share}%) with ` +
      `${reading.customers} customers${each}: past the limit the processor stops, and so does each restart. ` +
      'Raise the limit (NODE_OPTIONS=--max-old-space-size=<MiB>) or run more instances to share the partitions'
    );
  }
}

/** Reads the heap every HEAP_CHECK_MS and logs HeapWatch's warnings; returns the function that stops it. */
export function watchHeap(log: Logger, customers: () => number): () => void {
  const watch = new HeapWatch();
  const timer = setInterval(() => {
    const { used_heap_size: usedBytes, heap_size_limit: limitBytes } = v8.getHeapStatistics();
    const warning = watch.observe({ usedBytes, limitBytes, customers: customers() }, Date.now());
    if (warning) log.warn({ heapUsedBytes: usedBytes, heapLimitBytes: limitBytes }, warning);
  }, HEAP_CHECK_MS);
  timer.unref();
  return () => clearInterval(timer);
}
