/**
 * Writes a partition's changelog: after each batch, the records that bring the compacted topic to the
 * partition's state (docs/changelog-format.md). One writer per partition, restored with what the topic holds
 * already (restore.ts), so that records that did not change are not written again: a held customer's queue
 * and early handoffs are written once, the reorder buffer is in the partition's record while small and a
 * record per item when large, archives of applied ids only when they change, and the partition's record
 * only when something changed.
 */
import type { LifecycleStateRecord } from '../../../schemas/outputs';
import { changelogJson } from '../../domain/customer-record';
import type { BufferedItem, HeldCustomer, PartitionLifecycle, PartitionOutput } from '../../domain/partition';
import {
  APPLIED_KEY_PREFIX,
  ARRIVED_KEY_PREFIX,
  CLAIM_KEY_PREFIX,
  FED_KEY_PREFIX,
  FORGOTTEN_KEY_PREFIX,
  RECENT_KEY_PREFIX,
  REDIRECT_KEY_PREFIX,
  HELD_KEY_PREFIX,
  heldItemKey,
  PARTITION_KEY,
  pendingKeyOf,
} from './keys';
import type { RestoredChangelog } from './restore';
import type { ProfileHandoff } from '../../domain/identity';

/**
 * How many queued items a held customer's own record holds at most, and in how many bytes of JSON (the link
 * always: it is the queue's first): most holds queue one to a few. A touchpoint can be large (up to 1,000
 * line items), so the bytes bound the record, not the count.
 */
export const HELD_INLINE = 16;
const HELD_INLINE_BYTES = 64 * 1024;
/**
 * Past this many bytes of JSON, the partition's record no longer holds the reorder buffer: each item is a
 * record of its own. Back in the partition's record once the buffer holds at most PENDING_INLINE_MIN items in
 * a quarter of the bytes (the gap keeps a buffer near the limit from switching at every batch). Inline, a
 * small buffer costs one record per batch; as records, two per item (the item, and its tombstone once
 * applied), which with no grace period, where only the items of customers fed from elsewhere wait, doubled
 * the changelog's records per touchpoint. A large buffer inline passed the broker's message limit (1 MB).
 */
export const PENDING_INLINE_BYTES = 256 * 1024;
const PENDING_INLINE_MIN = 64;

/** Where the writer's records go: the task encodes and places them (keys are less the model's prefix). */
export interface ChangelogSink {
  state(key: string, kind: LifecycleStateRecord['kind'], json: string): void;
  tombstone(key: string): void;
}

interface HeldVersion {
  readonly entry: HeldCustomer;
  readonly linkEventId: string;
  readonly length: number;
  /** How many of the queue's items the customer's own record holds; the rest are records of their own. */
  readonly inline: number;
}

const versionOf = (h: HeldCustomer, inline: number): HeldVersion => ({
  entry: h,
  linkEventId: h.linkEventId,
  length: h.queue.length,
  inline,
});

export class ChangelogWriter {
  /** The checkpoint last handed out for commit. */
  private lastCheckpoint: string | undefined;
  /**
   * Held customers as last handed out for commit. A held customer only ever grows (its queue is appended to
   * while it waits; a new link replaces the entry), so the entry, its link and its queue length tell whether
   * it changed, without serializing every held customer at every batch.
   */
  private readonly heldWritten = new Map<string, HeldVersion>();
  /** Buffered items that are records of their own (`pendingKeyOf`) as last handed out. */
  private readonly pendingWritten: Set<BufferedItem>;
  /** Whether the buffer is in records of their own (large), not in the partition's record. */
  private pendingInRecords = false;
  /**
   * Early handoffs written and not yet removed, by link event id: the entry as written (a forget can take
   * the person's ids out of one, which is then written again), undefined where only the record is known.
   */
  private readonly arrivedWritten: Map<string, ProfileHandoff | undefined>;
  /**
   * Each customer's applied-hash archive as last handed out for commit. An archive is a new string whenever
   * it changes (customer.ts), so comparing the string the state holds with this one is usually a pointer
   * comparison.
   */
  private readonly archivesWritten = new Map<string, string>();

