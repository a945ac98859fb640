/**
 * The lifecycle of one partition's customers, by event time. Touchpoints are held in a reorder buffer
 * until the partition's clock (lanes.ts: the lowest watermark of its sources, live traffic less the grace
 * period and each open import run) passes their time, then applied in (occurredAt, eventId) order; before a
 * customer's touchpoint is applied, that customer's inactivity deadlines up to its time fire first. So live
 * input shuffled within the grace period, and imports in any order next to it, yield exactly the stage
 * changes of the sorted input. A touchpoint older than what its customer already had applied (or than an
 * inactivity change that fired for it) is applied at once, deterministically, and counted as late by reason.
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
import { boundEventTime } from './event-time';
import { DeadlineSchedule } from './deadline-schedule';
import {
  addresseeOf,
  linkedIdOf,
  MAX_FORWARD_HOPS,
  type ForwardedTouchpoint,
  type IdentityClaim,
  type IdentityMessage,
  type PartitionRoute,
  type ProfileHandoff,
} from './identity';
import { IdentityProtocol, claimIdOf } from './identity-protocol';
import { Lanes, type LanesCheckpoint } from './lanes';
import type { AppliedClaim } from './link-claims';
import { StageChangeColumns } from './stage-changes';
import type { StageModel } from './model';
import { ReorderBuffer, type PendingItem } from './reorder-buffer';
import { ruleIndexOf, ruleReason, type InactivityDeadline, type RuleIndex } from './rules';

export interface PartitionOptions {
  /** How long (event time) to wait for out-of-order touchpoints before applying one. */
  readonly gracePeriodMs: number;
  /**
   * Which partition this is, for identity links whose ids live elsewhere (identity.ts). Without it, every id
   * lives here: one partition holds every customer.
   */
  readonly route?: PartitionRoute;
  /**
   * How long an import lane may carry no record here, by the Kafka timestamps of the records that come,
   * before it is closed as abandoned (lanes.ts `expire`). Without it, only its close marker closes it.
   */
  readonly laneLeaseMs?: number;
}

export { emptyCounters, type PartitionCounters } from './partition-counters';

export type IngestOutcome = 'accepted' | 'duplicate' | 'ignored';

/** Where a record came from: its lane (schemas/lanes.ts; undefined: live) and its Kafka record timestamp. */
export interface RecordSource {
  readonly lane?: string | undefined;
  /**
   * The record's timestamp (Kafka's, or a touchpoint's receivedAt where there is no record): no event time
   * runs ahead of it by more than EVENT_TIME_AHEAD_TOLERANCE_MS (event-time.ts).
   */
  readonly recordTimestamp?: number | undefined;
}

/** A lane opened or closed on this partition (schemas/lanes.ts). */
export type LaneMarker =
  | { readonly kind: 'open'; readonly lane: string; readonly startsAt: number }
  | { readonly kind: 'close'; readonly lane: string };

export type HeldItem =
  | { readonly tp: Touchpoint; readonly deadlinesBefore: number }
  | { readonly claim: IdentityClaim; readonly deadlinesBefore: number };

/** A customer waiting for a handoff: the linking touchpoint first, then whatever came for it since. */
export interface HeldCustomer {
  readonly id: string;
  readonly linkEventId: string;
  /**
   * Each touchpoint, or a claim on this very customer (it is handed on once complete) or a conflict's notice
   * about an id it lists or gains, with the deadline limit reached before it was queued: what would have
   * fired between them had it not waited.
   */
  readonly queue: HeldItem[];
}

export interface PartitionCheckpoint {
  /** The newest event time of any lane (before lanes, format 6 and older: the one watermark). */
  readonly watermark: number;
  /** The lanes' progress (format 7); absent in older checkpoints, whose watermark is the live lane's. */
  readonly lanes?: LanesCheckpoint;
  /**
   * The reorder buffer. Left out where the runtime keeps each item as a record of its own (`checkpoint({
   * pending: false })`, PartitionOutput.pendingEntered): with a long grace period the buffer holds minutes of
   * input, more than one record can carry, and rewriting it whole at every batch cost time in proportion to it.
   */
  readonly pending?: readonly PendingItem[];
  /** Absent in checkpoints written before identity links crossed partitions. */
  readonly held?: readonly HeldCustomer[];
  /** Handoffs that came before their link was applied here. */
  readonly arrived?: readonly ProfileHandoff[];
  readonly deadlineLimit?: number;
}

