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
import {
  evolve,
  fnv1a,
  hasApplied,
  initialState,
  mergeInto,
  restoredState,
  type CustomerState,
} from './customer';
import { DeadlineHeap, MinHeap } from './heap';
import type { StageModel } from './model';
import {
  enterStage,
  inactivityReason,
  ruleIndexOf,
  ruleReason,
  stageChanged,
  type InactivityDeadline,
  type RuleIndex,
} from './rules';

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

/**
 * Stage changes since the last takeOutput(), kept as columns and made into StageChanged records only when
 * taken. A partition can emit many changes between takes (a whole batch, or a replay); a few flat arrays
 * cost the garbage collector far less than as many records, each with its id string and arrays.
 */
class StageChangeColumns {
  private readonly customerIds: string[] = [];
  private readonly sequences: number[] = [];
  private readonly fromStages: (string | undefined)[] = [];
  private readonly toStages: string[] = [];
  private readonly ruleIds: string[] = [];
  private readonly occurredAts: number[] = [];
  /** The triggering touchpoint's id; undefined for an inactivity change, which none triggered. */
  private readonly triggers: (string | undefined)[] = [];
  /** The reason, or the inactivity deadline it is worded from (only if it is ever taken). */
  private readonly reasons: (string | InactivityDeadline)[] = [];

  /** Moves the customer to `to` (in place) and records the change. */
  record(
    s: CustomerState,
    to: string,
    ruleId: string,
    at: number,
    trigger: string | undefined,
    reason: string | InactivityDeadline,
  ): void {
    this.fromStages.push(s.sequence === 0 ? undefined : s.stage);
    enterStage(s, to, ruleId, at);
    this.customerIds.push(s.id);
    this.sequences.push(s.sequence);
    this.toStages.push(to);
    this.ruleIds.push(ruleId);
    this.occurredAts.push(at);
    this.triggers.push(trigger);
    this.reasons.push(reason);
  }

  /** The recorded changes, in order, as StageChanged records; the columns start over. */
  take(model: StageModel): StageChanged[] {
    const n = this.customerIds.length;
    const out: StageChanged[] = [];
    for (let i = 0; i < n; i++) {
      const trigger = this.triggers[i];
      const reason = this.reasons[i]!;
      out.push(
        stageChanged(
          model,
          this.customerIds[i]!,
          this.sequences[i]!,
          this.fromStages[i],
          this.toStages[i]!,
          this.ruleIds[i]!,
          this.occurredAts[i]!,
          trigger === undefined ? [] : [trigger],
          typeof reason === 'string' ? reason : inactivityReason(reason, model),
        ),
      );
    }
    if (n > 0) {
      this.customerIds.length = 0;
      this.sequences.length = 0;
      this.fromStages.length = 0;
      this.toStages.length = 0;
      this.ruleIds.length = 0;
      this.occurredAts.length = 0;
      this.triggers.length = 0;
      this.reasons.length = 0;
    }
    return out;
  }
}

/**
 * Other ids -> the customer they now belong to, with a bitmap of their hashes in front: most touchpoints
 * carry an id that is no alias, and one bit (a cache hit) says so more cheaply than a miss in a large map.
 * A set bit only means "maybe": then the map decides.
 */
class Aliases {
  private readonly map = new Map<string, string>();
  private bits = new Uint32Array(1 << 11);

  get(id: string): string | undefined {
    const h = fnv1a(id) & (this.bits.length * 32 - 1);
    return (this.bits[h >>> 5]! & (1 << (h & 31))) === 0 ? undefined : this.map.get(id);
  }

  set(id: string, to: string): void {
    this.map.set(id, to);
    // Keep at most about one bit in 16 set, so that a "maybe" stays rare.
    if (this.map.size * 16 > this.bits.length * 32) {
      this.bits = new Uint32Array(this.bits.length * 4);
      for (const key of this.map.keys()) this.mark(key);
    } else this.mark(id);
  }

  private mark(id: string): void {
    const h = fnv1a(id) & (this.bits.length * 32 - 1);
    this.bits[h >>> 5]! |= 1 << (h & 31);
  }
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
  private readonly aliases = new Aliases();
  private readonly pending = new MinHeap<Touchpoint>(byEventTime);
  private readonly pendingIds = new Set<number>();
  private readonly deadlines = new DeadlineHeap();
  private readonly rules: RuleIndex;
  private watermarkMs = -Infinity;
  private readonly stageChanges = new StageChangeColumns();
  private changed = new Set<string>();
  private removed = new Set<string>();