  constructor(
    private readonly pendingInlineBytes: number,
    p: PartitionLifecycle,
    restored?: RestoredChangelog,
  ) {
    this.pendingWritten = new Set(restored?.pendingInRecords ?? []);
    this.arrivedWritten = new Map([...(restored?.arrivedInRecords ?? [])].map((id) => [id, undefined]));
    for (const h of p.checkpoint().arrived ?? [])
      if (this.arrivedWritten.has(h.linkEventId)) this.arrivedWritten.set(h.linkEventId, h);
    for (const h of p.checkpoint().held ?? []) {
      const inline = restored?.heldInline.get(h.id);
      if (inline !== undefined) this.heldWritten.set(h.id, versionOf(h, inline));
    }
    // Archives as their records hold them; one moved out of an older format's state is written when its
    // customer next changes.
    for (const s of p.customers.values())
      if (s.appliedArchive !== undefined && s.appliedArchive === restored?.archives.get(s.id))
        this.archivesWritten.set(s.id, s.appliedArchive);
  }

  /** `others`: whether the batch wrote anything else (then the partition's record is written regardless). */
  write(
    p: PartitionLifecycle,
    out: Omit<PartitionOutput, 'stageChanges' | 'messages'>,
    sink: ChangelogSink,
    others: boolean,
  ): void {
    let wrote = false;
    const state: ChangelogSink['state'] = (key, kind, json) => {
      wrote = true;
      sink.state(key, kind, json);
    };
    const tombstone = (key: string): void => {
      wrote = true;
      sink.tombstone(key);
    };
    this.writeCustomers(p, out, state, tombstone);
    for (const seq of out.recentEvents.expired) tombstone(RECENT_KEY_PREFIX + seq);
    for (const { seq, ...record } of out.recentEvents.records)
      state(RECENT_KEY_PREFIX + seq, 'partition', JSON.stringify(record));
    for (const [id, fed] of out.fedChanged) {
      if (fed) state(FED_KEY_PREFIX + id, 'partition', '{}');
      else tombstone(FED_KEY_PREFIX + id);
    }
    const { held, arrived, ...checkpoint } = p.checkpoint({ pending: false });
    this.writeArrived(arrived ?? [], state, tombstone);
    this.writeHeld(held ?? [], state, tombstone);
    const signature = this.writePending(p, checkpoint, out, state, tombstone);
    // The partition's record only when it changed: an idle partition would otherwise append the same record
    // to the changelog at every idle flush, forever. Serialized once, for the comparison and the record.
    if (others || wrote || this.lastCheckpoint !== signature) {
      this.lastCheckpoint = signature;
      sink.state(PARTITION_KEY, 'partition', signature);
    }
  }

  private writeCustomers(
    p: PartitionLifecycle,
    out: Omit<PartitionOutput, 'stageChanges' | 'messages'>,
    state: ChangelogSink['state'],
    tombstone: (key: string) => void,
  ): void {
    // A forget: every record keyed by an erased id goes (a format 7 redirect or claim too), but the state of
    // a customer it only took an id from (forget.ts). First, so that what the batch did after it stands. The
    // person's buffered items, held records and early handoffs go with the lists they left (below).
    for (const id of out.erased) {
      tombstone(REDIRECT_KEY_PREFIX + id);
      tombstone(CLAIM_KEY_PREFIX + id);
      if (p.customers.has(id)) continue;
      this.archivesWritten.delete(id);
      tombstone(id);
      tombstone(APPLIED_KEY_PREFIX + id);
    }
    for (const id of out.changed) {
      const s = p.customers.get(id);
      if (!s) continue;
      state(id, 'customer', changelogJson(s));
      const archive = s.appliedArchive;
      if (archive !== undefined && archive !== this.archivesWritten.get(id)) {
        this.archivesWritten.set(id, archive);
        state(APPLIED_KEY_PREFIX + id, 'customer', archive);
      }
    }
    for (const id of out.removed.keys()) {
      if (this.archivesWritten.delete(id)) tombstone(APPLIED_KEY_PREFIX + id);
      tombstone(id);
    }
    for (const [id, into] of out.redirected)
      state(REDIRECT_KEY_PREFIX + id, 'redirect', JSON.stringify({ into }));
    for (const pseudonym of out.forgotten) state(FORGOTTEN_KEY_PREFIX + pseudonym, 'partition', '{}');
  }

  /**
   * Early handoffs (each holds a whole profile): written once, as they do not change (but for a forget taking
   * the person's ids out of one); a tombstone once used.
   */
  private writeArrived(
    arrived: readonly ProfileHandoff[],
    state: ChangelogSink['state'],
    tombstone: (key: string) => void,
  ): void {
    const now = new Set<string>();
    for (const h of arrived) {
      now.add(h.linkEventId);
      const written = this.arrivedWritten.get(h.linkEventId);
      if (written === h || (written === undefined && this.arrivedWritten.has(h.linkEventId))) continue;
      this.arrivedWritten.set(h.linkEventId, h);
      state(ARRIVED_KEY_PREFIX + h.linkEventId, 'partition', JSON.stringify(h));
    }
    for (const id of this.arrivedWritten.keys()) {
      if (now.has(id)) continue;
      this.arrivedWritten.delete(id);
      tombstone(ARRIVED_KEY_PREFIX + id);
    }
  }