export interface PartitionOutput {
  readonly stageChanges: StageChanged[];
  /** Customers whose state changed since the last takeOutput(). */
  readonly changed: ReadonlySet<string>;
  /** Profiles folded into another customer (their own state is gone), with their last sequence. */
  readonly removed: ReadonlyMap<string, number>;
  /** Ids that now belong to a customer: what the changelog keeps for them instead of a state. */
  readonly redirected: ReadonlyMap<string, string>;
  /** Claims, handoffs and forwards for other partitions, in the order they were made. */
  readonly messages: IdentityMessage[];
  /**
   * Source ids whose first claim (`AppliedClaim`) was remembered or forgotten since the last takeOutput():
   * what the changelog keeps of links between their two claims, so that a restore decides the second claim
   * as the running partition would have (null: forgotten).
   */
  readonly claims: ReadonlyMap<string, AppliedClaim | null>;
  /** Items that entered the reorder buffer since the last takeOutput() and are still in it. */
  readonly pendingEntered: readonly PendingItem[];
  /**
   * Items that were in the reorder buffer at the last takeOutput() (or came with the restore) and have left
   * it since, applied or passed on: with `pendingEntered`, what the buffer's changelog records add and remove.
   */
  readonly pendingLeft: readonly PendingItem[];
}

const isTouchpoint = (item: PendingItem): item is Touchpoint =>
  (item as { kind?: string }).kind === undefined;

const NO_MESSAGES: IdentityMessage[] = [];

export class PartitionLifecycle extends IdentityProtocol {
  private readonly pending = new ReorderBuffer();
  private readonly deadlines: DeadlineSchedule;
  private readonly rules: RuleIndex;
  private lanes: Lanes;
  private readonly stageChanges = new StageChangeColumns();
  private messages: IdentityMessage[] = NO_MESSAGES;
  /** Messages this partition sent to itself, handled before its next touchpoint. */
  private readonly inbox: IdentityMessage[] = [];

  constructor(
    readonly model: StageModel,
    options: PartitionOptions,
    restored?: {
      checkpoint?: PartitionCheckpoint;
      customers?: Iterable<CustomerState>;
      /** Ids that belong to another customer (id -> customer), restored after the customers' own. */
      redirects?: Iterable<readonly [string, string]>;
      /** When claims or notices re-pointed ids (`redirectTimeOf`). */
      redirectTimes?: Iterable<readonly [string, number]>;
      /** First claims of links whose other claim has not come (`PartitionOutput.claims`), oldest first. */
      claims?: Iterable<readonly [string, AppliedClaim]>;
    },
  ) {
    super(options);
    this.rules = ruleIndexOf(model);
    this.deadlines = new DeadlineSchedule((s) => this.rules.deadlineAt(s));
    this.lanes = new Lanes(options.gracePeriodMs);
    for (const json of restored?.customers ?? []) {
      const s = restoredState(json);
      this.customers.set(s.id, s);
      this.schedule(s);
    }
    // The ids a customer lists lead to it, unless the changelog says otherwise: an id that is a customer of
    // its own, or whose redirect record (written whenever an id is re-pointed) names another customer.
    for (const s of this.customers.values())
      for (const id of s.mergedIds) if (!this.customers.has(id)) this.redirects.restore(id, s.id);
    for (const [id, into] of restored?.redirects ?? []) this.redirects.restore(id, into);
    for (const [id, at] of restored?.redirectTimes ?? []) this.redirects.restoreTime(id, at);
    this.claims.restore(restored?.claims ?? []);
    const checkpoint = restored?.checkpoint;
    if (checkpoint) {
      this.lanes = checkpoint.lanes
        ? Lanes.restored(options.gracePeriodMs, checkpoint.lanes)
        : Lanes.fromWatermark(options.gracePeriodMs, checkpoint.watermark);
      this.deadlineLimit = checkpoint.deadlineLimit ?? this.lanes.limit;
      this.pending.restore(checkpoint.pending ?? []);
      for (const h of checkpoint.held ?? []) this.held.set(h.id, { ...h, queue: [...h.queue] });
      for (const h of checkpoint.arrived ?? []) this.arrived.set(h.linkEventId, h);
    }
  }

