/**
 * The lifecycle of one partition's customers, by event time. Touchpoints are held in a reorder buffer
 * until the partition's watermark (the highest event time seen) passes their time plus the grace period,
 * then applied in (occurredAt, eventId) order; before a customer's touchpoint is applied, that customer's
 * inactivity deadlines up to its time fire first. So input shuffled within the grace period yields exactly
 * the same stage changes as sorted input. A touchpoint older than what its customer already had applied
 * is applied at once, deterministically, and counted as late.
 *
 * Pure: time comes from the touchpoints; the runtime persists `checkpoint()` and restores from it.
 */
import type { StageChanged } from '../../schemas/outputs';
import type { Touchpoint } from '../../schemas/touchpoint';
import { evolve, fnv1a, hasApplied, initialState, mergeInto, type CustomerState } from './customer';
import { MinHeap } from './heap';
import type { StageModel } from './model';
import { changeStage, decideOnEvent, inactivityReason, nextInactivityDeadline, ruleReason } from './rules';

export interface PartitionOptions {
  /** How long (event time) to wait for out-of-order touchpoints before applying one. */
  readonly gracePeriodMs: number;
}

export type IngestOutcome = 'accepted' | 'duplicate' | 'ignored';

export interface PartitionCounters {
  accepted: number;
  applied: number;
  duplicates: number;
  ignored: number;
  late: number;
  merges: number;
  stageChanges: number;
}

export interface PartitionCheckpoint {
  readonly watermark: number;
  readonly pending: readonly Touchpoint[];
}

export interface PartitionOutput {
  readonly stageChanges: StageChanged[];
  /** Customers whose state changed since the last takeOutput(). */
  readonly changed: ReadonlySet<string>;
  /** Profiles folded into another customer: their own state is gone. */
  readonly removed: ReadonlySet<string>;
}

const byEventTime = (a: Touchpoint, b: Touchpoint): number =>
  a.occurredAt - b.occurredAt || (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0);

