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
import { fnv1a, hashesOf, tokensOf } from './applied-archive';

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
/** Events a record holds at most: 480 KB of tokens, under Kafka's 1 MB message limit. */
const RECORD_EVENTS = 40_000;

/** A second 32-bit hash, independent of FNV-1a: the multiply-xorshift lane of cyrb53 (bryc, public domain). */
function mixHash(key: string, eventId: string): number {
  let h = 0x41c6ce57;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 1597334677);
  h = Math.imul(h ^ 0xffff, 1597334677); // a separator no UTF-16 text ends with
  for (let i = 0; i < eventId.length; i++) h = Math.imul(h ^ eventId.charCodeAt(i), 1597334677);
  h = Math.imul(h ^ (h >>> 16), 2246822507);
  h ^= Math.imul(h ^ (h >>> 13), 3266489909);
  return h >>> 0;
}

/** A set of pairs of 32-bit numbers: open addressing with linear probing, (0, 0) marking a free slot. */
class PairSet {
  private slots = new Uint32Array(2 * 1024);
  private mask = 1023;
  size = 0;

  has(a: number, b: number): boolean {
    if (a === 0 && b === 0) b = 1;
    const slots = this.slots;
    for (let i = b & this.mask; ; i = (i + 1) & this.mask) {
      const sa = slots[2 * i]!;
      const sb = slots[2 * i + 1]!;
      if (sa === a && sb === b) return true;
      if (sa === 0 && sb === 0) return false;
    }
  }

  /** Adds a pair not in the set. */
  add(a: number, b: number): void {
    if (a === 0 && b === 0) b = 1;
    if (2 * (this.size + 1) > this.mask + 1) this.grow();
    this.place(a, b);
    this.size += 1;
  }

  private place(a: number, b: number): void {
    const slots = this.slots;
    let i = b & this.mask;
    while (slots[2 * i] !== 0 || slots[2 * i + 1] !== 0) i = (i + 1) & this.mask;
    slots[2 * i] = a;
    slots[2 * i + 1] = b;
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new Uint32Array(2 * old.length);
    this.mask = old.length - 1;
    for (let i = 0; i < old.length; i += 2)
      if (old[i] !== 0 || old[i + 1] !== 0) this.place(old[i]!, old[i + 1]!);
  }
}

interface Generation {
  readonly id: number;
  readonly events: PairSet;
  oldest: number;
  newest: number;
  /** Its records' places. */
  readonly seqs: number[];
  /** Hashes taken since its last record, a pair after a pair. */
  unwritten: number[];
}

export class RecentEvents {
  private readonly generations: Generation[] = [];
  /** The newest record time taken: the window ends here. */
  private now = -Infinity;
  private nextSeq = 0;
  private nextGeneration = 0;
  /** Records of generations gone since the last takeChanges(). */
  private expired: number[] = [];
  /** Generations that went before their time, for `maxEvents`. */
  shortened = 0;

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
          events: new PairSet(),
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
        if (!g.events.has(hashes[i]!, hashes[i + 1]!)) g.events.add(hashes[i]!, hashes[i + 1]!);
      this.nextSeq = Math.max(this.nextSeq, r.seq + 1);
      this.nextGeneration = Math.max(this.nextGeneration, r.generation + 1);
      this.now = Math.max(this.now, r.newest);
    }
    this.generations.push(...[...byGeneration.values()].sort((x, y) => x.id - y.id));
    this.expire();
  }

  /** How many events are remembered. */
  get size(): number {
    let n = 0;
    for (const g of this.generations) n += g.events.size;
    return n;
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
    const a = (fnv1a(eventId) ^ fnv1a(key)) >>> 0;
    const b = mixHash(key, eventId);
    for (const g of this.generations) if (g.events.has(a, b)) return false;
    const g = this.filling(at);
    g.events.add(a, b);
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
      last.events.size < Math.ceil(this.options.maxEvents / GENERATIONS)
    )
      return last;
    const g: Generation = {
      id: this.nextGeneration++,
      events: new PairSet(),
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
    for (const seq of g.seqs) this.expired.push(seq);
  }
}
