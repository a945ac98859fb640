/**
 * The lifecycle of one partition's customers, by event time. Touchpoints are held in a reorder buffer
 * until the partition's clock (lanes.ts: the lowest watermark of its sources, live traffic less the grace
 * period and each open import run) passes their time, then applied in (occurredAt, eventId) order; before a
 * customer's touchpoint is applied, that customer's inactivity deadlines up to its time fire first. So live
 * input shuffled within the grace period, and imports in any order next to it, yield exactly the stage
 * changes of the sorted input. A touchpoint older than what its customer already had applied (or than an
 * inactivity change that fired for it) is applied at once, deterministically, and counted as late by reason.
 * Links and customers whose ids live on several partitions: identity.ts, identity-protocol.ts.
 *
 * Pure: time comes from the touchpoints; the runtime persists `checkpoint()` and restores from it.
 */
import type { StageChanged } from '../../schemas/outputs';
import type { Touchpoint } from '../../schemas/touchpoint';
import {
  evolve,
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
  linkedIdOf,
  partitionOfMessage,
  type IdentityMessage,
  type PartitionRoute,
  type ProfileHandoff,
} from './identity';
import type { LinkDecision } from './identity-table';
import { IdentityProtocol, type CustomerItem, type HeldCustomer } from './identity-protocol';
import {
  ForgottenPeople,
  idsOfMessage,
  idsOfTouchpoint,
  messageNames,
  personOf,
  projectedTable,
  touchpointNames,
  withoutIds,
  type ForgetOutcome,
  type PseudonymOf,
} from './forget';
import { Lanes, type LanesCheckpoint } from './lanes';
import { PeerImports, type PeerImportsCheckpoint } from './peer-imports';
import { StageChangeColumns } from './stage-changes';
import type { StageModel } from './model';
import { ReorderBuffer, type PendingItem } from './reorder-buffer';
import { fnv1a } from './applied-archive';
import { RecentEvents, type RecentEventsOptions, type RecentEventsRecord } from './recent-events';
import { ruleIndexOf, ruleReason, type InactivityDeadline, type RuleIndex } from './rules';

export type { CustomerItem, HeldCustomer, HeldItem } from './identity-protocol';

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
  /**
   * The keyed pseudonym of an id (schemas/pseudonym.ts, under the installation's secret): how a forget names
   * a person (forget.ts). Without it, the partition cannot forget anybody.
   */
  readonly pseudonymOf?: PseudonymOf;
  /** How long and how many input events are remembered to drop their copies (recent-events.ts). */
  readonly recentEvents?: RecentEventsOptions;
}

export { emptyCounters, type PartitionCounters } from './partition-counters';

export type IngestOutcome = 'accepted' | 'duplicate' | 'ignored' | 'suppressed';

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
  readonly pending?: readonly BufferedItem[];
  /** What the other partitions announced they have forwarded up to, by partition (null: nothing yet). */
  readonly peers?: readonly (number | null)[];
  /** What the other partitions know of imports (peer-imports.ts). */
  readonly peerImports?: PeerImportsCheckpoint;
  /** The import lanes open and last closed here when progress was last announced (`open,.../closed,...`). */
  readonly announcedLanes?: string;
  /** The limit it last told them it has sent every handoff up to, where lower than `announced`. */
  readonly announcedHanded?: number;
  readonly held?: readonly HeldCustomer[];
  /** Handoffs that came before their link was applied here. */
  readonly arrived?: readonly ProfileHandoff[];
  readonly deadlineLimit?: number;
  readonly fedDeadlineLimit?: number;
  /** Up to where the items of customers fed from elsewhere have been applied. */
  readonly fedDrainedTo?: number;
  /** The limit this partition last told the others it has routed its input up to. */
  readonly announced?: number;
  /** The newest event time the other partitions announced. */
  readonly othersNewest?: number;
}