export class PartitionLifecycle {
  readonly customers = new Map<string, CustomerState>();
  readonly counters: PartitionCounters = {
    accepted: 0,
    applied: 0,
    duplicates: 0,
    ignored: 0,
    late: 0,
    merges: 0,
    stageChanges: 0,
  };
  private readonly aliases = new Map<string, string>();
  private readonly pending = new MinHeap<Touchpoint>(byEventTime);
  private readonly pendingIds = new Set<number>();
  private readonly deadlines = new MinHeap<{ at: number; id: string }>(
    (a, b) => a.at - b.at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
  private watermarkMs = -Infinity;
  private stageChanges: StageChanged[] = [];
  private changed = new Set<string>();
  private removed = new Set<string>();

  constructor(
    readonly model: StageModel,
    readonly options: PartitionOptions,
    restored?: { checkpoint?: PartitionCheckpoint; customers?: Iterable<CustomerState> },
  ) {
    for (const s of restored?.customers ?? []) {
      this.customers.set(s.id, s);
      for (const id of s.mergedIds) this.aliases.set(id, s.id);
      this.schedule(s);
    }
    if (restored?.checkpoint) {
      this.watermarkMs = restored.checkpoint.watermark;
      for (const tp of restored.checkpoint.pending) {
        this.pending.push(tp);
        this.pendingIds.add(fnv1a(tp.eventId));
      }
    }
  }

  get watermark(): number {
    return this.watermarkMs;
  }

  /** Accepts a touchpoint and applies whatever the watermark now allows. */
  ingest(tp: Touchpoint): IngestOutcome {
    const key = tp.customerId ?? tp.anonymousId;
    if (key === undefined) {
      this.counters.ignored += 1; // business-level facts (marketing spend) have no customer to fold into
      return 'ignored';
    }
    const hash = fnv1a(tp.eventId);
    const owner = this.customers.get(this.resolve(key));
    // A duplicate carries its original's event time: anything newer than what was applied cannot be one.
    if (
      this.pendingIds.has(hash) ||
      (owner && tp.occurredAt <= owner.lastAppliedAt && hasApplied(owner, tp.eventId))
    ) {
      this.counters.duplicates += 1;
      return 'duplicate';
    }
    this.counters.accepted += 1;
    this.pending.push(tp);
    this.pendingIds.add(hash);
    if (tp.occurredAt > this.watermarkMs) this.watermarkMs = tp.occurredAt;
    this.drain(this.watermarkMs - this.options.gracePeriodMs, this.watermarkMs - this.options.gracePeriodMs);
    return 'accepted';
  }

  /** Applies every buffered touchpoint and fires deadlines up to the watermark (end of input, or idle). */
  flush(): void {
    this.drain(Infinity, this.watermarkMs);
  }

  /** The stage changes and changed customers since the last call. */
  takeOutput(): PartitionOutput {
    const out = { stageChanges: this.stageChanges, changed: this.changed, removed: this.removed };
    this.stageChanges = [];
    this.changed = new Set();
    this.removed = new Set();
    return out;
  }

  checkpoint(): PartitionCheckpoint {
    return { watermark: this.watermarkMs, pending: this.pending.toSortedArray() };
  }

  /** Sets P(alive) from a CLV fit; rules may use it on the customer's next touchpoint. */
  setProbabilityAlive(customerId: string, value: number): void {
    const s = this.customers.get(this.resolve(customerId));
    if (s) {
      s.probabilityAlive = value;
      this.changed.add(s.id);
    }
  }

  private resolve(id: string): string {
    return this.aliases.get(id) ?? id;
  }

  private drain(eventLimit: number, deadlineLimit: number): void {
    for (let next = this.pending.peek(); next && next.occurredAt <= eventLimit; next = this.pending.peek()) {
      this.pending.pop();
      this.pendingIds.delete(fnv1a(next.eventId));
      this.apply(next);
    }
    this.fireDeadlines(deadlineLimit);
  }

  private fireDeadlines(limit: number): void {
    for (let next = this.deadlines.peek(); next && next.at <= limit; next = this.deadlines.peek()) {
      this.deadlines.pop();
      const s = this.customers.get(next.id);
      if (!s) continue;
      const due = nextInactivityDeadline(this.model, s);
      if (!due || due.at !== next.at) continue; // stale: the customer did something since
      this.fireCustomerDeadlines(s, limit);
    }
  }

  /** Fires this customer's inactivity changes due at or before `until`, in order. */
  private fireCustomerDeadlines(s: CustomerState, until: number): void {
    for (
      let due = nextInactivityDeadline(this.model, s);
      due && due.at <= until;
      due = nextInactivityDeadline(this.model, s)
    ) {
      this.emit(
        changeStage(s, this.model, due.rule.to, due.rule.id, due.at, [], inactivityReason(due, this.model)),
      );
      this.changed.add(s.id);
    }
    this.schedule(s);
  }

  /** Deadlines already in the heap, per customer: push only when it changes (stale entries are skipped). */
  private readonly scheduled = new Map<string, number>();

  private schedule(s: CustomerState): void {
    const due = nextInactivityDeadline(this.model, s);
    if (!due || this.scheduled.get(s.id) === due.at) return;
    this.scheduled.set(s.id, due.at);
    this.deadlines.push({ at: due.at, id: s.id });
  }

  private emit(change: StageChanged): void {
    this.stageChanges.push(change);
    this.counters.stageChanges += 1;
  }

  private apply(tp: Touchpoint): void {
    const id = this.resolve((tp.customerId ?? tp.anonymousId)!);
    let s = this.customers.get(id);
    if (s && tp.occurredAt <= s.lastAppliedAt && hasApplied(s, tp.eventId)) {
      this.counters.duplicates += 1;
      return;
    }
    const isNew = s === undefined;
    if (s) {
      if (tp.occurredAt < s.lastAppliedAt) this.counters.late += 1;
      else this.fireCustomerDeadlines(s, tp.occurredAt);
    } else {
      s = initialState(id, this.model.initialStage, tp.occurredAt);
      this.customers.set(id, s);
    }

    // Identity: an anonymous id or a previous customer id that now belongs to this customer.
    const linked =
      tp.type === 'Aliased'
        ? tp.payload.previousId
        : tp.customerId && tp.anonymousId
          ? tp.anonymousId
          : undefined;
    let adopted: CustomerState | undefined;
    if (linked && linked !== id) {
      const other = this.customers.get(this.resolve(linked));
      if (other && other !== s) {
        mergeInto(s, other);
        this.customers.delete(other.id);
        this.removed.add(other.id);
        this.counters.merges += 1;
        // The absorbed profile's own merged ids are exactly the aliases that pointed at it.
        for (const alias of other.mergedIds) this.aliases.set(alias, id);
        this.aliases.set(other.id, id);
        if (isNew) adopted = other;
      }
      this.aliases.set(linked, id);
    }

    evolve(s, tp);
    this.counters.applied += 1;
    this.changed.add(id);

    if (isNew) {
      // A new customer enters the initial stage, or the stage of the profile it absorbed.
      const stage = adopted?.stage ?? this.model.initialStage;
      this.emit(
        changeStage(
          s,
          this.model,
          stage,
          adopted ? 'identity-merge' : 'first-touch',
          tp.occurredAt,
          [tp.eventId],
          adopted ? `merged ${adopted.id}` : 'first touchpoint',
        ),
      );
    }
    const rule = decideOnEvent(this.model, s, tp.type);
    if (rule)
      this.emit(changeStage(s, this.model, rule.to, rule.id, tp.occurredAt, [tp.eventId], ruleReason(rule)));
    this.schedule(s);
  }
}
