/**
 * The identity protocol at one partition (identity.ts says how links cross partitions): the partition's
 * replica of the identity table, what a link does here (hand a profile over, hold a customer until the
 * profile it absorbs comes, feed a customer from elsewhere), the progress of the other partitions, and the
 * items of customers fed from elsewhere, which wait for that progress. The fold it drives (applying
 * touchpoints, firing deadlines, emitting stage changes) is the partition's (partition.ts), reached through
 * the abstract members below.
 */
import type { Touchpoint } from '../../schemas/touchpoint';
import { hasApplied, mergeInto, type CustomerState } from './customer';
import { DeadlineSchedule } from './deadline-schedule';
import {
  homePartitionOf,
  linkedIdOf,
  MAX_FORWARD_HOPS,
  type ForwardedTouchpoint,
  type IdentityMessage,
  type ProfileHandoff,
} from './identity';
import { IdentityTable, type LinkDecision } from './identity-table';
import type { PartitionCounters, PartitionOptions } from './partition';
import { emptyCounters } from './partition-counters';
import { idsOfItem, idsOfMessage, idsOfState, itemNames, messageNames, withoutIds } from './forget';
import { PeerImports } from './peer-imports';
import { ReorderBuffer } from './reorder-buffer';

/** A touchpoint for customer `customer`; `link`: what the link it is did (identity-table.ts), if it is one. */
export interface CustomerTouchpoint {
  readonly kind: 'touchpoint';
  readonly eventId: string;
  readonly occurredAt: number;
  readonly customer: string;
  readonly tp: Touchpoint;
  readonly link?: LinkDecision['kind'];
}

/** At the source's home, at the link's event time: hand customer `customer` over to `into`. */
export interface Handover {
  readonly kind: 'handover';
  /** The link's event id. */
  readonly eventId: string;
  readonly occurredAt: number;
  readonly customer: string;
  readonly into: string;
}

/** What a customer's stream is made of, in (occurredAt, eventId) order. */
export type CustomerItem = CustomerTouchpoint | Handover | ForwardedTouchpoint;

export type HeldItem = { readonly item: CustomerItem; readonly deadlinesBefore: number };

/** A customer waiting for the profile of a link: the link first, then whatever came for it since. */
export interface HeldCustomer {
  readonly id: string;
  readonly linkEventId: string;
  /** Each item, with the deadline limit reached before it was queued: what would have fired between them. */
  readonly queue: HeldItem[];
}

export abstract class IdentityProtocol {
  readonly customers = new Map<string, CustomerState>();
  readonly counters: PartitionCounters = emptyCounters();
  protected readonly table = new IdentityTable();
  /** Customers here that ids homed elsewhere lead to (or led to): forwards can come for them. */
  protected readonly fedFromElsewhere = new Set<string>();
  private fedChanged = new Map<string, boolean>();
  protected takeFedChanged(): ReadonlyMap<string, boolean> {
    const changed = this.fedChanged;
    if (changed.size > 0) this.fedChanged = new Map();
    return changed;
  }
  /** Their items, waiting for the other partitions' progress. */
  protected readonly fed = new ReorderBuffer<CustomerItem>();
  /** Up to where their items have been applied: a forward behind it is late. */
  protected fedDrainedTo = -Infinity;
  /** Their deadlines, which fire up to the other partitions' progress too. */
  protected readonly fedDeadlines: DeadlineSchedule;
  /** Customers waiting for a handoff, by id. */
  protected readonly held = new Map<string, HeldCustomer>();
  /** Handoffs that came before their link was applied here, by link event id. */
  protected readonly arrived = new Map<string, ProfileHandoff>();
  /** What every other partition announced it has forwarded up to (identity.ts `Progress`). */
  protected readonly peers: number[];
  protected changed = new Set<string>();
  protected removed = new Map<string, number>();
  /**
   * The highest limit deadlines have been fired up to since the last lane opened (a flush goes past the
   * running limit; an import opened behind it brings it back, so that nothing fires past the import again).
   */
  protected deadlineLimit = -Infinity;
  /** The same for customers fed from elsewhere. */
  protected fedDeadlineLimit = -Infinity;