export interface PartitionOutput {
  readonly stageChanges: StageChanged[];
  /** Customers whose state changed since the last takeOutput(). */
  readonly changed: ReadonlySet<string>;
  /** Profiles folded into another customer (their own state is gone), with their last sequence. */
  readonly removed: ReadonlyMap<string, number>;
  /** Ids that now belong to a customer: what the changelog keeps for them instead of a state. */
  readonly redirected: ReadonlyMap<string, string>;
  /** Handoffs, forwards and progress for other partitions, in the order they were made. */
  readonly messages: IdentityMessage[];
  /** Customers that became fed from elsewhere (true) or left (false) since the last takeOutput(). */
  readonly fedChanged: ReadonlyMap<string, boolean>;
  /** Items that entered the reorder buffers since the last takeOutput() and are still in them. */
  readonly pendingEntered: readonly BufferedItem[];
  /**
   * Items that were in the reorder buffer at the last takeOutput() (or came with the restore) and have left
   * it since, applied or passed on: with `pendingEntered`, what the buffer's changelog records add and remove.
   */
  readonly pendingLeft: readonly BufferedItem[];
  /** Pseudonyms of people forgotten since the last takeOutput() (forget.ts): each is remembered for good. */
  readonly forgotten: readonly string[];
  /**
   * Ids a forget erased since the last takeOutput(): whatever the changelog and the snapshots hold under
   * them goes (the customer, its redirect, its applied ids).
   */
  readonly erased: ReadonlySet<string>;
  /** The input events remembered since the last takeOutput(), and the records of those forgotten. */
  readonly recentEvents: {
    readonly records: readonly RecentEventsRecord[];
    readonly expired: readonly number[];
  };
}

/** An item of either reorder buffer: an input touchpoint, or an item of a customer fed from elsewhere. */
export type BufferedItem = PendingItem | CustomerItem;

const NO_MESSAGES: IdentityMessage[] = [];
/** How many of its last closed import lanes a partition names in its progress (`Progress.closed`). */
const RECENTLY_CLOSED_ANNOUNCED = 16;
const orNull = (t: number): number | null => (Number.isFinite(t) ? t : null);

/** What a partition is restored from (its changelog, runtime/changelog/restore.ts). */
export interface RestoredPartition {
  readonly checkpoint?: PartitionCheckpoint;
  readonly customers?: Iterable<CustomerState>;
  /** Ids that belong to another customer (id -> customer). */
  readonly redirects?: Iterable<readonly [string, string]>;
  /** Customers here that ids homed elsewhere lead to (`PartitionOutput.fedChanged`). */
  readonly fedFromElsewhere?: Iterable<string>;
  /** Pseudonyms of the people forgotten here (`PartitionOutput.forgotten`). */
  readonly forgotten?: Iterable<string>;
  /** The input events remembered (`PartitionOutput.recentEvents`). */
  readonly recentEvents?: Iterable<RecentEventsRecord>;
}

export class PartitionLifecycle extends IdentityProtocol {
  readonly model: StageModel;
  private readonly pending = new ReorderBuffer();
  private readonly recent: RecentEvents;
  private readonly deadlines: DeadlineSchedule;
  private readonly rules: RuleIndex;
  private lanes: Lanes;
  private readonly stageChanges = new StageChangeColumns();
  private messages: IdentityMessage[] = NO_MESSAGES;
  /** Messages this partition sent to itself, handled before its next item. */
  private readonly inbox: IdentityMessage[] = [];
  /** Up to where the input has been routed (forwards sent): what `Progress` tells the others. */
  private routed = -Infinity;
  private announced = -Infinity;
  /** The import lanes open and last closed here when progress was last announced. */
  private announcedLanes = '/';
  private announcedHanded = -Infinity;
  /** The newest event time the other partitions announced (`Progress.newest`). */
  private othersNewest = -Infinity;
  /** The people forgotten here (forget.ts), by pseudonym. */
  private readonly forgotten: ForgottenPeople;
  /** Ids erased by forgets since the last takeOutput(). */
  private erased = new Set<string>();