  /**
   * Held customers: a record with the link and the first items queued (HELD_INLINE, rewritten while the
   * queue is that short, as most are), and past them one record per item, each written once (the queue only
   * grows while the customer waits; a new link replaces the entry and its queue). Tombstones once released.
   */
  private writeHeld(
    held: readonly HeldCustomer[],
    state: ChangelogSink['state'],
    tombstone: (key: string) => void,
  ): void {
    const written = this.heldWritten;
    const current = new Set<string>();
    const itemRecord = (h: HeldCustomer, place: number): void =>
      state(heldItemKey(h.id, place), 'partition', JSON.stringify(h.queue[place]));
    for (const h of held) {
      current.add(h.id);
      const before = written.get(h.id);
      const same = before !== undefined && before.entry === h && before.linkEventId === h.linkEventId;
      if (same && before.length === h.queue.length) continue;
      const length = h.queue.length;
      let inline = same ? before.inline : 0;
      let from = same ? before.length : 0; // the first place written as a record of its own
      if (!same || before.inline === before.length) {
        // As many of the first items as fit; rewritten while more fit than it holds.
        const parts: string[] = [];
        let bytes = 0;
        for (let place = 0; place < length && place < HELD_INLINE; place++) {
          const json = JSON.stringify(h.queue[place]);
          if (place > 0 && bytes + json.length > HELD_INLINE_BYTES) break;
          parts.push(json);
          bytes += json.length;
        }
        if (!same || parts.length > before.inline) {
          inline = from = parts.length;
          state(
            HELD_KEY_PREFIX + h.id,
            'partition',
            `{"id":${JSON.stringify(h.id)},"linkEventId":${JSON.stringify(h.linkEventId)},"queue":[${parts.join(',')}]}`,
          );
        }
      }
      for (let place = from; place < length; place++) itemRecord(h, place);
      // A new link's entry: the last one's item records that this one does not overwrite are gone.
      if (before !== undefined && !same)
        for (let place = before.inline; place < before.length; place++)
          if (place < inline || place >= length) tombstone(heldItemKey(h.id, place));
      written.set(h.id, versionOf(h, inline));
    }
    for (const [id, version] of written) {
      if (current.has(id)) continue;
      written.delete(id);
      tombstone(HELD_KEY_PREFIX + id);
      for (let place = version.inline; place < version.length; place++) tombstone(heldItemKey(id, place));
    }
  }

  /**
   * The reorder buffer: in the partition's record while that stays small (pendingInlineBytes), each item a
   * record of its own otherwise. Removals first, as an item can leave and another with its key (the same
   * event, delivered again) enter within one batch. Returns the partition's record.
   */
  private writePending(
    p: PartitionLifecycle,
    checkpoint: object,
    out: Pick<PartitionOutput, 'pendingEntered' | 'pendingLeft'>,
    state: ChangelogSink['state'],
    tombstone: (key: string) => void,
  ): string {
    const written = this.pendingWritten;
    for (const item of out.pendingLeft) if (written.delete(item)) tombstone(pendingKeyOf(item));
    const wasInRecords = this.pendingInRecords;
    let signature: string | undefined;
    let buffered: BufferedItem[] | undefined; // in order, taken once: only when it may be inline or just left it
    if (!wasInRecords || p.bufferedItems <= PENDING_INLINE_MIN) {
      buffered = p.bufferedInOrder();
      const inline = JSON.stringify({ ...checkpoint, pending: buffered });
      if (inline.length <= (wasInRecords ? this.pendingInlineBytes / 4 : this.pendingInlineBytes))
        signature = inline;
    }
    if (signature !== undefined) {
      this.pendingInRecords = false;
      for (const item of written) tombstone(pendingKeyOf(item));
      written.clear();
      return signature;
    }
    this.pendingInRecords = true;
    // Once it grew past the limit (or after a restore), every item not yet written; then the new ones.
    const unwritten = wasInRecords ? out.pendingEntered : (buffered ?? p.bufferedInOrder());
    for (const item of unwritten) {
      if (written.has(item)) continue;
      written.add(item);
      state(pendingKeyOf(item), 'partition', JSON.stringify(item));
    }
    return JSON.stringify(checkpoint);
  }
}