  constructor(
    readonly options: PartitionOptions,
    deadlineAt: (s: CustomerState) => number | undefined,
  ) {
    this.fedDeadlines = new DeadlineSchedule(deadlineAt);
    const route = options.route;
    this.peers = route ? Array.from({ length: route.partitions }, () => -Infinity) : [];
    if (route) {
      this.peers[route.partition] = Infinity;
      this.peerImports = new PeerImports(route.partitions, route.partition);
    }
  }

  protected abstract send(message: IdentityMessage): void;
  protected abstract applyTouchpoint(tp: Touchpoint, id: string, link?: LinkDecision['kind']): void;
  protected abstract fireCustomerDeadlines(s: CustomerState, until: number): void;
  protected abstract schedule(s: CustomerState): void;
  protected abstract forgetDeadlines(id: string): void;

  /** Up to where every other partition has forwarded what it will (Infinity: there are none). */
  protected get othersProgress(): number {
    let min = Infinity;
    this.peers.forEach((upTo, partition) => {
      const at = this.peerImports ? this.peerImports.bound(partition, upTo) : upTo;
      if (at < min) min = at;
    });
    return min;
  }

  /** What the other partitions know of imports (peer-imports.ts); undefined on one partition. */
  protected peerImports: PeerImports | undefined;

  protected resolve(id: string): string {
    return this.table.resolve(id);
  }

  protected isHome(id: string): boolean {
    const route = this.options.route;
    return route === undefined || homePartitionOf(id, route.partitions) === route.partition;
  }

  /** The deadline limit a customer's items wait behind. */
  protected deadlineLimitOf(id: string): number {
    return this.fedFromElsewhere.has(id) ? this.fedDeadlineLimit : this.deadlineLimit;
  }

  /**
   * A link, due here (every partition has it): the table decides, and whatever of it is this partition's
   * happens: the source handed over, the target given the link.
   */
  protected route(tp: Touchpoint, source: string, target: string): void {
    const decision = this.table.link(source, target);
    const into = decision.target;
    if (decision.kind === 'repoint' && this.isHome(into)) this.counters.identityConflicts += 1;
    if (decision.kind === 'merge') {
      if (this.isHome(decision.source))
        this.toCustomer({
          kind: 'handover',
          eventId: tp.eventId,
          occurredAt: tp.occurredAt,
          customer: decision.source,
          into,
        });
      if (this.isHome(into))
        for (const id of decision.moved) if (!this.isHome(id)) this.feedFromElsewhere(into);
    } else if (decision.kind === 'repoint' && this.isHome(into) && !this.isHome(decision.id))
      this.feedFromElsewhere(into);
    if (this.isHome(into))
      this.toCustomer({
        kind: 'touchpoint',
        eventId: tp.eventId,
        occurredAt: tp.occurredAt,
        customer: into,
        tp,
        link: decision.kind,
      });
  }

  /** Ids homed elsewhere lead to `id` now: from here on its items wait for the other partitions. */
  private feedFromElsewhere(id: string): void {
    if (this.fedFromElsewhere.has(id)) return;
    this.fedFromElsewhere.add(id);
    this.fedChanged.set(id, true);
    const s = this.customers.get(id);
    if (s) {
      this.forgetDeadlines(id);
      this.fedDeadlines.schedule(s);
    }
  }

  /** An item of a customer of this partition, due by this partition's clock. */
  protected toCustomer(item: CustomerItem): void {
    if (this.fedFromElsewhere.has(item.kind === 'forward' ? item.to : item.customer)) this.fed.push(item);
    else this.applyItem(item);
  }

  /** Applies the items of customers fed from elsewhere, and fires their deadlines, up to `limit`. */
  protected drainFed(eventLimit: number, deadlineLimit: number): void {
    const others = this.othersProgress;
    const limit = Math.min(eventLimit, others);
    if (limit > this.fedDrainedTo) this.fedDrainedTo = limit;
    for (let next = this.fed.takeDue(limit); next; next = this.fed.takeDue(limit)) this.applyItem(next);
    this.fireFedDeadlines(Math.min(deadlineLimit, others));
  }