  constructor(model: StageModel, options: PartitionOptions, restored?: RestoredPartition) {
    const rules = ruleIndexOf(model);
    super(options, (s) => rules.deadlineAt(s));
    this.model = model;
    this.rules = rules;
    this.forgotten = new ForgottenPeople(options.pseudonymOf, restored?.forgotten);
    this.recent = new RecentEvents(options.recentEvents, restored?.recentEvents);
    this.deadlines = new DeadlineSchedule((s) => this.rules.deadlineAt(s));
    this.lanes = new Lanes(options.gracePeriodMs);
    for (const id of restored?.fedFromElsewhere ?? []) this.fedFromElsewhere.add(id);
    const checkpoint = restored?.checkpoint;
    if (checkpoint) this.restoreCheckpoint(checkpoint, options);
    for (const s of restored?.customers ?? []) this.restoreCustomer(s);
    this.restoreIdentityTable(restored?.redirects ?? []);
  }

  /**
   * The restored partition, built a slice of `sliceSize` customers at a time: the generator returns to its
   * caller after each slice, so that a caller with an event loop lets it run between them (a million
   * customers take seconds to build, in which no timer or socket would be served).
   */
  static *restoredInSlices(
    model: StageModel,
    options: PartitionOptions,
    restored: RestoredPartition,
    sliceSize: number,
  ): Generator<void, PartitionLifecycle, void> {
    const { customers = [], redirects = [], ...rest } = restored;
    const p = new PartitionLifecycle(model, options, rest);
    let inSlice = 0;
    for (const s of customers) {
      p.restoreCustomer(s);
      if (++inSlice === sliceSize) {
        inSlice = 0;
        yield;
      }
    }
    p.restoreIdentityTable(redirects);
    return p;
  }

  private restoreCheckpoint(checkpoint: PartitionCheckpoint, options: PartitionOptions): void {
    this.lanes = checkpoint.lanes
      ? Lanes.restored(options.gracePeriodMs, checkpoint.lanes)
      : Lanes.fromWatermark(options.gracePeriodMs, checkpoint.watermark);
    this.deadlineLimit = checkpoint.deadlineLimit ?? this.lanes.limit;
    this.fedDeadlineLimit = checkpoint.fedDeadlineLimit ?? -Infinity;
    this.fedDrainedTo = checkpoint.fedDrainedTo ?? -Infinity;
    this.routed = this.announced = checkpoint.announced ?? -Infinity;
    this.othersNewest = checkpoint.othersNewest ?? -Infinity;
    for (const item of checkpoint.pending ?? [])
      if ('kind' in item) this.fed.restore([item]);
      else this.pending.restore([item]);
    if (checkpoint.peerImports && options.route)
      this.peerImports = PeerImports.restored(
        options.route.partitions,
        options.route.partition,
        checkpoint.peerImports,
      );
    this.announcedLanes = checkpoint.announcedLanes ?? '/';
    this.announcedHanded = checkpoint.announcedHanded ?? this.announced;
    checkpoint.peers?.forEach((at, partition) => {
      if (partition !== options.route?.partition) this.peers[partition] = at ?? -Infinity;
    });
    for (const h of checkpoint.held ?? []) this.held.set(h.id, { ...h, queue: [...h.queue] });
    for (const h of checkpoint.arrived ?? []) this.arrived.set(h.linkEventId, h);
  }

  private restoreCustomer(stored: CustomerState): void {
    const s = restoredState(stored);
    this.customers.set(s.id, s);
    this.schedule(s);
  }

