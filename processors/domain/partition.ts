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
  withMergedId,
  type CustomerState,
} from './customer';
import { boundEventTime } from './event-time';
import { DeadlineSchedule } from './deadline-schedule';
import {
  addresseeOf,
  homePartitionOf,
  linkedIdOf,
  MAX_FORWARD_HOPS,
  type ForwardedTouchpoint,
  type IdentityClaim,
  type IdentityMessage,
  type PartitionRoute,
  type ProfileHandoff,
} from './identity';
import { Lanes, type LanesCheckpoint } from './lanes';
import { LinkClaims, type AppliedClaim } from './link-claims';
import { Redirects } from './redirects';
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
}

export type IngestOutcome = 'accepted' | 'duplicate' | 'ignored';

/** Where a record came from: its lane (schemas/lanes.ts; undefined: live) and its Kafka record timestamp. */
export interface RecordSource {
  readonly lane?: string | undefined;
  /**
   * The record's timestamp (Kafka's, or a touchpoint's receivedAt where there is no record): no event time
   * runs ahead of it by more than MAX_EVENT_TIME_AHEAD_MS (event-time.ts).
   */
  readonly recordTimestamp?: number | undefined;
}

/** A lane opened or closed on this partition (schemas/lanes.ts). */
export type LaneMarker =
  | { readonly kind: 'open'; readonly lane: string; readonly startsAt: number }
  | { readonly kind: 'close'; readonly lane: string };

export interface PartitionCounters {
  accepted: number;
  applied: number;
  duplicates: number;
  ignored: number;
  /**
   * Touchpoints applied out of their customer's order (the sum of the two below): the one case where the
   * outcome can differ from the truth (docs/event-time.md).
   */
  late: number;
  /** Older than a touchpoint already applied to the same customer. */
  lateBehindCustomer: number;
  /** Older than an inactivity change that already fired for the customer (it was not inactive then). */
  lateBehindInactivity: number;
  /** Event times that ran ahead of their record's timestamp and were bounded (event-time.ts). */
  clamped: number;
  /** Records of an import lane that is not open here (never opened, or closed): taken as live traffic. */
  unopenedLane: number;
  merges: number;
  stageChanges: number;
  /** Links to an id that already belonged to another customer: re-pointed, not merged. */
  identityConflicts: number;
  /** Touchpoints sent on to the partition of the customer their id now belongs to. */
  forwarded: number;
}

export function emptyCounters(): PartitionCounters {
  return {
    accepted: 0,
    applied: 0,
    duplicates: 0,
    ignored: 0,
    late: 0,
    lateBehindCustomer: 0,
    lateBehindInactivity: 0,
    clamped: 0,
    unopenedLane: 0,
    merges: 0,
    stageChanges: 0,
    identityConflicts: 0,
    forwarded: 0,
  };
}

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

/** The claim of a link: one id for the link's copy and the target's own claim, so that one is dropped. */
const claimIdOf = (linkEventId: string): string => `${linkEventId}/claim`;

const NO_MESSAGES: IdentityMessage[] = [];

export class PartitionLifecycle {
  readonly customers = new Map<string, CustomerState>();
  readonly counters: PartitionCounters = emptyCounters();
  private readonly redirects = new Redirects();
  private readonly pending = new ReorderBuffer();
  private readonly deadlines: DeadlineSchedule;
  private readonly rules: RuleIndex;
  private lanes: Lanes;
  /**
   * The highest limit deadlines have been fired up to since the last lane opened (a flush goes past the
   * running limit; an import opened behind it brings it back, so that nothing fires past the import again).
   */
  private deadlineLimit = -Infinity;
  private readonly stageChanges = new StageChangeColumns();
  private changed = new Set<string>();
  private removed = new Map<string, number>();
  private messages: IdentityMessage[] = NO_MESSAGES;
  /** Customers waiting for a handoff (identity.ts), by id. */
  private readonly held = new Map<string, HeldCustomer>();
  /** Handoffs that came before their link was applied here, by link event id. */
  private readonly arrived = new Map<string, ProfileHandoff>();
  /** Messages this partition sent to itself, handled before its next touchpoint. */
  private readonly inbox: IdentityMessage[] = [];
  /** First claims of links whose other claim has not come (link-claims.ts). */
  private readonly claims = new LinkClaims();