  /** The newest event time any lane has carried here. */
  get watermark(): number {
    return this.lanes.newest;
  }

  /** Up to which event time the input is complete (lanes.ts): what is applied, and when deadlines fire. */
  get eventTimeLimit(): number {
    return this.lanes.limit;
  }

  /** Import runs whose lanes are open here. */
  get openLanes(): number {
    return this.lanes.openImports;
  }

  /** An import run opened or closed its lane here: the clock may move either way. */
  mark(marker: LaneMarker, recordTimestamp?: number): void {
    if (marker.kind === 'open') {
      this.lanes.open(marker.lane, marker.startsAt, recordTimestamp);
      this.holdDeadlinesAtLanes();
    } else if (this.lanes.close(marker.lane)) this.drain(this.lanes.limit, this.lanes.limit);
    if (this.inbox.length > 0) this.handleInbox();
  }

  /** Items in the reorder buffer: touchpoints waiting out the grace period, claims and forwards. */
  get bufferedItems(): number {
    return this.pending.size;
  }

  /** The reorder buffer's items in the order they will be applied (as `checkpoint().pending`). */
  bufferedInOrder(): PendingItem[] {
    return this.pending.inOrder();
  }

  /** Customers waiting for a handoff from another partition. */
  get heldCustomers(): number {
    return this.held.size;
  }

  /** Accepts a touchpoint and applies whatever the lanes' clock now allows. */
  ingest(received: Touchpoint, source: RecordSource = {}): IngestOutcome {
    const key = received.customerId ?? received.anonymousId;
    if (key === undefined) {
      this.counters.ignored += 1; // business-level facts (marketing spend) have no customer to fold into
      return 'ignored';
    }
    const tp = this.bounded(received, source);
    const id = this.resolve(key);
    const owner = this.customers.get(id);
    // By event id alone: a sender that retries without a timestamp gets another receivedAt, and so another
    // event time, for the same event.
    if (
      this.pending.holds(tp.eventId) ||
      (owner !== undefined && hasApplied(owner, tp.eventId, tp.occurredAt))
    ) {
      this.counters.duplicates += 1;
      return 'duplicate';
    }
    this.counters.accepted += 1;
    this.observe(source, tp.occurredAt);
    const limit = this.lanes.limit;
    if (this.pending.size === 0 && tp.occurredAt <= limit) {
      // Nothing is buffered and this touchpoint is due: buffering it would pop it straight back out (the
      // usual case with grace 0 and in-order input), so apply it directly, to the owner found above.
      if (id === key || this.isHome(id)) this.applyTo(tp, id, owner);
      else this.forward(tp, id, 0);
      this.fireDeadlines(limit);
    } else {
      this.pending.push(tp);
      this.drain(limit, limit);
    }
    if (this.inbox.length > 0) this.handleInbox();
    return 'accepted';
  }

