/**
 * The import's sort: items in, items out in (at, key) order, in bounded memory. Items are kept in memory up
 * to a budget; past it, each full buffer is sorted and written to a run file under a temporary folder, and
 * the runs (with what is still in memory) are merged k ways through a min-heap when read back (Knuth, TAOCP
 * vol. 3, 5.4.1: external sorting by merging sorted runs). The folder is removed by `dispose`, and at the
 * latest when the process exits.
 *
 * Run files are binary, record after record: `at` (float64 LE), the key (uint16 length, UTF-8), the body
 * (uint32 length, bytes). They are read synchronously in chunks: the merge hands one record at a time to a
 * caller that is waiting on Kafka anyway, and a page-cache read of a chunk blocks for microseconds.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MinHeap } from '../../infra/min-heap';

/** What is sorted: an event time, a key that orders items of the same time, and opaque bytes. */
export interface SortItem {
  readonly at: number;
  readonly key: string;
  readonly body: Buffer;
}

export interface SortBudget {
  /** Items held in memory before a run is written (default 200,000). */
  readonly maxItems: number;
  /** Estimated bytes held in memory before a run is written (default 256 MiB). */
  readonly maxBytes: number;
}

export const DEFAULT_SORT_BUDGET: SortBudget = { maxItems: 200_000, maxBytes: 256 * 1024 * 1024 };

/** Time, then key, then the bytes themselves: a total order, so equal inputs always sort alike. */
export function compareSortItems(a: SortItem, b: SortItem): number {
  if (a.at !== b.at) return a.at < b.at ? -1 : 1;
  if (a.key !== b.key) return a.key < b.key ? -1 : 1;
  return Buffer.compare(a.body, b.body);
}

/** A JS object, its strings and buffer view: about this much beyond the key's and body's own bytes. */
const ITEM_OVERHEAD_BYTES = 96;
const READ_CHUNK_BYTES = 256 * 1024;
const WRITE_CHUNK_BYTES = 4 * 1024 * 1024;
const HEADER_BYTES = 8 + 2;

export class ExternalSorter {
  private buffer: SortItem[] = [];
  private bufferBytes = 0;
  private readonly runs: string[] = [];
  private dir: string | undefined;
  private readonly openReaders = new Set<RunReader>();
  private added = 0;
  private reading = false;
  private readonly removeOnExit = (): void => this.removeDir();
  private readonly budget: SortBudget;

  /** `tmpDir`: where the runs' folder is made (default os.tmpdir()). */
  constructor(private readonly options: { budget?: Partial<SortBudget>; tmpDir?: string } = {}) {
    this.budget = { ...DEFAULT_SORT_BUDGET, ...options.budget };
  }

  /** Items added so far. */
  get count(): number {
    return this.added;
  }

  /** Run files written so far (0: everything fit in memory). */
  get runCount(): number {
    return this.runs.length;
  }

  /** The temporary folder of the runs, while there is one. */
  get tempDir(): string | undefined {
    return this.dir;
  }

  add(item: SortItem): void {
    if (this.reading) throw new Error('ExternalSorter: add after sorted()');
    this.buffer.push(item);
    this.bufferBytes += item.body.length + item.key.length + ITEM_OVERHEAD_BYTES;
    this.added += 1;
    if (this.buffer.length >= this.budget.maxItems || this.bufferBytes >= this.budget.maxBytes) this.spill();
  }

  /**
   * Every item added, in order. The in-memory remainder is merged with the runs rather than written as one
   * more. Call once; `dispose` afterwards (also after an early return or a throw).
   */
  *sorted(): Generator<SortItem> {
    this.reading = true;
    const last = this.buffer.sort(compareSortItems);
    this.buffer = [];
    this.bufferBytes = 0;
    if (this.runs.length === 0) {
      for (let i = 0; i < last.length; i++) {
        const item = last[i]!;
        // Released as it goes, so what is already handed on can be collected.
        (last as (SortItem | undefined)[])[i] = undefined;
        yield item;
      }
      return;
    }
    type Head = { item: SortItem; next: () => SortItem | undefined };
    const heap = new MinHeap<Head>((a, b) => compareSortItems(a.item, b.item));
    for (const file of this.runs) {
      const reader = new RunReader(file);
      this.openReaders.add(reader);
      const first = reader.next();
      if (first) heap.push({ item: first, next: () => reader.next() });
    }
    let i = 0;
    const fromMemory = (): SortItem | undefined => {
      const item = last[i];
      if (item !== undefined) (last as (SortItem | undefined)[])[i++] = undefined;
      return item;
    };
    const firstInMemory = fromMemory();
    if (firstInMemory) heap.push({ item: firstInMemory, next: fromMemory });
    for (let top = heap.peek(); top !== undefined; top = heap.peek()) {
      yield top.item;
      const next = top.next();
      if (next) heap.replaceTop({ item: next, next: top.next });
      else heap.pop();
    }
  }

