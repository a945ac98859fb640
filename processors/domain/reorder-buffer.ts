/**
 * A reorder buffer: a partition's input waiting for its clock (lanes.ts) to pass their event time, or the
 * items of customers fed from elsewhere waiting for the other partitions' progress (identity.ts). Items leave in (occurredAt,
 * eventId) order, the order of the truth (schemas/lanes.ts `byEventTime`), whatever order they came in.
 *
 * It also tracks what entered and left since the runtime last asked, which is what the changelog's records
 * of a large buffer add and remove (processors/runtime/changelog).
 */
import { byEventTime } from '../../schemas/lanes';
import type { Touchpoint } from '../../schemas/touchpoint';
import { fnv1a } from './applied-archive';
import { MinHeap } from '../../infra/min-heap';

/** What a reorder buffer orders: anything with an event time and an event id. */
export interface Timed {
  readonly eventId: string;
  readonly occurredAt: number;
}

/** What the input's reorder buffer holds: touchpoints (links included) waiting for the clock. */
export type PendingItem = Touchpoint;

export class ReorderBuffer<Item extends Timed = PendingItem> {
  private readonly NO_ITEMS: Item[] = [];
  private heap = new MinHeap<Item>(byEventTime);
  /**
   * The FNV-1a hashes of the buffered items' event ids: a touchpoint delivered twice is found here before it
   * is buffered twice. A hash collision takes a distinct
   * event for a duplicate: 2^-32 per pair, as customer.ts accepts for applied ids.
   */
  private readonly ids = new Set<number>();
  /** Items buffered since the last takeChanges() and still buffered. */
  private entered = new Set<Item>();
  /** Items buffered before the last takeChanges(), or restored, that have left since. */
  private left: Item[] = this.NO_ITEMS;

  /** Restored items: they have records already, so they are not `entered`. */
  restore(items: Iterable<Item>): void {
    for (const item of items) {
      this.heap.push(item);
      this.ids.add(fnv1a(item.eventId));
    }
  }

  get size(): number {
    return this.heap.size;
  }

  /** The items in the order they will leave. */
  inOrder(): Item[] {
    return this.heap.toSortedArray();
  }

  /** Whether an item with this event id is buffered (`hash`: its FNV-1a hash, if known). */
  holds(eventId: string, hash?: number): boolean {
    return this.ids.size > 0 && this.ids.has(hash ?? fnv1a(eventId));
  }

  /** `hash`: the FNV-1a hash of its event id, if the caller has it already. */
  push(item: Item, hash: number = fnv1a(item.eventId)): void {
    this.heap.push(item);
    this.ids.add(hash);
    this.entered.add(item);
  }

  /** Takes out the next item, if it is due at `limit` (event time), else undefined. */
  takeDue(limit: number): Item | undefined {
    const next = this.heap.peek();
    if (next === undefined || next.occurredAt > limit) return undefined;
    this.heap.pop();
    this.ids.delete(fnv1a(next.eventId));
    // Out of the buffer: its changelog record goes, if it was written (it outlived a takeChanges()).
    if (this.entered.size === 0 || !this.entered.delete(next)) {
      if (this.left === this.NO_ITEMS) this.left = [];
      this.left.push(next);
    }
    return next;
  }

  /**
   * Takes out every item `drop` picks, whatever its time (a forget, forget.ts), and returns them. They leave
   * as applied items do: the changelog records of those that have any go.
   */
  removeWhere(drop: (item: Item) => boolean): Item[] {
    const dropped: Item[] = [];
    if (this.heap.size === 0) return dropped;
    const kept = new MinHeap<Item>(byEventTime);
    for (const item of this.heap.toSortedArray()) {
      if (!drop(item)) {
        kept.push(item);
        continue;
      }
      dropped.push(item);
      this.ids.delete(fnv1a(item.eventId));
      if (this.entered.size === 0 || !this.entered.delete(item)) {
        if (this.left === this.NO_ITEMS) this.left = [];
        this.left.push(item);
      }
    }
    if (dropped.length > 0) this.heap = kept;
    return dropped;
  }

  /** What entered (and is still here) and what left since the last call. */
  takeChanges(): { entered: readonly Item[]; left: readonly Item[] } {
    const changes = { entered: this.entered.size > 0 ? [...this.entered] : this.NO_ITEMS, left: this.left };
    if (this.entered.size > 0) this.entered = new Set();
    if (this.left.length > 0) this.left = this.NO_ITEMS;
    return changes;
  }
}