  constructor(
    readonly model: StageModel,
    readonly options: PartitionOptions,
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
  mark(marker: LaneMarker): void {
    if (marker.kind === 'open') {
      this.lanes.open(marker.lane, marker.startsAt);
      if (this.lanes.limit < this.deadlineLimit) this.deadlineLimit = this.lanes.limit;
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
    this.observe(source.lane, tp.occurredAt);
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
    this.observe(source.lane, tp.occurredAt);
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
    if (
      message.lanes !== undefined &&
      this.lanes.adopt(message.lanes) &&
      this.lanes.limit < this.deadlineLimit
    )
      this.deadlineLimit = this.lanes.limit;
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
  flush(options: { endOfInput?: boolean; until?: number } = {}): void {
    if (options.endOfInput) this.drain(Infinity, options.until ?? this.lanes.newest);
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

  private observe(lane: string | undefined, at: number): void {
    if (this.lanes.observe(lane, at) === 'unopened') this.counters.unopenedLane += 1;
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

  private resolve(id: string): string {
    return this.redirects.resolve(id);
  }

  private isHome(id: string): boolean {
    const route = this.options.route;
    return route === undefined || homePartitionOf(id, route.partitions) === route.partition;
  }

  private send(message: IdentityMessage): void {
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

  private schedule(s: CustomerState): void {
    this.deadlines.schedule(s);
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

  private apply(item: PendingItem): void {
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

  private applyForwarded(f: ForwardedTouchpoint): void {
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
  private applyTo(tp: Touchpoint, id: string, s: CustomerState | undefined): void {
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
  private evolveAndDecide(
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

  /** At the source's home, at the link's event time: hand the profile over and redirect its ids. */
  private applyClaim(claim: IdentityClaim): void {
    const { from, into } = claim;
    if (claim.insteadOf !== undefined) {
      // A conflict's notice on a customer that waits (the one the id left, or joined): it is applied in its
      // order with what waits with it (a link's copy that claims that customer for the id decides on it).
      const customerWaiting =
        claim.toHomeOf !== undefined && this.held.size > 0
          ? (this.held.get(claim.insteadOf) ?? this.held.get(claim.toHomeOf))
          : undefined;
      if (customerWaiting) customerWaiting.queue.push({ claim, deadlinesBefore: this.deadlineLimit });
      else this.applyRedirectNotice(claim, claim.insteadOf);
      return;
    }
    const waiting = this.held.size > 0 ? this.held.get(from) : undefined;
    if (waiting) {
      // The profile is itself waiting for a handoff: it is handed on as of the link once it is complete.
      waiting.queue.push({ claim, deadlinesBefore: this.deadlineLimit });
      return;
    }
    const first = this.claims.get(from);
    if (first !== undefined && first.linkEventId === claim.linkEventId) {
      // The link's other claim (identity.ts). The copy's, after the target's: the target's named the
      // customer, and decided. The target's, after a copy that handed nothing over: the copy decided on what
      // this partition knows of the id the link names, which may be out of date, so this one decides again.
      this.claims.forget(from);
      if (claim.byLinkCopy === true) return;
      if (first.handedOver) {
        this.redirectHandedOver(from, into, first.into);
        return;
      }
    }
    const current = this.resolve(from);
    // `into` merged into `from` is known here by the alias table, or by the list of the customer `from` is,
    // unless the alias table knows that `into` left it since (a conflict re-pointed it: the list keeps it).
    const intoLeadsTo = this.resolve(into);
    if (
      intoLeadsTo === current ||
      (intoLeadsTo === into && this.customers.get(current)?.mergedIds.includes(into) === true)
    ) {
      // A link back: `into` was merged into the customer `from` is (an alias one way, then the other). They
      // are one customer already; handing it over and redirecting `from` would make two ids point at each
      // other, and the handoff would circle between them for ever. Only an answer, for a target that waits.
      this.answer(claim, null);
      this.claims.remember(from, { linkEventId: claim.linkEventId, into, handedOver: false });
      return;
    }
    let state: CustomerState | null = null;
    let conflictWith: string | undefined;
    if (current === from) {
      const s = this.customers.get(from);
      if (s) {
        if (claim.occurredAt >= s.lastAppliedAt) this.fireCustomerDeadlines(s, claim.occurredAt);
        state = s;
        this.customers.delete(from);
        this.deadlines.forget(from);
        this.removed.set(from, s.sequence);
        this.changed.delete(from);
        for (const alias of s.mergedIds) if (alias !== into) this.redirect(alias, into);
      }
    } else if (current !== into) {
      // The id already belongs to another customer: it now points at the new one, nothing is merged.
      this.counters.identityConflicts += 1;
      conflictWith = current;
    }
    this.redirect(from, into, claim.occurredAt);
    if (conflictWith !== undefined && this.redirects.get(from) === into)
      this.sendConflictNotices(claim, conflictWith);
    this.answer(claim, state);
    this.claims.remember(from, { linkEventId: claim.linkEventId, into, handedOver: state !== null });
  }

  /** When a claim or redirect notice last re-pointed `id` (event time), if one did. */
  redirectTimeOf(id: string): number | undefined {
    return this.redirects.timeOf(id);
  }

  /**
   * The target's claim, after the link's copy handed the profile over here: the profile is on its way to the
   * id the link names (`named`), whose home sends it on to the target, and the target waits for it. An empty
   * answer as well would let the target apply the link without the profile, which would then be merged after
   * it. The id now leads to the customer the target's claim names, as on one partition, unless a later
   * claim re-pointed it meanwhile.
   */
  private redirectHandedOver(from: string, into: string, named: string): void {
    if (into !== named && this.redirects.get(from) === named && this.resolve(into) !== from)
      this.redirect(from, into);
  }

  /**
   * Tells `id`'s home that `id` (and the ids in `listed`) lead to `into` as of the link, if they still lead to
   * `insteadOf`, where the link sent them (identity.ts `IdentityClaim.insteadOf`).
   */
  private sendRedirectNotice(
    link: { readonly linkEventId: string; readonly occurredAt: number },
    id: string,
    into: string,
    insteadOf: string,
    listed?: readonly string[],
  ): void {
    this.send({
      kind: 'claim',
      eventId: `${link.linkEventId}/redirect/${id}`,
      occurredAt: link.occurredAt,
      linkEventId: link.linkEventId,
      from: id,
      into,
      insteadOf,
      ...(listed !== undefined && listed.length > 0 ? { listed } : {}),
    });
  }

  /**
   * A redirect notice, at the id's home, in event-time order. An id still led where the link sent it is
   * re-pointed, and so is one that an earlier link re-pointed elsewhere: on one partition the merge comes
   * after it and re-points every id the absorbed profile lists. A re-point by a later link stays.
   */
  private applyRedirectNotice(notice: IdentityClaim, insteadOf: string): void {
    const older = (id: string): boolean => (this.redirects.timeOf(id) ?? Infinity) < notice.occurredAt;
    if (notice.toHomeOf !== undefined) {
      // A conflict at the id's home, which knew less than this partition: the id it joined leads here to the
      // customer it left (a link's copy names an id whose redirect lives elsewhere): it has not left at all.
      const joined = this.resolve(notice.into);
      if (joined === insteadOf) return;
      // To the customer the id joined, as far as the id's home knew; here it leads on, to a customer whose
      // home, if elsewhere, may hold that the id left it (an earlier conflict): that home learns it is back.
      const hops = (notice.hops ?? 0) + 1;
      if (notice.toHomeOf !== insteadOf && joined !== notice.toHomeOf && !this.isHome(joined))
        if (hops <= MAX_FORWARD_HOPS)
          this.send({ ...notice, eventId: `${notice.eventId}/${hops}`, toHomeOf: joined, hops });
    }
    if (this.redirects.get(notice.from) !== insteadOf && !older(notice.from)) return;
    for (const id of [notice.from, ...(notice.listed ?? [])])
      if (
        id !== notice.into && // a profile's list can name the customer it merged into: never to itself
        !this.customers.has(id) && // a customer here is one of its own (its state would be lost)
        !(this.held.size > 0 && this.held.has(id)) &&
        (this.redirects.get(id) === insteadOf || older(id)) &&
        this.resolve(notice.into) !== id
      ) {
        this.redirect(id, notice.into, notice.occurredAt);
      }
  }

  /**
   * A conflict re-pointed `claim.from` from customer `left` to `claim.into`. The customer it left still lists
   * it: its home, if elsewhere, learns that it is no longer its own, or a link's copy naming it there would
   * be taken for a link back. The customer it joined (as far as this partition knows: `into` may lead on)
   * may have learned so of an earlier conflict: its home learns that it is back (identity.ts
   * `IdentityClaim.toHomeOf`).
   */
  private sendConflictNotices(claim: IdentityClaim, left: string): void {
    const { linkEventId, occurredAt, from, into } = claim;
    const joined = this.resolve(into);
    const notice = { kind: 'claim', linkEventId, occurredAt, from, into, insteadOf: left } as const;
    if (!this.isHome(joined))
      this.send({ ...notice, eventId: `${linkEventId}/joined/${from}`, toHomeOf: joined });
    // One notice does for both where they share a home.
    const route = this.options.route;
    const sharedHome =
      route !== undefined &&
      homePartitionOf(left, route.partitions) === homePartitionOf(joined, route.partitions);
    if (!this.isHome(left) && !sharedHome)
      this.send({ ...notice, eventId: `${linkEventId}/left/${from}`, toHomeOf: left });
  }

  /** The handoff that answers a claim: the profile as of the link, or null when none is handed over. */
  private answer(claim: IdentityClaim, state: CustomerState | null): void {
    this.send({
      kind: 'handoff',
      linkEventId: claim.linkEventId,
      occurredAt: claim.occurredAt,
      from: claim.from,
      into: claim.into,
      state,
    });
  }

  /**
   * A touchpoint that waited for customer `id`, applied after `id` was handed on: where its own id now leads,
   * or, when that id is unknown here (absorbed long ago, it is no longer in the customer's `mergedIds`, which
   * a restore rebuilds the redirects from), where `id` leads. It was queued for `id`, so it belongs to
   * whoever `id` became.
   */
  private applyQueuedFor(id: string, tp: Touchpoint): void {
    const key = tp.customerId ?? tp.anonymousId;
    if (key === undefined || key === id || this.resolve(key) !== key) this.apply(tp);
    else
      this.applyForwarded({
        kind: 'forward',
        eventId: tp.eventId,
        occurredAt: tp.occurredAt,
        to: id,
        hops: 0,
        touchpoint: tp,
      });
  }

  /**
   * `id` leads to `into` from now on; `at`: the event time of the claim or notice that re-points it
   * (`redirectTimeOf`). Never for a customer of its own here or one waiting for a handoff, nor to itself: an
   * id is either a customer or leads to one (the changelog keeps one record per id, so a restore could not
   * have both), and its state would be unreachable. Nor when `into` leads through `id`: ids that lead to
   * each other resolve to one or the other, depending on the length of the loop.
   */
  private redirect(id: string, into: string, at?: number): void {
    if (id === into || this.customers.has(id) || (this.held.size > 0 && this.held.has(id))) return;
    this.redirects.point(id, into, at);
  }

  /**
   * A profile handed over for a link the customer has already applied: its hold was released by the answer
   * to the link's other claim, which overtook this handoff on its way round (the link's copy claimed the
   * profile for the id the link names, and that id had been merged into this customer, so the handoff went
   * to the id's home first). Merged now rather than kept waiting for a link that has come and gone, which
   * lost the profile; the stage is decided again on the customer's next touchpoint.
   */
  private mergeLate(s: CustomerState, absorbed: CustomerState, link: ProfileHandoff): void {
    this.adoptIds(absorbed, s.id, link);
    mergeInto(s, absorbed);
    this.changed.add(s.id);
    this.schedule(s);
  }

  /**
   * A merge: the absorbed profile's id and the ids it lists lead to customer `id` now (never to itself). The
   * homes of listed ids that live elsewhere still send them to the absorbed id, which leads here only until
   * it is re-pointed: they are told to send them here.
   */
  private adoptIds(absorbed: CustomerState, id: string, link: ProfileHandoff): void {
    this.counters.merges += 1;
    // Through redirect(): the changelog keeps each, so a restore resolves these ids as this partition does
    // (the survivor's list alone can name an id that a later link re-pointed, or no longer name it at all).
    if (absorbed.id !== id) this.redirect(absorbed.id, id);
    for (const alias of absorbed.mergedIds) {
      if (alias === id) continue;
      this.redirect(alias, id);
      if (!this.isHome(alias)) this.sendRedirectNotice(link, alias, id, absorbed.id);
    }
  }

  /** At the target's home: merge what was handed over, apply the link, then everything that waited. */
  /**
   * `arrived`: the handoff came now, while the customer waited, so whatever would have fired for it up to
   * now fires once its queue is applied. Not when a link being applied found its handoff already here: the
   * link is then just one step of the customer's stream (possibly of a queue being applied), and what
   * comes after it fires in its own time.
   */
  private completeLink(handoff: ProfileHandoff, arrived: boolean): void {
    const waiting = this.held.get(handoff.into);
    if (!waiting || waiting.linkEventId !== handoff.linkEventId) {
      const target = this.resolve(handoff.into);
      if (target !== handoff.into) {
        // The target itself was handed on meanwhile (to a customer elsewhere, or here): follow it. Links that
        // contradict each other across partitions (A into B here, B into A there) can make redirects a loop;
        // a handoff sent round it is cut, as forwards are, rather than circling for ever. Its profile, if
        // any, stays with the last customer on its way, or waits here.
        const hops = (handoff.hops ?? 0) + 1;
        if (hops <= MAX_FORWARD_HOPS) {
          this.send({ ...handoff, into: target, hops });
          // The source's home sent the id (and the ids its profile listed) to `handoff.into`, the id the link
          // names: they belong to `target`, as on one partition, not to whatever that id becomes later.
          this.sendRedirectNotice(handoff, handoff.from, target, handoff.into, handoff.state?.mergedIds);
          return;
        }
        this.counters.identityConflicts += 1;
        const last = handoff.state ? this.customers.get(target) : undefined;
        if (last !== undefined) this.mergeLate(last, handoff.state!, handoff);
        else if (handoff.state) this.arrived.set(handoff.linkEventId, handoff);
        return;
      }
      // Not waited for (yet). With a profile: the link's copy was applied at the source before the link
      // here, so the profile waits for the link. Without one: the answer to a second claim of the same link
      // (its copy and the target's own), or an early answer the link can do without (its claim gets the
      // same answer again).
      if (handoff.state) {
        const s = this.customers.get(handoff.into);
        if (s !== undefined && hasApplied(s, handoff.linkEventId)) this.mergeLate(s, handoff.state, handoff);
        else this.arrived.set(handoff.linkEventId, handoff);
      }
      return;
    }
    this.held.delete(handoff.into);
    const id = handoff.into;
    // Read only (mergeInto copies what it keeps, never an array of the absorbed profile): no copy needed.
    const absorbed = handoff.state ?? undefined;
    let s = this.customers.get(id);
    if (absorbed) {
      this.adoptIds(absorbed, id, handoff);
      if (s) mergeInto(s, absorbed);
    }
    // Nothing handed over: the source id leads here from now on, unless it is a customer of its own here or
    // this customer's id leads to it (a link back, answered with nothing): either would make the two ids
    // lead to each other, and the customer's own state unreachable.
    const adopted =
      !absorbed &&
      this.resolve(handoff.from) !== id &&
      !this.customers.has(handoff.from) &&
      this.resolve(id) !== handoff.from;
    if (adopted) this.redirect(handoff.from, id);
    const [link, ...rest] = waiting.queue;
    s = this.evolveAndDecide((link as { tp: Touchpoint }).tp, id, s, s === undefined ? absorbed : undefined);
    if (!absorbed && !s.mergedIds.includes(handoff.from))
      s.mergedIds = withMergedId(s.mergedIds, handoff.from);
    for (let i = 0; i < rest.length; i++) {
      const item = rest[i]!;
      // What would have happened to this customer between the touchpoints, had it not waited.
      this.fireCustomerDeadlines(s, item.deadlinesBefore);
      if ('claim' in item && item.claim.insteadOf !== undefined) {
        this.applyClaim(item.claim); // a notice that waited with it (applyClaim)
        continue;
      }
      if ('claim' in item) {
        // Claimed while it waited: handed on now, as of then; what came after follows it there.
        this.applyClaim(item.claim);
        for (const later of rest.slice(i + 1)) {
          if ('claim' in later) this.applyClaim(later.claim);
          else this.applyQueuedFor(id, later.tp);
        }
        return;
      }
      const tp = item.tp;
      if (hasApplied(s, tp.eventId, tp.occurredAt)) {
        this.counters.duplicates += 1;
        continue;
      }
      this.applyTo(tp, id, s);
      const again = this.held.get(id);
      if (again) {
        // Another link: the rest waits for that handoff in turn.
        for (const q of rest.slice(i + 1)) again.queue.push(q);
        return;
      }
    }
    if (arrived) this.fireCustomerDeadlines(s, this.deadlineLimit);
    this.schedule(s);
  }
}