  /** Closes the runs and removes their folder. Safe to call more than once. */
  dispose(): void {
    for (const reader of this.openReaders) reader.close();
    this.openReaders.clear();
    this.buffer = [];
    this.removeDir();
  }

  private spill(): void {
    const items = this.buffer.sort(compareSortItems);
    this.buffer = [];
    this.bufferBytes = 0;
    if (this.dir === undefined) {
      this.dir = fs.mkdtempSync(path.join(this.options.tmpDir ?? os.tmpdir(), 'ciclo-import-'));
      process.once('exit', this.removeOnExit);
    }
    const file = path.join(this.dir, `run-${this.runs.length}.bin`);
    writeRun(file, items);
    this.runs.push(file);
  }

  private removeDir(): void {
    if (this.dir === undefined) return;
    fs.rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
    process.removeListener('exit', this.removeOnExit);
  }
}

function writeRun(file: string, items: readonly SortItem[]): void {
  const fd = fs.openSync(file, 'w');
  try {
    let chunk = Buffer.allocUnsafe(WRITE_CHUNK_BYTES);
    let pos = 0;
    for (const item of items) {
      const keyBytes = Buffer.byteLength(item.key, 'utf8');
      const size = HEADER_BYTES + keyBytes + 4 + item.body.length;
      if (pos + size > chunk.length) {
        fs.writeSync(fd, chunk, 0, pos);
        pos = 0;
        if (size > chunk.length) chunk = Buffer.allocUnsafe(size);
      }
      chunk.writeDoubleLE(item.at, pos);
      chunk.writeUInt16LE(keyBytes, pos + 8);
      chunk.write(item.key, pos + HEADER_BYTES, keyBytes, 'utf8');
      chunk.writeUInt32LE(item.body.length, pos + HEADER_BYTES + keyBytes);
      item.body.copy(chunk, pos + HEADER_BYTES + keyBytes + 4);
      pos += size;
    }
    if (pos > 0) fs.writeSync(fd, chunk, 0, pos);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Reads a run record by record. Each refill reads into a fresh chunk (the unread tail of the previous one
 * copied to its front), so the bodies handed out are views that stay valid.
 */
class RunReader {
  private fd: number | undefined;
  private chunk = Buffer.alloc(0);
  private pos = 0;
  private end = 0;
  private eof = false;

  constructor(file: string) {
    this.fd = fs.openSync(file, 'r');
  }

  next(): SortItem | undefined {
    if (!this.ensure(HEADER_BYTES)) return undefined;
    const keyBytes = this.chunk.readUInt16LE(this.pos + 8);
    if (!this.ensure(HEADER_BYTES + keyBytes + 4)) throw new Error('truncated run file');
    const bodyBytes = this.chunk.readUInt32LE(this.pos + HEADER_BYTES + keyBytes);
    const size = HEADER_BYTES + keyBytes + 4 + bodyBytes;
    if (!this.ensure(size)) throw new Error('truncated run file');
    const at = this.chunk.readDoubleLE(this.pos);
    const key = this.chunk.toString('utf8', this.pos + HEADER_BYTES, this.pos + HEADER_BYTES + keyBytes);
    const bodyStart = this.pos + HEADER_BYTES + keyBytes + 4;
    const body = this.chunk.subarray(bodyStart, bodyStart + bodyBytes);
    this.pos += size;
    return { at, key, body };
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }

  /** Whether `bytes` unread bytes are available (false only at a clean end of the file). */
  private ensure(bytes: number): boolean {
    while (this.end - this.pos < bytes) {
      if (this.eof || this.fd === undefined) {
        if (this.end - this.pos === 0) {
          this.close();
          return false;
        }
        throw new Error('truncated run file');
      }
      const tail = this.end - this.pos;
      const next = Buffer.allocUnsafe(Math.max(READ_CHUNK_BYTES, bytes * 2));
      this.chunk.copy(next, 0, this.pos, this.end);
      const read = fs.readSync(this.fd, next, tail, next.length - tail, null);
      if (read === 0) this.eof = true;
      this.chunk = next;
      this.pos = 0;
      this.end = tail + read;
    }
    return true;
  }
}