  /**
   * Takes the routing copy of a link (schemas/topics.ts `touchpointKeys`) that reached the linked id's
   * partition: a claim in this partition's own order. Part of the input: it moves the watermark.
   */
  ingestLinkCopy(received: Touchpoint, source: RecordSource = {}): IngestOutcome {
    const tp = this.bounded(received, source);
    const from = linkedIdOf(tp);
    const into = tp.customerId;
    if (from === undefined || into === undefined) {
      this.counters.ignored += 1;
      return 'ignored';
    }
    const claim: IdentityClaim = {
      kind: 'claim',
      eventId: claimIdOf(tp.eventId),
      occurredAt: tp.occurredAt,
      linkEventId: tp.eventId,
      from,
      into,
      byLinkCopy: true,
    };
    // Either way it is this partition's input: its lane's time moves on, which may release the claim.
    this.observe(source, tp.occurredAt);
    const limit = this.lanes.limit;
    // The target's own claim for the link may be here already (or the copy was delivered twice).
    const duplicate = this.pending.holds(claim.eventId);
    if (duplicate) this.counters.duplicates += 1;
    else {
      this.counters.accepted += 1;
      this.pending.push(claim);
    }
    this.drain(limit, limit);
    if (this.inbox.length > 0) this.handleInbox();
    return duplicate ? 'duplicate' : 'accepted';
  }

  /**
   * Takes a claim, handoff or forward from another partition (identity.ts). Claims and forwards join the
   * reorder buffer by their event time; they do not move the watermark, which is this partition's own.
   */
  receive(message: IdentityMessage): void {
    if (message.lanes !== undefined && this.lanes.adopt(message.lanes)) this.holdDeadlinesAtLanes();
    this.handle(message);
    if (this.inbox.length > 0) this.handleInbox();
  }

  /**
   * The partition's input has gone quiet: applies every buffered touchpoint and fires deadlines up to the
   * watermark, without waiting out the grace period. Claims and forwards from other partitions that are
   * ahead of this partition's own stream keep waiting for it: applying a claim early would hand over a
   * profile before touchpoints of its own up to the link have arrived (a link's copy, which is in this
   * stream, brings the watermark to the link). At the end of all input (`lifecycle replay`), everything.
   */
  flush(options: { endOfInput?: boolean } = {}): void {
    if (options.endOfInput) this.drain(Infinity, this.lanes.newest);
    else this.drain(this.lanes.idleLimit, this.lanes.idleLimit);
    if (this.inbox.length > 0) this.handleInbox();
  }

  /** The stage changes, changed customers and outgoing messages since the last call. */
  takeOutput(): PartitionOutput {
    const out = {
      stageChanges: this.stageChanges.take(this.model),
      changed: this.changed,
      removed: this.removed,
      redirected: this.redirects.takeChanged(),
      messages: this.messages,
      claims: this.claims.takeChanged(),
      ...this.pendingChanges(),
    };
    this.changed = new Set();
    this.removed = new Map();
    if (this.messages.length > 0) this.messages = NO_MESSAGES;
    return out;
  }

  private pendingChanges(): { pendingEntered: readonly PendingItem[]; pendingLeft: readonly PendingItem[] } {
    const { entered, left } = this.pending.takeChanges();
    return { pendingEntered: entered, pendingLeft: left };
  }

  /** `pending: false` leaves the reorder buffer out (see PartitionCheckpoint.pending). */
  checkpoint(options: { pending?: boolean } = {}): PartitionCheckpoint {
    return {
      watermark: this.lanes.newest,
      lanes: this.lanes.checkpoint(),
      ...(options.pending !== false ? { pending: this.bufferedInOrder() } : {}),
      ...(this.held.size > 0 ? { held: [...this.held.values()] } : {}),
      ...(this.arrived.size > 0 ? { arrived: [...this.arrived.values()] } : {}),
      ...(this.deadlineLimit !== this.lanes.limit ? { deadlineLimit: this.deadlineLimit } : {}),
    };
  }

  /** Sets P(alive) from a CLV fit; rules may use it on the customer's next touchpoint. */
  setProbabilityAlive(customerId: string, value: number): void {
    const s = this.customers.get(this.resolve(customerId));
    if (s) {
      s.probabilityAlive = value;
      this.changed.add(s.id);
    }
  }

  /** A lane opened behind the clock: nothing fires past it from now on (deadlineLimit). */
  private holdDeadlinesAtLanes(): void {
    if (this.lanes.limit < this.deadlineLimit) this.deadlineLimit = this.lanes.limit;
  }

