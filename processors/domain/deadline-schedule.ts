/**
 * When each customer's next inactivity deadline falls (rules.ts `deadlineAt`), in one heap for the
 * partition, so that firing every deadline up to the clock costs a heap pop per deadline, not a scan of the
 * customers. A customer is pushed again only when its deadline moves; entries its later activity made stale
 * stay in the heap and are skipped when they come up (`due` returns them; the caller checks).
 */
import type { CustomerState } from './customer';
import { DeadlineHeap } from './heap';

export class DeadlineSchedule {
  private readonly heap = new DeadlineHeap();
  /** Deadlines in the heap, per customer: push only when it changes. */
  private readonly scheduled = new Map<string, number>();

  constructor(private readonly deadlineAt: (s: CustomerState) => number | undefined) {}

  /** Schedules the customer's current deadline, if it has one that is not in the heap already. */
  schedule(s: CustomerState): void {
    const at = this.deadlineAt(s);
    if (at === undefined || this.scheduled.get(s.id) === at) return;
    this.scheduled.set(s.id, at);
    this.heap.push(at, s.id);
  }

  /** The customer's entries are to be ignored until it is scheduled again (it left, or waits elsewhere). */
  forget(id: string): void {
    this.scheduled.delete(id);
  }

  /** Takes out the earliest entry due at `limit`: its customer and time (possibly stale), else undefined. */
  takeDue(limit: number): { readonly id: string; readonly at: number } | undefined {
    const at = this.heap.peekAt();
    if (at === undefined || at > limit) return undefined;
    const id = this.heap.peekId()!;
    this.heap.pop();
    // The heap no longer holds this deadline: forget it was scheduled, or a customer whose deadline comes
    // back to this very value (it left for a stage without one, and returned) would never be pushed again.
    if (this.scheduled.get(id) === at) this.scheduled.delete(id);
    return { id, at };
  }
}
