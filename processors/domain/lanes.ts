/**
 * A partition's clock: how far in event time its input is known to be complete, from the progress of each
 * source (lane) that writes to it. Live traffic is one lane; each import run is a lane of its own, opened on
 * every partition before its first record and closed after its last (schemas/lanes.ts).
 *
 * Why lanes: with one watermark per partition (the newest event time seen), an import of last year into a
 * running pipeline, or any record older than the newest, arrives behind the clock, and the deadlines of every
 * customer have already fired past it: false at_risk and lapsed changes, then false reactivations. As Apache
 * Flink does with a watermark per source split, the partition's event time is the lowest of its lanes' (Flink
 * docs, "Generating Watermarks", "Watermarks in Parallel Streams"), so a lane that is behind holds the others
 * back instead of being overtaken by them.
 *
 * - The live lane's watermark is the newest event time it has carried, less the grace period: live senders
 *   are not ordered, and the grace period is how long the processor waits for stragglers. It holds the others
 *   back only once it has carried a record (a pipeline fed by imports alone has no live clock to wait for).
 * - An import lane is ordered (the import sorts by event time, producers/import): its watermark is the newest
 *   event time it has carried, and nothing older will come. Until its first record arrives here,
 *   the start time its open marker announced stands for it.
 * - Once every lane that holds the clock back is closed, the clock is the newest event time of any lane.
 *
 * When the input is quiet (`idleLimit`), the live lane no longer holds anything back: there is nothing it
 * is about to deliver. Open import lanes still do: a slow import is not a finished one. An abandoned import
 * holds its partitions back until `ciclo import --abort <run>` closes its lane, or until its lease runs out
 * (`expire`): no record of its own here for that long, by the Kafka timestamps of the records that did come.
 *
 * Pure: times come from the records.
 */

/** What a lane's record is, for the partition: live traffic, a record of an open import, or neither. */
export type LaneOfRecord = 'live' | 'import' | 'unopened';

/** What the changelog keeps of a partition's lanes (format 7; docs/changelog-format.md). */
export interface LanesCheckpoint {
  /** The newest event time of the live lane (-Infinity: none yet, written as null in JSON). */
  readonly live: number | null;
  /** Open import lanes: run id -> newest event time carried, or 1 ms before the start its open marker announced. */
  readonly open: Readonly<Record<string, number>>;
  /** The newest event time of lanes closed since (-Infinity: none, written as null). */
  readonly closed: number | null;
  /** Open import lanes: run id -> the start its open marker announced. */
  readonly starts?: Readonly<Record<string, number>>;
  /** The ids of the lanes closed here last (at most CLOSED_LANES_KEPT), oldest first. */
  readonly closedIds?: readonly string[];
  /** Open import lanes: run id -> the Kafka timestamp of its latest record or marker here (`expire`). */
  readonly seen?: Readonly<Record<string, number>>;
}

/**
 * How many closed lanes a partition remembers, so that a message from another partition naming one of them
 * (`adopt`) does not open it again. Far more than imports run while a message is in flight.
 */
export const CLOSED_LANES_KEPT = 1000;

const orNull = (t: number): number | null => (Number.isFinite(t) ? t : null);
const orMinus = (t: number | null | undefined): number => (typeof t === 'number' ? t : -Infinity);

export class Lanes {
  private liveNewest = -Infinity;
  private readonly imports = new Map<string, number>();
  private readonly starts = new Map<string, number>();
  private closedNewest = -Infinity;
  private readonly closedIds = new Set<string>();
  private readonly seen = new Map<string, number>();

  constructor(private readonly gracePeriodMs: number) {}

  static restored(gracePeriodMs: number, checkpoint: LanesCheckpoint): Lanes {
    const lanes = new Lanes(gracePeriodMs);
    lanes.liveNewest = orMinus(checkpoint.live);
    for (const [id, at] of Object.entries(checkpoint.open)) lanes.imports.set(id, at);
    for (const [id, at] of Object.entries(checkpoint.starts ?? {})) lanes.starts.set(id, at);
    for (const id of checkpoint.closedIds ?? []) lanes.closedIds.add(id);
    for (const [id, at] of Object.entries(checkpoint.seen ?? {})) lanes.seen.set(id, at);
    lanes.closedNewest = orMinus(checkpoint.closed);
    return lanes;
  }

  /** A checkpoint of format 6 or older had one watermark: the live lane's. */
  static fromWatermark(gracePeriodMs: number, watermark: number): Lanes {
    const lanes = new Lanes(gracePeriodMs);
    lanes.liveNewest = watermark;
    return lanes;
  }

  checkpoint(): LanesCheckpoint {
    return {
      live: orNull(this.liveNewest),
      open: Object.fromEntries(this.imports),
      closed: orNull(this.closedNewest),
      ...(this.starts.size > 0 ? { starts: Object.fromEntries(this.starts) } : {}),
      ...(this.closedIds.size > 0 ? { closedIds: [...this.closedIds] } : {}),
      ...(this.seen.size > 0 ? { seen: Object.fromEntries(this.seen) } : {}),
    };
  }