  private observe(source: RecordSource, at: number): void {
    if (this.lanes.observe(source.lane, at, source.recordTimestamp) === 'unopened')
      this.counters.unopenedLane += 1;
    const lease = this.options.laneLeaseMs;
    if (lease !== undefined && source.recordTimestamp !== undefined && this.lanes.openImports > 0)
      this.counters.lanesExpired += this.lanes.expire(source.recordTimestamp, lease).length;
  }

  private bounded(tp: Touchpoint, source: RecordSource): Touchpoint {
    const bounded = boundEventTime(tp, source.recordTimestamp);
    if (bounded !== tp) this.counters.clamped += 1;
    return bounded;
  }

  private countLate(reason: 'lateBehindCustomer' | 'lateBehindInactivity'): void {
    this.counters.late += 1;
    this.counters[reason] += 1;
  }

  protected send(message: IdentityMessage): void {
    if (this.isHome(addresseeOf(message))) this.inbox.push(message);
    else {
      if (this.messages === NO_MESSAGES) this.messages = [];
      const lanes = this.lanes.openStarts();
      this.messages.push(lanes === undefined ? message : { ...message, lanes });
    }
  }

  private handleInbox(): void {
    for (let m = this.inbox.shift(); m !== undefined; m = this.inbox.shift()) this.handle(m);
  }

  private handle(message: IdentityMessage): void {
    if (this.enqueue(message)) this.drain(this.lanes.limit, this.deadlineLimit);
  }

  /**
   * A handoff is taken at once; a claim or forward joins the reorder buffer, to be applied by event time
   * (true: something to drain). A claim already buffered (the link's copy and the target's own claim share
   * an id) is dropped.
   */
  private enqueue(message: IdentityMessage): boolean {
    if (message.kind === 'handoff') {
      this.completeLink(message, true);
      return false;
    }
    const id = fnv1a(message.eventId);
    if (message.kind === 'claim' && this.pending.holds(message.eventId, id)) return false;
    this.pending.push(message, id);
    return true;
  }

  private drain(eventLimit: number, deadlineLimit: number): void {
    for (let next = this.pending.takeDue(eventLimit); next; next = this.pending.takeDue(eventLimit)) {
      this.apply(next);
      // A claim this partition sent itself is ordered with what is still buffered, not after all of it.
      while (this.inbox.length > 0) this.enqueue(this.inbox.shift()!);
    }
    this.fireDeadlines(deadlineLimit);
  }

  private fireDeadlines(limit: number): void {
    if (limit > this.deadlineLimit) this.deadlineLimit = limit;
    for (let due = this.deadlines.takeDue(limit); due; due = this.deadlines.takeDue(limit)) {
      const { id, at } = due;
      const s = this.customers.get(id);
      if (!s) continue;
      if (this.held.size > 0 && this.held.has(id)) {
        // Fired when the hold ends, from the limits its queue recorded; scheduled again then.
        this.deadlines.forget(id);
        continue;
      }
      if (this.rules.deadlineAt(s) !== at) continue; // stale: the customer did something since
      this.fireCustomerDeadlines(s, limit);
    }
  }