  private fireFedDeadlines(limit: number): void {
    if (limit > this.fedDeadlineLimit) this.fedDeadlineLimit = limit;
    for (let due = this.fedDeadlines.takeDue(limit); due; due = this.fedDeadlines.takeDue(limit)) {
      const s = this.customers.get(due.id);
      if (!s || !this.fedFromElsewhere.has(due.id)) continue;
      if (this.held.size > 0 && this.held.has(due.id)) {
        this.fedDeadlines.forget(due.id); // fired when the hold ends
        continue;
      }
      if (this.deadlineAtOf(s) !== due.at) continue;
      this.fireCustomerDeadlines(s, limit);
    }
  }

  protected abstract deadlineAtOf(s: CustomerState): number | undefined;

  /** A customer's item, in its turn: queued if the customer waits for a profile. */
  protected applyItem(item: CustomerItem): void {
    const id = item.kind === 'forward' ? item.to : item.customer;
    const waiting = this.held.size > 0 ? this.held.get(id) : undefined;
    if (waiting) {
      waiting.queue.push({ item, deadlinesBefore: this.deadlineLimitOf(id) });
      return;
    }
    switch (item.kind) {
      case 'touchpoint':
        if (item.link === 'merge') this.applyMerge(item);
        else this.applyTouchpoint(item.tp, id, item.link);
        return;
      case 'handover':
        this.handOver(item);
        return;
      case 'forward':
        this.applyForwarded(item);
        return;
    }
  }

  /** The link of a merge, at the target: with the profile if it is here, else the target waits for it. */
  private applyMerge(item: CustomerTouchpoint): void {
    // What fires for the target before the link fires first, whether the profile is here or not.
    const s = this.customers.get(item.customer);
    if (s && item.occurredAt >= s.lastAppliedAt) this.fireCustomerDeadlines(s, item.occurredAt);
    const handoff = this.arrived.get(item.eventId);
    if (handoff === undefined) {
      this.held.set(item.customer, {
        id: item.customer,
        linkEventId: item.eventId,
        queue: [{ item, deadlinesBefore: this.deadlineLimitOf(item.customer) }],
      });
      return;
    }
    this.arrived.delete(item.eventId);
    this.absorb(item.customer, handoff.state);
    this.applyTouchpoint(item.tp, item.customer, 'merge');
  }

  /** Folds a profile handed over into customer `id` (created by the link, if new, from the profile). */
  private absorb(id: string, absorbed: CustomerState | null): void {
    if (absorbed === null) return;
    this.counters.merges += 1;
    const s = this.customers.get(id);
    if (s === undefined) {
      this.adopting.set(id, absorbed);
      return;
    }
    mergeInto(s, absorbed);
    this.changed.add(id);
    this.schedule(s);
  }

  /** Profiles handed over to customers that do not exist yet: the link creates them from it. */
  protected readonly adopting = new Map<string, CustomerState>();

  /** At the source's home, at the link's event time: hands the profile over. */
  private handOver(item: Handover): void {
    const { customer: from, into } = item;
    const s = this.customers.get(from);
    if (s) {
      if (item.occurredAt >= s.lastAppliedAt) this.fireCustomerDeadlines(s, item.occurredAt);
      this.customers.delete(from);
      this.forgetDeadlines(from);
      this.removed.set(from, s.sequence);
      this.changed.delete(from);
    }
    if (this.fedFromElsewhere.delete(from)) this.fedChanged.set(from, false);
    this.send({
      kind: 'handoff',
      linkEventId: item.eventId,
      occurredAt: item.occurredAt,
      from,
      into,
      state: s ?? null,
    });
  }

  /**
   * A forward, in its customer's turn: to the customer its sender's table named at its event time, which is
   * this partition's table at that time too (this one may be further on already). Only should that customer
   * have been handed on before it (a late touchpoint) does it follow where the customer went.
   */
  private applyForwarded(f: ForwardedTouchpoint): void {
    const id = f.occurredAt > this.fedDrainedTo || this.customers.has(f.to) ? f.to : this.resolve(f.to);
    if (!this.isHome(id)) {
      this.forward(f.touchpoint, id, f.hops);
      return;
    }
    this.applyTouchpoint(f.touchpoint, id);
  }

