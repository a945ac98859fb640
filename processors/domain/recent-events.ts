/**
 * The input events a partition took lately, by key and event id, over a window of record time: a record
 * delivered again (a sender retrying after a 503 whose first copy Kafka kept, a batch sent twice) is dropped
 * where it enters, before it is routed, whatever became of its customer since. The customer's own applied
 * ids (customer.ts `hasApplied`) cannot see an event whose customer was handed over to another partition in
 * between: the copy went on to the new home as a late touchpoint and, where the customer it merged into was
 * not made there yet, made it from the copy, a first touch instead of a merge. This is the windowed store of
 * seen ids with which Kafka Streams applications drop duplicates (Confluent's "How to find distinct events
 * with Kafka Streams").
 *
 * Each event is kept as two 32-bit hashes of its key and id: with 250,000 kept, a new event is taken for one of
 * them about once in 7e13. They are kept in generations: a generation takes events for a quarter of
 * the window, or until it holds a quarter of `maxEvents`, and goes once its newest record time is a window
 * old, so a generation's events are remembered for the window and at most a quarter more. Past `maxEvents`,
 * the oldest generation goes early (`shortened`): memory stays bounded, and a copy later than that falls
 * back on the customer's applied ids.
 *
 * The changelog keeps each batch's new events as records (`takeChanges`), and drops a generation's records
 * when it goes; a restored partition remembers what it remembered before.
 */
import { hashesOf, tokensOf } from './applied-archive';

export interface RecentEventsOptions {
  /** How long (record time) an event is remembered at least. */
  readonly windowMs: number;
  /** How many events a partition remembers at most (a quarter more while a generation fills). */
  readonly maxEvents: number;
}

/**
 * A week: webhook senders retry for up to three days (Stripe), a sender's own retries take seconds to hours.
 * 200,000 events take at most 5 MB a partition; a partition taking more than that in a week remembers its
 * last 200,000 to 250,000 (minutes at the e2e bench's rate, days at a few events a second).
 */
export const DEFAULT_RECENT_EVENTS: RecentEventsOptions = { windowMs: 7 * 86_400_000, maxEvents: 200_000 };

/** A changelog record: events one generation took in one batch. */
export interface RecentEventsRecord {
  /** Its place among the partition's records (their key). */
  readonly seq: number;
  readonly generation: number;
  /** The generation's oldest and newest record times when it was written. */
  readonly oldest: number;
  readonly newest: number;
  /** Each event's two hashes as applied-archive tokens: 12 characters an event. */
  readonly events: string;
}

/** Generations kept besides the one filling. */
const GENERATIONS = 4;
/** Events a record holds at most: 48 KB of tokens, as small as the changelog's other records. */
const RECORD_EVENTS = 4096;

/**
 * Two 32-bit hashes of a key and an event id in one pass: FNV-1a, and the multiply-xorshift lane of cyrb53
 * (bryc, public domain), each over the key, a separator no UTF-16 text holds alone, and the id.
 */
function hashPair(key: string, eventId: string, into: Uint32Array): void {
  let a = 0x811c9dc5;
  let b = 0x41c6ce57;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 1597334677);
  }
  a = Math.imul(a ^ 0xffff, 0x01000193);
  b = Math.imul(b ^ 0xffff, 1597334677);
  for (let i = 0; i < eventId.length; i++) {
    const c = eventId.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 1597334677);
  }
  b = Math.imul(b ^ (b >>> 16), 2246822507);
  b ^= Math.imul(b ^ (b >>> 13), 3266489909);
  into[0] = a;
  into[1] = b;
}

const FREE = 0;
const GONE = 1;

/**
 * Pairs of 32-bit numbers, each tagged with its generation, in one table: open addressing with linear
 * probing, so a lookup is one probe sequence however many generations there are (a table per generation
 * made every new event a miss in each, a fifth of the fold's time per touchpoint). A generation's pairs go
 * at once, their slots marked gone until the table is rebuilt.
 */
class TaggedPairs {
  /** Three words a slot: the pair, and its tag (FREE, GONE, or its generation's id plus 2). */
  private slots = new Uint32Array(3 * 1024);
  private mask = 1023;
  private live = 0;
  private gone = 0;

  get size(): number {
    return this.live;
  }

  /**
   * Adds the pair unless it is here (one probe sequence for both: each is a likely cache miss in a table
   * of megabytes). Returns whether it was added.
   */
  addNew(a: number, b: number, generation: number): boolean {
    if (2 * (this.live + this.gone + 1) > this.mask + 1) this.rebuild();
    const slots = this.slots;
    let i = b & this.mask;
    for (; ; i = (i + 1) & this.mask) {
      const tag = slots[3 * i + 2]!;
      if (tag === FREE) break;
      if (tag !== GONE && slots[3 * i] === a && slots[3 * i + 1] === b) return false;
    }
    slots[3 * i] = a;
    slots[3 * i + 1] = b;
    slots[3 * i + 2] = generation + 2;
    this.live += 1;
    return true;
  }

  /** Removes a generation's `count` pairs. */
  drop(generation: number, count: number): void {
    if (count === 0) return;
    const tag = generation + 2;
    const slots = this.slots;
    for (let i = 2; i < slots.length; i += 3) if (slots[i] === tag) slots[i] = GONE;
    this.live -= count;
    this.gone += count;
  }