  constructor(
    readonly model: StageModel,
    readonly options: PartitionOptions,
    restored?: { checkpoint?: PartitionCheckpoint; customers?: Iterable<CustomerState> },
  ) {
    this.rules = ruleIndexOf(model);
    for (const json of restored?.customers ?? []) {
      const s = restoredState(json);
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
    const id = this.resolve(key);
    const owner = this.customers.get(id);
    // A duplicate carries its original's event time: anything newer than what was applied cannot be one.
    if (
      (this.pendingIds.size > 0 && this.pendingIds.has(fnv1a(tp.eventId))) ||
      (owner !== undefined && tp.occurredAt <= owner.lastAppliedAt && hasApplied(owner, tp.eventId))
    ) {
      this.counters.duplicates += 1;
      return 'duplicate';
    }
    this.counters.accepted += 1;
    if (tp.occurredAt > this.watermarkMs) this.watermarkMs = tp.occurredAt;
    const limit = this.watermarkMs - this.options.gracePeriodMs;
    if (this.pending.size === 0 && tp.occurredAt <= limit) {
      // Nothing is buffered and this touchpoint is due: buffering it would pop it straight back out (the
      // usual case with grace 0 and in-order input), so apply it directly, to the owner found above.
      this.applyTo(tp, id, owner);
      this.fireDeadlines(limit);
      return 'accepted';
    }
    this.pending.push(tp);
    this.pendingIds.add(fnv1a(tp.eventId));
    this.drain(limit, limit);
    return 'accepted';
  }

  /** Applies every buffered touchpoint and fires deadlines up to the watermark (end of input, or idle). */
  flush(): void {
    this.drain(Infinity, this.watermarkMs);
  }

  /** The stage changes and changed customers since the last call. */
  takeOutput(): PartitionOutput {
    const out = {
      stageChanges: this.stageChanges.take(this.model),
      changed: this.changed,
      removed: this.removed,
    };
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
    for (let at = this.deadlines.peekAt(); at !== undefined && at <= limit; at = this.deadlines.peekAt()) {
      const s = this.customers.get(this.deadlines.peekId()!);
      this.deadlines.pop();
      if (!s) continue;
      if (this.rules.deadlineAt(s) !== at) continue; // stale: the customer did something since
      this.fireCustomerDeadlines(s, limit);
    }
  }

  /** Fires this customer's inactivity changes due at or before `until`, in order. */
  private fireCustomerDeadlines(s: CustomerState, until: number): void {
    let fired = false;
    for (let at = this.rules.deadlineAt(s); at !== undefined && at <= until; at = this.rules.deadlineAt(s)) {
      const due = this.rules.nextInactivityDeadline(s)!;
      this.emit(s, due.rule.to, due.rule.id, due.at, undefined, due);
      this.changed.add(s.id);
      fired = true;
    }
    // Every change to a state ends with schedule(), except setProbabilityAlive(): unless a deadline fired
    // here, or P(alive) can move a deadline, scheduling again would find the same deadline and do nothing.
    if (fired || this.rules.inactivityReadsPAlive) this.schedule(s);
  }

  /** Deadlines already in the heap, per customer: push only when it changes (stale entries are skipped). */
  private readonly scheduled = new Map<string, number>();

  private schedule(s: CustomerState): void {
    const at = this.rules.deadlineAt(s);
    if (at === undefined || this.scheduled.get(s.id) === at) return;
    this.scheduled.set(s.id, at);
    this.deadlines.push(at, s.id);
  }

  private emit(
    s: CustomerState,
    to: string,
    ruleId: string,
    at: number,
    trigger: string | undefined,
    reason: string | InactivityDeadline,
  ): void {
    this.stageChanges.record(s, to, ruleId, at, trigger, reason);
    this.counters.stageChanges += 1;
  }

  private apply(tp: Touchpoint): void {
    const id = this.resolve((tp.customerId ?? tp.anonymousId)!);
    const s = this.customers.get(id);
    if (s && tp.occurredAt <= s.lastAppliedAt && hasApplied(s, tp.eventId)) {
      this.counters.duplicates += 1;
      return;
    }
    this.applyTo(tp, id, s);
  }

  /** Applies a touchpoint that is not a duplicate to customer `id`, whose current state is `s` if known. */
  private applyTo(tp: Touchpoint, id: string, s: CustomerState | undefined): void {
    if (s === undefined && tp.type === 'ClvPredicted') {
      this.counters.ignored += 1; // a score creates no customer (one that was merged away, or unknown here)
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
        s,
        stage,
        adopted ? 'identity-merge' : 'first-touch',
        tp.occurredAt,
        tp.eventId,
        adopted ? `merged ${adopted.id}` : 'first touchpoint',
      );
    }
    const rule = this.rules.decideOnEvent(s, tp.type);
    if (rule) this.emit(s, rule.to, rule.id, tp.occurredAt, tp.eventId, ruleReason(rule));
    this.schedule(s);
  }
}
