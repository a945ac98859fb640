/**
 * The identity protocol at one partition (identity.ts says how links cross partitions): claims at a source's
 * home hand its profile over as of the link, handoffs complete the link at the target's home, redirect and
 * conflict notices bring ids' homes up to date, and customers wait (held) for the profiles they absorb. It
 * owns the partition's redirect table, held customers, early handoffs and links' first claims; the fold it
 * drives (applying touchpoints, firing deadlines, emitting stage changes) is the partition's (partition.ts),
 * reached through the abstract members below.
 */
import type { Touchpoint } from '../../schemas/touchpoint';
import { hasApplied, mergeInto, withMergedId, type CustomerState } from './customer';
import {
  homePartitionOf,
  MAX_FORWARD_HOPS,
  type ForwardedTouchpoint,
  type IdentityClaim,
  type IdentityMessage,
  type ProfileHandoff,
} from './identity';
import { LinkClaims } from './link-claims';
import type { HeldCustomer, PartitionCounters, PartitionOptions } from './partition';
import { emptyCounters } from './partition-counters';
import type { PendingItem } from './reorder-buffer';
import { Redirects } from './redirects';

/** The claim of a link: one id for the link's copy and the target's own claim, so that one is dropped. */
export const claimIdOf = (linkEventId: string): string => `${linkEventId}/claim`;

export abstract class IdentityProtocol {
  readonly customers = new Map<string, CustomerState>();
  readonly counters: PartitionCounters = emptyCounters();
  protected readonly redirects = new Redirects();
  /** Customers waiting for a handoff (identity.ts), by id. */
  protected readonly held = new Map<string, HeldCustomer>();
  /** Handoffs that came before their link was applied here, by link event id. */
  protected readonly arrived = new Map<string, ProfileHandoff>();
  /** First claims of links whose other claim has not come (link-claims.ts). */
  protected readonly claims = new LinkClaims();
  protected changed = new Set<string>();
  protected removed = new Map<string, number>();
  /**
   * The highest limit deadlines have been fired up to since the last lane opened (a flush goes past the
   * running limit; an import opened behind it brings it back, so that nothing fires past the import again).
   */
  protected deadlineLimit = -Infinity;

  constructor(readonly options: PartitionOptions) {}

  protected abstract send(message: IdentityMessage): void;
  protected abstract apply(item: PendingItem): void;
  protected abstract applyForwarded(f: ForwardedTouchpoint): void;
  protected abstract applyTo(tp: Touchpoint, id: string, s: CustomerState | undefined): void;
  protected abstract evolveAndDecide(
    tp: Touchpoint,
    id: string,
    existing: CustomerState | undefined,
    adopted: CustomerState | undefined,
  ): CustomerState;
  protected abstract fireCustomerDeadlines(s: CustomerState, until: number): void;
  protected abstract schedule(s: CustomerState): void;
  protected abstract forgetDeadlines(id: string): void;

  protected resolve(id: string): string {
    return this.redirects.resolve(id);
  }

  protected isHome(id: string): boolean {
    const route = this.options.route;
    return route === undefined || homePartitionOf(id, route.partitions) === route.partition;
  }

  /** At the source's home, at the link's event time: hand the profile over and redirect its ids. */
  protected applyClaim(claim: IdentityClaim): void {
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
        this.forgetDeadlines(from);
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
  protected redirectHandedOver(from: string, into: string, named: string): void {
    if (into !== named && this.redirects.get(from) === named && this.resolve(into) !== from)
      this.redirect(from, into);
  }

  /**
   * Tells `id`'s home that `id` (and the ids in `listed`) lead to `into` as of the link, if they still lead to
   * `insteadOf`, where the link sent them (identity.ts `IdentityClaim.insteadOf`).
   */
  protected sendRedirectNotice(
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
  protected applyRedirectNotice(notice: IdentityClaim, insteadOf: string): void {
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
  protected sendConflictNotices(claim: IdentityClaim, left: string): void {
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
  protected answer(claim: IdentityClaim, state: CustomerState | null): void {
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
  protected applyQueuedFor(id: string, tp: Touchpoint): void {
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
  protected redirect(id: string, into: string, at?: number): void {
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
  protected mergeLate(s: CustomerState, absorbed: CustomerState, link: ProfileHandoff): void {
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
  protected adoptIds(absorbed: CustomerState, id: string, link: ProfileHandoff): void {
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
  protected completeLink(handoff: ProfileHandoff, arrived: boolean): void {
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