  private place(a: number, b: number, tag: number): void {
    const slots = this.slots;
    let i = b & this.mask;
    while (slots[3 * i + 2] !== FREE) i = (i + 1) & this.mask;
    slots[3 * i] = a;
    slots[3 * i + 1] = b;
    slots[3 * i + 2] = tag;
  }

  /** A table a quarter full of the live pairs, without the gone. */
  private rebuild(): void {
    const old = this.slots;
    let capacity = 1024;
    while (capacity < 4 * (this.live + 1)) capacity *= 2;
    this.slots = new Uint32Array(3 * capacity);
    this.mask = capacity - 1;
    this.gone = 0;
    for (let i = 0; i < old.length; i += 3)
      if (old[i + 2]! > GONE) this.place(old[i]!, old[i + 1]!, old[i + 2]!);
  }
}

interface Generation {
  readonly id: number;
  /** How many events it holds. */
  count: number;
  oldest: number;
  newest: number;
  /** Its records' places. */
  readonly seqs: number[];
  /** Hashes taken since its last record, a pair after a pair. */
  unwritten: number[];
}

export class RecentEvents {
  private readonly generations: Generation[] = [];
  private readonly events = new TaggedPairs();
  /** The newest record time taken: the window ends here. */
  private now = -Infinity;
  private nextSeq = 0;
  private nextGeneration = 0;
  /** Records of generations gone since the last takeChanges(). */
  private expired: number[] = [];
  /** Generations that went before their time, for `maxEvents`. */
  shortened = 0;
  private readonly hashes = new Uint32Array(2);

  constructor(
    private readonly options: RecentEventsOptions = DEFAULT_RECENT_EVENTS,
    restored: Iterable<RecentEventsRecord> = [],
  ) {
    const byGeneration = new Map<number, Generation>();
    for (const r of restored) {
      let g = byGeneration.get(r.generation);
      if (g === undefined) {
        g = {
          id: r.generation,
          count: 0,
          oldest: r.oldest,
          newest: r.newest,
          seqs: [],
          unwritten: [],
        };
        byGeneration.set(r.generation, g);
      }
      g.oldest = Math.min(g.oldest, r.oldest);
      g.newest = Math.max(g.newest, r.newest);
      g.seqs.push(r.seq);
      const hashes = hashesOf(r.events);
      for (let i = 0; i + 1 < hashes.length; i += 2)
        if (this.events.addNew(hashes[i]!, hashes[i + 1]!, g.id)) g.count += 1;
      this.nextSeq = Math.max(this.nextSeq, r.seq + 1);
      this.nextGeneration = Math.max(this.nextGeneration, r.generation + 1);
      this.now = Math.max(this.now, r.newest);
    }
    this.generations.push(...[...byGeneration.values()].sort((x, y) => x.id - y.id));
    this.expire();
  }

  /** How many events are remembered. */
  get size(): number {
    return this.events.size;
  }

  /**
   * Whether the event under this key was not taken within the window; if not, it is remembered from record
   * time `at` on.
   */
  takeFirst(key: string, eventId: string, at: number): boolean {
    if (at > this.now) {
      this.now = at;
      this.expire();
    }
    hashPair(key, eventId, this.hashes);
    const a = this.hashes[0]!;
    const b = this.hashes[1]!;
    const g = this.filling(at);
    if (!this.events.addNew(a, b, g.id)) return false;
    g.count += 1;
    g.unwritten.push(a, b);
    if (at < g.oldest) g.oldest = at;
    if (at > g.newest) g.newest = at;
    return true;
  }

  /** The records to write for what was taken since the last call, and the places of those to remove. */
  takeChanges(): { readonly records: RecentEventsRecord[]; readonly expired: number[] } {
    const records: RecentEventsRecord[] = [];
    for (const g of this.generations) {
      const unwritten = g.unwritten;
      if (unwritten.length === 0) continue;
      g.unwritten = [];
      for (let from = 0; from < unwritten.length; from += 2 * RECORD_EVENTS) {
        const seq = this.nextSeq++;
        g.seqs.push(seq);
        records.push({
          seq,
          generation: g.id,
          oldest: g.oldest,
          newest: g.newest,
          events: tokensOf(unwritten.slice(from, from + 2 * RECORD_EVENTS)),
        });
      }
    }
    const expired = this.expired;
    if (expired.length > 0) this.expired = [];
    return { records, expired };
  }

  /** The generation taking events at record time `at`: the last one, or a new one when that is full. */
  private filling(at: number): Generation {
    const last = this.generations[this.generations.length - 1];
    const span = this.options.windowMs / GENERATIONS;
    if (
      last !== undefined &&
      at - last.oldest < span &&
      last.count < Math.ceil(this.options.maxEvents / GENERATIONS)
    )
      return last;
    const g: Generation = {
      id: this.nextGeneration++,
      count: 0,
      oldest: at,
      newest: at,
      seqs: [],
      unwritten: [],
    };
    this.generations.push(g);
    while (this.generations.length > GENERATIONS + 1) {
      this.shortened += 1;
      this.drop();
    }
    return g;
  }

  /** Drops the generations whose newest event is a window old. */
  private expire(): void {
    const before = this.now - this.options.windowMs;
    while (this.generations.length > 0 && this.generations[0]!.newest < before) this.drop();
  }

  private drop(): void {
    const g = this.generations.shift()!;
    this.events.drop(g.id, g.count);
    for (const seq of g.seqs) this.expired.push(seq);
  }
}