  protected forward(tp: Touchpoint, to: string, hops: number): void {
    if (hops >= MAX_FORWARD_HOPS) {
      this.counters.ignored += 1; // replicas that disagree (late links) could send it round: stop
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

  /**
   * Up to where every handoff this partition will send has been sent: its input is routed that far, the
   * items of customers fed from elsewhere applied that far, and no customer waits before it (a waiting
   * customer's handover is queued with it).
   */
  protected handedUpTo(): number {
    let upTo = this.routedUpTo();
    if (this.fedFromElsewhere.size > 0 && this.fedDrainedTo < upTo) upTo = this.fedDrainedTo;
    for (const h of this.held.values()) {
      const at = h.queue[0]!.item.occurredAt - 1;
      if (at < upTo) upTo = at;
    }
    return upTo;
  }

  protected abstract routedUpTo(): number;

  /**
   * Partition `partition` has sent every handoff up to `upTo` (identity.ts `Progress.handedUpTo`; no further
   * than the start of an import it has not named, peer-imports.ts), and a handoff comes before the progress
   * that covers it: a customer here still waiting for the profile of a link before then, from that
   * partition, gets none. That partition decided the link otherwise (it applied a late link at another point
   * than this one). The customer stops waiting and applies the link without the profile, counted; should
   * the profile come after all, it is merged then (`receiveHandoff`).
   */
  protected giveUpWaitingOn(partition: number, handedUpTo: number): void {
    const route = this.options.route;
    if (this.held.size === 0 || route === undefined) return;
    const upTo = this.peerImports ? this.peerImports.bound(partition, handedUpTo) : handedUpTo;
    for (const waiting of [...this.held.values()]) {
      const link = waiting.queue[0]!.item as CustomerTouchpoint;
      const source = linkedIdOf(link.tp);
      if (!(link.occurredAt < upTo) || source === undefined) continue;
      if (homePartitionOf(source, route.partitions) !== partition) continue;
      this.counters.handoffsMissing += 1;
      this.complete(waiting, {
        kind: 'handoff',
        linkEventId: waiting.linkEventId,
        occurredAt: link.occurredAt,
        from: source,
        into: waiting.id,
        state: null,
      });
    }
  }

  /** A handoff: completes the link its target waits on, or waits for the link. */
  protected receiveHandoff(handoff: ProfileHandoff): void {
    const waiting = this.held.get(handoff.into);
    if (waiting && waiting.linkEventId === handoff.linkEventId) {
      this.complete(waiting, handoff);
      return;
    }
    const s = this.customers.get(handoff.into);
    if (s !== undefined && hasApplied(s, handoff.linkEventId)) {
      // The link was applied without it (replicas that disagreed on a late link): merged now, not lost.
      this.counters.late += 1;
      this.counters.lateBehindCustomer += 1;
      if (handoff.state) {
        mergeInto(s, handoff.state);
        this.changed.add(s.id);
        this.schedule(s);
      }
      return;
    }
    this.arrived.set(handoff.linkEventId, handoff);
  }

  /** The profile came: the link is applied, then everything that waited with it, in order. */
  private complete(waiting: HeldCustomer, handoff: ProfileHandoff): void {
    const id = waiting.id;
    this.held.delete(id);
    const [first, ...rest] = waiting.queue;
    this.absorb(id, handoff.state);
    this.applyTouchpoint((first!.item as CustomerTouchpoint).tp, id, 'merge');
    this.applyQueued(id, rest);
  }

  /** What waited for customer `id`, which waits no longer, in order. */
  private applyQueued(id: string, rest: readonly HeldItem[]): void {
    for (let i = 0; i < rest.length; i++) {
      const { item, deadlinesBefore } = rest[i]!;
      // What would have happened to this customer between its items, had it not waited.
      const s = this.customers.get(id);
      if (s) this.fireCustomerDeadlines(s, deadlinesBefore);
      this.applyItem(item);
      const again = this.held.get(id);
      if (again) {
        // Another link: the rest waits for that profile in turn.
        for (const q of rest.slice(i + 1)) again.queue.push(q);
        return;
      }
      if (!this.customers.has(id) && item.kind === 'handover') {
        // Handed on: what came after it belongs to where its ids lead now.
        for (const later of rest.slice(i + 1)) this.reroute(later.item);
        return;
      }
    }
    const s = this.customers.get(id);
    if (s) {
      this.fireCustomerDeadlines(s, this.deadlineLimitOf(id));
      this.schedule(s);
    }
  }

  /** An item of a customer that was handed on while it waited: to where its id leads now. */
  private reroute(item: CustomerItem): void {
    if (item.kind === 'handover') return; // a second handover of one customer: nothing left to hand
    const tp = item.kind === 'forward' ? item.touchpoint : item.tp;
    const to = this.resolve(item.kind === 'forward' ? item.to : item.customer);
    if (this.isHome(to))
      this.applyItem({
        kind: 'forward',
        eventId: tp.eventId,
        occurredAt: tp.occurredAt,
        to,
        hops: 0,
        touchpoint: tp,
      });
    else this.forward(tp, to, 0);
  }

  /** Every id the identity protocol holds here: a forget looks for the person's among them (forget.ts). */
  protected *heldIds(): Generator<string> {
    for (const s of this.customers.values()) yield* idsOfState(s);
    yield* this.table.ids();
    yield* this.fedFromElsewhere;
    for (const item of this.fed.inOrder()) yield* idsOfItem(item);
    for (const h of this.held.values()) {
      yield h.id;
      for (const q of h.queue) yield* idsOfItem(q.item);
    }
    for (const h of this.arrived.values()) yield* idsOfMessage(h);
    for (const [id, s] of this.adopting) yield* [id, ...idsOfState(s)];
  }

  /**
   * Erases the person (forget.ts `personOf`) from what the identity protocol holds; adds to `erased` every id
   * whose changelog records go. A customer waiting for a profile keeps none of the person's items, and one
   * whose link was the person's stops waiting: what queued behind the link is applied.
   */
  protected erasePerson(
    person: ReadonlySet<string>,
    erased: Set<string>,
  ): { customers: number; items: number } {
    const isPerson = (id: string): boolean => person.has(id);
    let customers = 0;
    let items = 0;
    for (const id of this.table.erase(person)) erased.add(id);
    for (const id of person) {
      erased.add(id);
      if (this.customers.delete(id)) {
        customers += 1;
        this.forgetDeadlines(id);
      }
      this.changed.delete(id);
      this.removed.delete(id);
      this.adopting.delete(id);
      if (this.fedFromElsewhere.delete(id)) this.fedChanged.set(id, false);
      const held = this.held.get(id);
      if (held) {
        this.held.delete(id);
        items += held.queue.length;
      }
    }
    // An id a conflict moved from another customer to the person's is listed by that customer still.
    for (const s of this.customers.values())
      if (s.mergedIds.some(isPerson)) {
        s.mergedIds = s.mergedIds.filter((id) => !isPerson(id));
        this.changed.add(s.id);
      }
    for (const [id, s] of this.adopting)
      if (s.mergedIds.some(isPerson)) this.adopting.set(id, withoutIds(s, isPerson));
    for (const [link, h] of this.arrived)
      if (messageNames(h, isPerson)) {
        this.arrived.delete(link);
        items += 1;
      } else if (h.state?.mergedIds.some(isPerson))
        this.arrived.set(link, { ...h, state: withoutIds(h.state, isPerson) });
    items += this.fed.removeWhere((item) => itemNames(item, isPerson)).length;
    const released: HeldCustomer[] = [];
    for (const h of this.held.values()) {
      const queue = h.queue.filter((q) => !itemNames(q.item, isPerson));
      if (queue.length === h.queue.length) continue;
      items += h.queue.length - queue.length;
      if (queue[0] === h.queue[0]) this.held.set(h.id, { ...h, queue });
      else released.push({ ...h, queue });
    }
    for (const h of released) {
      this.held.delete(h.id);
      this.applyQueued(h.id, h.queue);
    }
    return { customers, items };
  }
}