  /** Fires this customer's inactivity changes due at or before `until`, in order. */
  protected fireCustomerDeadlines(s: CustomerState, until: number): void {
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

  protected schedule(s: CustomerState): void {
    this.deadlines.schedule(s);
  }

  protected forgetDeadlines(id: string): void {
    this.deadlines.forget(id);
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

  protected apply(item: PendingItem): void {
    if (!isTouchpoint(item)) {
      if (item.kind === 'claim') this.applyClaim(item);
      else this.applyForwarded(item);
      return;
    }
    const key = (item.customerId ?? item.anonymousId)!;
    const id = this.resolve(key);
    if (id !== key && !this.isHome(id)) {
      this.forward(item, id, 0);
      return;
    }
    const s = this.customers.get(id);
    if (s && hasApplied(s, item.eventId, item.occurredAt)) {
      this.counters.duplicates += 1;
      return;
    }
    this.applyTo(item, id, s);
  }

  private forward(tp: Touchpoint, to: string, hops: number): void {
    if (hops >= MAX_FORWARD_HOPS) {
      this.counters.ignored += 1; // a redirect chain this long is a loop: stop rather than circle forever
      return;
    }
    this.counters.forwarded += 1;
    this.send({
      kind: 'forward',
      eventId: tp.eventId,
      occurredAt: tp.occurredAt,
      to,
      hops: hops + 1,
      touchpoint: tp,
    });
  }

  protected applyForwarded(f: ForwardedTouchpoint): void {
    const id = this.resolve(f.to);
    if (!this.isHome(id)) {
      this.forward(f.touchpoint, id, f.hops);
      return;
    }
    const s = this.customers.get(id);
    if (s && hasApplied(s, f.eventId, f.occurredAt)) {
      this.counters.duplicates += 1;
      return;
    }
    this.applyTo(f.touchpoint, id, s);
  }

  /** Applies a touchpoint that is not a duplicate to customer `id`, whose current state is `s` if known. */
  protected applyTo(tp: Touchpoint, id: string, s: CustomerState | undefined): void {
    if (this.held.size > 0) {
      const waiting = this.held.get(id);
      if (waiting) {
        waiting.queue.push({ tp, deadlinesBefore: this.deadlineLimit });
        return;
      }
    }
    if (s === undefined && tp.type === 'ClvPredicted') {
      this.counters.ignored += 1; // a score creates no customer (one that was merged away, or unknown here)
      return;
    }
    if (s) {
      if (tp.occurredAt < s.lastAppliedAt) this.countLate('lateBehindCustomer');
      else if (tp.occurredAt < s.stageEnteredAt) this.countLate('lateBehindInactivity');
      else this.fireCustomerDeadlines(s, tp.occurredAt);
    }

    // Identity: an anonymous id or a previous customer id that now belongs to this customer. Its profile
    // comes over from its home partition first (identity.ts); until then this customer waits. Whether the
    // link is new is the customer's own record (mergedIds), not the alias table: the source's side of the
    // link may already have run here, if both ids live on this partition. An id dropped from the list (past
    // MERGED_IDS_LIMIT) looks new again: its claim finds it redirected here already and hands over nothing,
    // so the round trip only lists it again.
    const linked = linkedIdOf(tp);
    if (linked !== undefined && linked !== id && !s?.mergedIds.includes(linked)) {
      this.held.set(id, {
        id,
        linkEventId: tp.eventId,
        queue: [{ tp, deadlinesBefore: this.deadlineLimit }],
      });
      const early = this.arrived.get(tp.eventId);
      if (early) {
        this.arrived.delete(tp.eventId);
        this.completeLink(early, false);
        return;
      }
      this.send({
        kind: 'claim',
        eventId: claimIdOf(tp.eventId),
        occurredAt: tp.occurredAt,
        linkEventId: tp.eventId,
        from: linked,
        into: id,
      });
      return;
    }
    if (linked !== undefined && this.arrived.size > 0) {
      // The profile for this link came while the customer waited for another one, whose answer listed the
      // linked id already: it is merged now, or it would wait for this link for ever.
      const early = this.arrived.get(tp.eventId);
      if (early?.state && s !== undefined) {
        this.arrived.delete(tp.eventId);
        this.mergeLate(s, early.state, early);
      }
    }
    this.evolveAndDecide(tp, id, s, undefined);
  }

  /** Folds the touchpoint into the customer (created if new) and fires the rule it triggers, if any. */
  protected evolveAndDecide(
    tp: Touchpoint,
    id: string,
    existing: CustomerState | undefined,
    adopted: CustomerState | undefined,
  ): CustomerState {
    let s = existing;
    const isNew = s === undefined;
    if (s === undefined) {
      s = initialState(id, this.model.initialStage, tp.occurredAt);
      this.customers.set(id, s);
      if (adopted) mergeInto(s, adopted);
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
    return s;
  }
}