  /**
   * Once every customer is restored: the ids a customer lists lead to it, unless the changelog says otherwise
   * (a redirect record for each id the table re-pointed, wherever its customer lives).
   */
  private restoreIdentityTable(redirects: Iterable<readonly [string, string]>): void {
    for (const s of this.customers.values())
      for (const id of s.mergedIds) if (!this.customers.has(id)) this.table.restore(id, s.id);
    for (const [id, into] of redirects) this.table.restore(id, into);
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
      this.peerImports?.seen(marker.lane, marker.startsAt);
      this.holdDeadlinesAtLanes();
    } else if (this.lanes.close(marker.lane)) this.drain(this.lanes.limit, this.lanes.limit);
    this.handleInbox();
  }

  /** Items in the reorder buffers: touchpoints waiting out the grace period, items waiting for progress. */
  get bufferedItems(): number {
    return this.pending.size + this.fed.size;
  }

  /**
   * The reorder buffers' items (`checkpoint().pending`): the input's in the order they will be routed, then
   * the items of customers fed from elsewhere (they have a `kind`; input touchpoints have none).
   */
  bufferedInOrder(): BufferedItem[] {
    return [...this.pending.inOrder(), ...this.fed.inOrder()];
  }

  /** Customers waiting for a handoff from another partition. */
  get heldCustomers(): number {
    return this.held.size;
  }

  /** The customer `id` belongs to now, by this partition's replica of the identity table. */
  customerOf(id: string): string {
    return this.resolve(id);
  }

  /** The ids that lead to another customer, in this partition's replica of the identity table. */
  get redirects(): number {
    return this.table.size;
  }

  /** This partition's replica of the identity table: each id that leads to another customer, and that one. */
  identityEntries(): [string, string][] {
    return [...this.table.entries()];
  }

  /** How many input events are remembered to drop their copies, and how often memory cut that short. */
  get recentEvents(): { readonly remembered: number; readonly shortened: number } {
    return { remembered: this.recent.size, shortened: this.recent.shortened };
  }

  /** The pseudonyms of the people forgotten here. */
  get forgottenPseudonyms(): readonly string[] {
    return this.forgotten.list();
  }

  /**
   * A forget marker (schemas/forget.ts) naming a person by the pseudonyms of their ids: erases at once what
   * this partition holds of the person, and remembers them, so that whatever names them later is dropped
   * (forget.ts says who the person is here and how every partition's table stays in agreement). A second
   * forget of the same person finds nothing left; a forget of ids never seen only remembers them.
   */
  forget(pseudonyms: readonly string[]): ForgetOutcome {
    const newlyForgotten = this.forgotten.add(pseudonyms);
    // Each id held here hashed once: O(ids), as forgets are rare.
    const seen = new Set<string>();
    const found: string[] = [];
    for (const id of this.idsHere())
      if (!seen.has(id)) {
        seen.add(id);
        if (this.forgotten.hasUncached(id)) found.push(id);
      }
    if (found.length === 0) return { newlyForgotten, customers: 0, ids: 0, items: 0 };
    const person = personOf(found, projectedTable(this.table, this.pending.inOrder()));
    const added = this.forgotten.add([...person].map((id) => this.forgotten.pseudonymOfId(id)));
    const isPerson = (id: string): boolean => person.has(id);
    const erasedBefore = this.erased.size;
    let items = this.pending.removeWhere((tp) => touchpointNames(tp, isPerson)).length;
    if (this.messages.length > 0) {
      // Not written yet: those for or from the person are not written; a profile lists none of their ids.
      const kept: IdentityMessage[] = [];
      for (const m of this.messages)
        if (messageNames(m, isPerson)) items += 1;
        else if (m.kind === 'handoff' && m.state?.mergedIds.some(isPerson))
          kept.push({ ...m, state: withoutIds(m.state, isPerson) });
        else kept.push(m);
      this.messages = kept.length > 0 ? kept : NO_MESSAGES;
    }
    this.stageChanges.dropCustomers(person);
    const erased = this.erasePerson(person, this.erased);
    items += erased.items;
    if (items > 0) this.counters.suppressed = (this.counters.suppressed ?? 0) + items;
    this.handleInbox();
    return {
      newlyForgotten: newlyForgotten + added,
      customers: erased.customers,
      ids: this.erased.size - erasedBefore,
      items,
    };
  }

  /** Every id this partition holds, in its state and in the output not yet taken. */
  private *idsHere(): Generator<string> {
    yield* this.heldIds();
    for (const tp of this.pending.inOrder()) yield* idsOfTouchpoint(tp);
    for (const m of this.messages) yield* idsOfMessage(m);
  }

  /** Whether a record names a person forgotten here: then it is dropped, and counted. */
  private suppresses(tp: Touchpoint): boolean {
    if (this.forgotten.size === 0 || !touchpointNames(tp, (id) => this.forgotten.has(id))) return false;
    this.counters.suppressed = (this.counters.suppressed ?? 0) + 1;
    return true;
  }

  /**
   * Accepts a touchpoint (a link too, which every partition gets) and applies whatever the lanes' clock now
   * allows.
   */
  ingest(received: Touchpoint, source: RecordSource = {}): IngestOutcome {
    const key = received.customerId ?? received.anonymousId;
    if (key === undefined) {
      this.counters.ignored += 1; // business-level facts (marketing spend) have no customer to fold into
      return 'ignored';
    }
    // As if it had never been sent: it moves no clock either.
    if (this.suppresses(received)) return 'suppressed';
    // A copy is dropped before anything else looks at it (recent-events.ts, by key and event id): by then
    // its customer may be elsewhere.
    if (!this.recent.takeFirst(key, received.eventId, source.recordTimestamp ?? received.receivedAt)) {
      this.counters.duplicates += 1;
      return 'duplicate';
    }
    const tp = this.bounded(received, source);
    const owner = this.customers.get(this.resolve(key));
    // By event id alone: a sender that retries without a timestamp gets another receivedAt, and so another
    // event time, for the same event. A copy of a link whose target's items wait for the other partitions is
    // in `fed`: taken out before the link itself, it would apply the link as a plain touchpoint, and the link
    // then as a duplicate, its merge's rules never run.
    const hash = this.pending.size + this.fed.size > 0 ? fnv1a(tp.eventId) : 0;
    if (
      (this.pending.size > 0 && this.pending.holds(tp.eventId, hash)) ||
      (this.fed.size > 0 && this.fed.holds(tp.eventId, hash)) ||
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
      // usual case with grace 0 and in-order input), so route it directly.
      this.routeInput(tp);
      this.handleInbox();
      this.afterDrain(limit, limit);
    } else {
      this.pending.push(tp);
      this.drain(limit, limit);
    }
    this.handleInbox();
    return 'accepted';
  }

  /** Takes a handoff, forward or progress from another partition (identity.ts). */
  receive(message: IdentityMessage): void {
    // Sent by a partition that had not read its forget marker yet.
    const taken = this.forgotten.size > 0 ? this.forgotten.screen(message) : message;
    if (taken === undefined) {
      this.counters.suppressed = (this.counters.suppressed ?? 0) + 1;
      return;
    }
    if (taken.lanes !== undefined && this.adopt(taken.lanes)) this.holdDeadlinesAtLanes();
    this.handle(taken);
    this.handleInbox();
  }

  /**
   * The partition's input has gone quiet: applies every buffered touchpoint and fires deadlines up to the
   * watermark, without waiting out the grace period; with no import open here, up to the newest event time
   * any partition has announced, as one partition holding every customer would (a partition whose customers
   * are quiet would otherwise hold every customer fed from it back). At the end of all input (`lifecycle replay`),
   * everything, and deadlines up to `until` (the newest event time of the whole input, which may be on
   * another partition), or this partition's newest.
   */
  flush(options: { endOfInput?: boolean; until?: number } = {}): void {
    if (options.endOfInput) this.drain(Infinity, Math.max(this.lanes.newest, options.until ?? -Infinity));
    else {
      const limit =
        this.lanes.openImports === 0
          ? Math.max(this.lanes.idleLimit, this.othersNewest)
          : this.lanes.idleLimit;
      this.drain(limit, limit);
    }
    this.handleInbox();
  }

  /** The stage changes, changed customers and outgoing messages since the last call. */
  takeOutput(): PartitionOutput {
    this.announceProgress();
    const out = {
      stageChanges: this.stageChanges.take(this.model),
      changed: this.changed,
      removed: this.removed,
      redirected: this.table.takeChanged(),
      messages: this.messages,
      fedChanged: this.takeFedChanged(),
      ...this.pendingChanges(),
      forgotten: this.forgotten.takeAdded(),
      erased: this.erased,
      recentEvents: this.recent.takeChanges(),
    };
    this.changed = new Set();
    this.removed = new Map();
    if (this.erased.size > 0) this.erased = new Set();
    if (this.messages.length > 0) this.messages = NO_MESSAGES;
    return out;
  }

  private pendingChanges(): {
    pendingEntered: readonly BufferedItem[];
    pendingLeft: readonly BufferedItem[];
  } {
    const input = this.pending.takeChanges();
    const fed = this.fed.takeChanges();
    return {
      pendingEntered: fed.entered.length === 0 ? input.entered : [...input.entered, ...fed.entered],
      pendingLeft: fed.left.length === 0 ? input.left : [...input.left, ...fed.left],
    };
  }

  /** `pending: false` leaves the reorder buffer out (see PartitionCheckpoint.pending). */
  checkpoint(options: { pending?: boolean } = {}): PartitionCheckpoint {
    return {
      watermark: this.lanes.newest,
      lanes: this.lanes.checkpoint(),
      ...(options.pending !== false ? { pending: this.bufferedInOrder() } : {}),
      ...(this.peers.length > 0 ? { peers: this.peers.map(orNull) } : {}),
      ...(this.peerImports && !this.peerImports.isEmpty
        ? { peerImports: this.peerImports.checkpoint() }
        : {}),
      ...(this.announcedLanes !== '/' ? { announcedLanes: this.announcedLanes } : {}),
      ...(this.announcedHanded !== this.announced && Number.isFinite(this.announcedHanded)
        ? { announcedHanded: this.announcedHanded }
        : {}),
      ...(this.held.size > 0 ? { held: [...this.held.values()] } : {}),
      ...(this.arrived.size > 0 ? { arrived: [...this.arrived.values()] } : {}),
      ...(this.deadlineLimit !== this.lanes.limit ? { deadlineLimit: this.deadlineLimit } : {}),
      ...(Number.isFinite(this.fedDeadlineLimit) ? { fedDeadlineLimit: this.fedDeadlineLimit } : {}),
      ...(Number.isFinite(this.fedDrainedTo) ? { fedDrainedTo: this.fedDrainedTo } : {}),
      ...(Number.isFinite(this.announced) ? { announced: this.announced } : {}),
      ...(Number.isFinite(this.othersNewest) ? { othersNewest: this.othersNewest } : {}),
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
    if (this.lanes.limit < this.fedDeadlineLimit) this.fedDeadlineLimit = this.lanes.limit;
  }

  private adopt(lanes: Readonly<Record<string, number>>): boolean {
    for (const [lane, start] of Object.entries(lanes)) this.peerImports?.seen(lane, start);
    return this.lanes.adopt(lanes);
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

  /** Tells every other partition how far this one has routed its input, when that changed. */
  private announceProgress(): void {
    const route = this.options.route;
    if (route === undefined) return;
    // What it knows of imports goes with it (`Progress.closed`, and the open lanes every message carries):
    // a change there is news too (peer-imports.ts).
    const closed = this.lanes.recentlyClosed(RECENTLY_CLOSED_ANNOUNCED);
    const lanes = `${Object.keys(this.lanes.openStarts() ?? {}).join(',')}/${closed.join(',')}`;
    const handedUpTo = this.handedUpTo();
    if (
      this.routed === this.announced &&
      lanes === this.announcedLanes &&
      handedUpTo === this.announcedHanded
    )
      return;
    this.announced = this.routed;
    this.announcedLanes = lanes;
    this.announcedHanded = handedUpTo;
    for (let to = 0; to < route.partitions; to++)
      if (to !== route.partition)
        this.send({
          kind: 'progress',
          partition: route.partition,
          to,
          upTo: this.routed,
          newest: this.lanes.newest,
          ...(closed.length > 0 ? { closed } : {}),
          ...(handedUpTo < this.routed ? { handedUpTo } : {}),
        });
  }

  protected send(message: IdentityMessage): void {
    const route = this.options.route;
    if (route === undefined || partitionOfMessage(message, route.partitions) === route.partition)
      this.inbox.push(message);
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
    switch (message.kind) {
      case 'handoff':
        this.receiveHandoff(message);
        return;
      case 'forward':
        this.fed.push(message);
        break;
      case 'progress':
        if (message.newest > this.othersNewest) this.othersNewest = message.newest;
        this.peerImports?.report(message.partition, [
          ...Object.keys(message.lanes ?? {}),
          ...(message.closed ?? []),
        ]);
        this.peers[message.partition] = message.upTo;
        this.giveUpWaitingOn(message.partition, message.handedUpTo ?? message.upTo);
        break;
    }
    this.drainFed(this.routed, this.deadlineLimit);
  }

  private drain(eventLimit: number, deadlineLimit: number): void {
    for (let next = this.pending.takeDue(eventLimit); next; next = this.pending.takeDue(eventLimit)) {
      this.routeInput(next);
      // A handoff this partition sent itself is taken before the next item.
      this.handleInbox();
    }
    this.afterDrain(eventLimit, deadlineLimit);
  }

  private afterDrain(eventLimit: number, deadlineLimit: number): void {
    this.routed = eventLimit;
    this.fireDeadlines(deadlineLimit);
    if (this.fed.size > 0 || this.fedFromElsewhere.size > 0) this.drainFed(eventLimit, deadlineLimit);
    this.handleInbox();
  }

  /** An input touchpoint, due: a link for every partition's table, else to its customer, here or elsewhere. */
  private routeInput(tp: Touchpoint): void {
    const key = (tp.customerId ?? tp.anonymousId)!;
    const linked = linkedIdOf(tp);
    if (linked !== undefined && linked !== key) {
      this.route(tp, linked, key);
      return;
    }
    const id = this.resolve(key);
    if (!this.isHome(id)) this.forward(tp, id, 0);
    else if (
      (this.fedFromElsewhere.size === 0 || !this.fedFromElsewhere.has(id)) &&
      (this.held.size === 0 || !this.held.has(id))
    )
      this.applyTouchpoint(tp, id); // its turn is now: no item made for it (the usual case)
    else
      this.toCustomer({
        kind: 'touchpoint',
        eventId: tp.eventId,
        occurredAt: tp.occurredAt,
        customer: id,
        tp,
      });
  }

  private fireDeadlines(limit: number): void {
    if (limit > this.deadlineLimit) this.deadlineLimit = limit;
    for (let due = this.deadlines.takeDue(limit); due; due = this.deadlines.takeDue(limit)) {
      const { id, at } = due;
      const s = this.customers.get(id);
      if (!s || (this.fedFromElsewhere.size > 0 && this.fedFromElsewhere.has(id))) continue;
      if (this.held.size > 0 && this.held.has(id)) {
        // Fired when the hold ends, from the limits its queue recorded; scheduled again then.
        this.deadlines.forget(id);
        continue;
      }
      if (this.rules.deadlineAt(s) !== at) continue; // stale: the customer did something since
      this.fireCustomerDeadlines(s, limit);
    }
  }

  protected routedUpTo(): number {
    return this.routed;
  }

  protected deadlineAtOf(s: CustomerState): number | undefined {
    return this.rules.deadlineAt(s);
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
    if (this.fedFromElsewhere.size > 0 && this.fedFromElsewhere.has(s.id)) this.fedDeadlines.schedule(s);
    else this.deadlines.schedule(s);
  }

  protected forgetDeadlines(id: string): void {
    this.deadlines.forget(id);
    this.fedDeadlines.forget(id);
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

  /** Applies a touchpoint to customer `id` in its turn; `link`: what the link it is did, if it is one. */
  protected applyTouchpoint(tp: Touchpoint, id: string, link?: LinkDecision['kind']): void {
    const s = this.customers.get(id);
    if (s && hasApplied(s, tp.eventId, tp.occurredAt)) {
      this.counters.duplicates += 1;
      return;
    }
    if (s === undefined && tp.type === 'ClvPredicted' && !this.adopting.has(id)) {
      this.counters.ignored += 1; // a score creates no customer (one that was merged away, or unknown here)
      return;
    }
    if (s) {
      if (tp.occurredAt < s.lastAppliedAt) this.countLate('lateBehindCustomer');
      else if (tp.occurredAt < s.stageEnteredAt) this.countLate('lateBehindInactivity');
      else this.fireCustomerDeadlines(s, tp.occurredAt);
    }
    const adopted = s === undefined ? this.adopting.get(id) : undefined;
    if (adopted) this.adopting.delete(id);
    const after = this.evolveAndDecide(tp, id, s, adopted);
    // The link lists the id it names (a merge that handed a profile over listed it already).
    if (link === 'merge' || link === 'repoint') {
      const linked = linkedIdOf(tp);
      if (linked !== undefined && linked !== id && !after.mergedIds.includes(linked))
        after.mergedIds = withMergedId(after.mergedIds, linked);
    }
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
}