  /**
   * An import run opens its lane here; `startsAt`, the earliest event time it will write. Opening an open
   * lane again (a marker delivered twice) changes nothing.
   */
  open(lane: string, startsAt: number, recordTimestamp?: number): void {
    if (this.imports.has(lane) || this.closedIds.has(lane)) return;
    if (recordTimestamp !== undefined) this.seen.set(lane, recordTimestamp);
    // Until its first record, the lane has carried nothing at its start: what is older than it is complete.
    this.imports.set(lane, startsAt - 1);
    this.starts.set(lane, startsAt);
  }

  /** The ids of the lanes closed here last (at most `count`), for another partition (identity.ts). */
  recentlyClosed(count: number): string[] {
    const ids = [...this.closedIds];
    return ids.slice(Math.max(0, ids.length - count));
  }

  /** The open import lanes and their starts, for a message to another partition (identity.ts). */
  openStarts(): Readonly<Record<string, number>> | undefined {
    return this.starts.size > 0 ? Object.fromEntries(this.starts) : undefined;
  }

  /**
   * Lanes open at the sender of a message: those not known here yet are opened, as their own open markers
   * will open them (each import writes one to every partition), so that what the message brings waits for
   * this partition's records of the same lanes. A lane closed here already stays closed.
   */
  adopt(lanes: Readonly<Record<string, number>>): boolean {
    let opened = false;
    for (const [lane, startsAt] of Object.entries(lanes))
      if (!this.imports.has(lane) && !this.closedIds.has(lane)) {
        this.open(lane, startsAt);
        opened = true;
      }
    return opened;
  }

  /** An import run has written all it will: its lane no longer holds the clock back. */
  close(lane: string): boolean {
    this.closedIds.delete(lane);
    this.closedIds.add(lane);
    if (this.closedIds.size > CLOSED_LANES_KEPT) this.closedIds.delete(this.closedIds.values().next().value!);
    const newest = this.imports.get(lane);
    if (newest === undefined) return false;
    this.imports.delete(lane);
    this.starts.delete(lane);
    this.seen.delete(lane);
    if (newest > this.closedNewest) this.closedNewest = newest;
    return true;
  }

  /**
   * A record at event time `at` came in `lane` (undefined: live). A record of a lane that is not open here
   * (never opened, or closed already) counts as live traffic, which waits for nothing.
   */
  observe(lane: string | undefined, at: number, recordTimestamp?: number): LaneOfRecord {
    if (lane !== undefined) {
      const newest = this.imports.get(lane);
      if (newest !== undefined) {
        if (at > newest) this.imports.set(lane, at);
        if (recordTimestamp !== undefined) this.seen.set(lane, recordTimestamp);
        return 'import';
      }
    }
    if (at > this.liveNewest) this.liveNewest = at;
    return lane === undefined ? 'live' : 'unopened';
  }

  /**
   * Closes the import lanes that carried no record here for `leaseMs` before `now` (a Kafka record timestamp
   * of this partition's input): an import that died without closing its lane, which would otherwise hold the
   * clock for ever. A lane opened without a record timestamp (a replay) never expires. Returns their ids.
   */
  expire(now: number, leaseMs: number): string[] {
    const expired: string[] = [];
    for (const [lane, at] of this.seen) if (now - at > leaseMs) expired.push(lane);
    for (const lane of expired) this.close(lane);
    return expired;
  }

  /** Whether an import lane is open here. */
  isOpen(lane: string): boolean {
    return this.imports.has(lane);
  }

  get openImports(): number {
    return this.imports.size;
  }

  /** The newest event time any lane has carried (what the end of all input brings the clock to). */
  get newest(): number {
    let newest = Math.max(this.liveNewest, this.closedNewest);
    for (const at of this.imports.values()) if (at > newest) newest = at;
    return newest;
  }

  /**
   * Up to which event time the input is complete while it flows: touchpoints up to it are applied and
   * deadlines up to it fire.
   */
  get limit(): number {
    let limit = this.importsLimit();
    if (this.liveNewest > -Infinity) limit = Math.min(limit, this.liveNewest - this.gracePeriodMs);
    return limit === Infinity ? this.newest : limit;
  }

  /** The same when the input has gone quiet: the live lane waits for nothing, open imports still do. */
  get idleLimit(): number {
    const limit = this.importsLimit();
    return limit === Infinity ? this.newest : limit;
  }

  /**
   * The lowest watermark of the open import lanes (Infinity: none). An import's next record can carry the
   * same time as its last one, but not an earlier one, and it is sorted by event id after it: a record at
   * the lane's newest time can be applied at once, as the truth applies it before the next.
   */
  private importsLimit(): number {
    let limit = Infinity;
    for (const at of this.imports.values()) if (at < limit) limit = at;
    return limit;
  }
}
