/**
 * Identity across partitions. Touchpoints are keyed by customer id, else anonymous id, so an anonymous
 * browsing history and the customer it turns out to be (or two customer ids joined by an alias) usually live
 * on different partitions. A link is resolved by a small protocol between partitions, the same whether the
 * two ids share a partition or not, so the outcome never depends on where ids happen to hash:
 *
 * 1. The linking touchpoint is written twice (schemas/topics.ts `touchpointKeys`): keyed by its customer, and
 *    as a routing copy keyed by the linked (source) id. The copy reaches the source's partition in that
 *    partition's own order and acts there as a claim: "hand over the source as of the link's event time".
 * 2. The source's partition applies the claim in event-time order with the source's own touchpoints (the
 *    reorder buffer), so the profile handed over is exactly the profile as of the link, whenever the other
 *    partition gets to it. It removes the profile, keeps a redirect (source -> target) and sends the
 *    profile as a handoff to the target's partition.
 * 3. The target's partition applies the linking touchpoint: with the handoff already there, it merges it
 *    first; otherwise the customer is held, its later touchpoints queued in order (with the deadlines that
 *    would have fired between them), until the handoff comes. So the target's outcome does not depend on
 *    when the handoff arrives either.
 *
 * A link that arrives without its copy (a producer that does not write one, or a link forwarded from
 * another partition) still works: the held target sends the claim itself. The source then applies it when
 * it arrives, which is exact unless the source had touchpoints or inactivity deadlines of its own between
 * the link and the claim's arrival.
 *
 * A link's two claims differ: the copy's knows only the id the link names, as the source's partition cannot
 * tell which customer that id has become (its redirects live at its own home); the target's names that
 * customer. A copy applied after the target's claim changes nothing. A target's claim applied after a copy
 * that handed a profile over (to the named id, whose home sends it on to the customer) only re-points the
 * source to the customer: a second, empty answer would release the target without the profile, which would
 * then be merged after the link. After a copy that handed nothing over, it decides again. Redirects are
 * brought up to date at the ids' homes by redirect notices (a claim with `insteadOf`): when a handoff is
 * sent on from the named id to the customer it became, the source's home learns that customer; when a
 * merge absorbs a profile, the homes of the ids it listed learn the survivor. On one partition a redirect
 * names the customer at once; without the notices, an id led there through a chain of redirects on several
 * partitions, which went elsewhere once an id in the middle was re-pointed (or the chain looped). And when a
 * conflict re-points an id from one customer to another, the homes of both learn it (notices addressed
 * `toHomeOf` each): the customer it left still lists the id, and a link's copy claiming that customer for
 * the id would otherwise take the link for a link back and hand nothing over, while the target's own claim,
 * which is right, can wait on an idle partition. Such a notice is dropped where the id it joined leads to
 * the customer it left: the conflict was only apparent, decided on less than that partition knows.
 *
 * Later touchpoints that still carry only the source id reach its home partition, which forwards them to
 * the target's home, where they are applied by event time like any input (late, and counted, if they come
 * after the grace period). An id that already belongs to another customer is not merged again (a shared
 * device is not proof that two customers are one person): it is re-pointed to the new customer and counted
 * as a conflict. Only an explicit alias merges two known customers.
 *
 * Messages are plain data; the runtime carries them on a co-partitioned internal topic, in the same
 * transaction as the input offsets, and `lifecycle replay` delivers them in memory.
 */
import type { Touchpoint } from '../../schemas/touchpoint';
export { linkedIdOf } from '../../schemas/topics';
import type { CustomerState } from './customer';
import { partitionFor } from '../../schemas/partitioner';

/** "Hand over `from` as of `occurredAt`: it is `into` from now on." Addressed to `from`'s home. */
export interface IdentityClaim {
  readonly kind: 'claim';
  /** Orders the claim among the partition's touchpoints (occurredAt, then eventId). */
  readonly eventId: string;
  readonly occurredAt: number;
  /** The linking touchpoint, which the target customer is held on. */
  readonly linkEventId: string;
  readonly from: string;
  readonly into: string;
  /**
   * Present: a redirect notice, not a claim on a profile. `from` (and each of `listed`) leads to `into` as of
   * the link if it still leads to `insteadOf`, where the link sent it, or was last re-pointed by an earlier
   * link; a later link's re-point stays. Nothing is handed over or answered.
   */
  readonly insteadOf?: string;
  /** With `insteadOf`: the ids the source's profile listed, which its home redirected with it. */
  readonly listed?: readonly string[];
  /**
   * With `insteadOf`: the notice of a conflict at `from`'s home, which re-pointed `from` from customer
   * `insteadOf` to `into`, goes to this customer's home instead: to `insteadOf`'s, which still lists `from`
   * and learns that it is no longer its own, and to that of the customer `into` leads to, which may have
   * learned so of an earlier conflict and learns that `from` is back.
   */
  readonly toHomeOf?: string;
  /**
   * With `toHomeOf` the customer `from` joined: how often it was sent on to the customer `into` turned out
   * to lead to at that customer's home (absent: never), cut after MAX_FORWARD_HOPS.
   */
  readonly hops?: number;
  /** Made from the link's routing copy at `from`'s home: `into` is the id the link names, unresolved. */
  readonly byLinkCopy?: true;
}

/** The source profile as of the link, or null when there was none to hand over. Addressed to `into`'s home. */
export interface ProfileHandoff {
  readonly kind: 'handoff';
  readonly linkEventId: string;
  readonly occurredAt: number;
  readonly from: string;
  readonly into: string;
  readonly state: CustomerState | null;
  /** How often it was sent on after its target (absent: never); cut after MAX_FORWARD_HOPS. */
  readonly hops?: number;
}

/** A touchpoint that reached the home of an id which now belongs to `to`. Addressed to `to`'s home. */
export interface ForwardedTouchpoint {
  readonly kind: 'forward';
  readonly eventId: string;
  readonly occurredAt: number;
  readonly to: string;
  /** Forwards so far: a chain of redirects longer than MAX_FORWARD_HOPS is cut (and counted). */
  readonly hops: number;
  readonly touchpoint: Touchpoint;
}

/**
 * A message as it travels: with the import lanes open at its sender (run id -> the start its open marker
 * announced), so that an addressee which has not read a lane's open marker yet waits for that lane before it
 * applies anything the lane caused elsewhere (lanes.ts `adopt`). The identity topic and the touchpoint
 * topic are read independently: without this, a claim caused by an import's record could be applied before
 * the import's own records for the claimed id had arrived.
 */
export type IdentityMessage = (IdentityClaim | ProfileHandoff | ForwardedTouchpoint) & {
  readonly lanes?: Readonly<Record<string, number>>;
};

export const MAX_FORWARD_HOPS = 8;

/** The id whose home partition a message goes to. */
export function addresseeOf(message: IdentityMessage): string {
  switch (message.kind) {
    case 'claim':
      return message.toHomeOf ?? message.from;
    case 'handoff':
      return message.into;
    case 'forward':
      return message.to;
  }
}

/** Where ids live: partition `partition` of `partitions`, by Kafka's partitioner. */
export interface PartitionRoute {
  readonly partition: number;
  readonly partitions: number;
}

export function homePartitionOf(id: string, partitions: number): number {
  return partitionFor(id, partitions);
}
