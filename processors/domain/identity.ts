/**
 * Identity across partitions. Touchpoints are keyed by customer id, else anonymous id, so an anonymous
 * browsing history and the customer it turns out to be (or two customer ids joined by an alias) usually live
 * on different partitions. Each id has a home partition (Kafka's partitioner on the id); a customer's profile
 * lives at its own id's home.
 *
 * Who belongs to whom is decided once, everywhere alike: every link (an identify call with both ids, an
 * alias) is written to every partition, and each partition applies it to its replica of the identity table
 * (identity-table.ts) in its own event-time order. A partition whose clock has passed a time knows every link
 * up to it, as every other partition does. Only data travels between partitions, never a question:
 *
 * - A merge (source into target): the source's home, at the link's event time in the source's own order,
 *   fires the source's deadlines up to the link and hands its profile over (`ProfileHandoff`; null when it
 *   had none). The target's home applies the link to the target once the profile is there; until then the
 *   target waits (held), whatever comes for it queued in order. So the profile merged is the profile as of
 *   the link, whenever either partition gets there.
 * - A touchpoint under an id whose customer lives elsewhere is sent on to the customer's home
 *   (`ForwardedTouchpoint`): the table says where, at the touchpoint's event time.
 * - A customer that ids homed elsewhere lead to is "fed from elsewhere": forwards can come for it. It is
 *   applied (and its deadlines fire) only up to the progress every other partition has announced
 *   (`Progress`: all it will forward up to that time is sent), so a forward is never behind it. Messages
 *   from one partition to another arrive in the order they were sent (one producer, one topic partition),
 *   so a progress comes after every forward it covers.
 *
 * Nothing waits on anything later than itself: a partition's progress depends on its input alone, a
 * handoff on the source's own items up to the link, so no two partitions wait on each other.
 *
 * Messages are plain data; the runtime carries them on a co-partitioned internal topic, in the same
 * transaction as the input offsets, and `lifecycle replay` delivers them in memory.
 */
import type { Touchpoint } from '../../schemas/touchpoint';
export { linkedIdOf } from '../../schemas/topics';
import type { CustomerState } from './customer';
import { partitionFor } from '../../schemas/partitioner';

/** The source profile as of the link, or null when there was none. Addressed to the target's home. */
export interface ProfileHandoff {
  readonly kind: 'handoff';
  readonly linkEventId: string;
  readonly occurredAt: number;
  readonly from: string;
  readonly into: string;
  readonly state: CustomerState | null;
}

/** A touchpoint under an id that belongs to `to`, a customer elsewhere. Addressed to `to`'s home. */
export interface ForwardedTouchpoint {
  readonly kind: 'forward';
  readonly eventId: string;
  readonly occurredAt: number;
  readonly to: string;
  /** Forwards so far: should replicas ever disagree, a touchpoint sent round is cut (and counted). */
  readonly hops: number;
  readonly touchpoint: Touchpoint;
}

/** "Partition `partition` has sent every forward up to `upTo` (event time)." Addressed to partition `to`. */
export interface Progress {
  readonly kind: 'progress';
  readonly partition: number;
  readonly to: number;
  readonly upTo: number;
  /** The newest event time the sender's input has carried: how far a partition that went quiet may go. */
  readonly newest: number;
  /**
   * The import lanes the sender closed last (with `lanes`, those open there: what it knows of imports). Its
   * `upTo` covers no import it has not seen: for a lane open at the addressee and unknown to the sender, the
   * sender has forwarded nothing of it yet (identity-protocol.ts `othersProgress`).
   */
  readonly closed?: readonly string[];
  /**
   * Up to where the sender has sent every handoff it will send (absent: `upTo`). A customer waiting for a
   * handoff from the sender for a link before it gets none: the sender's table decided that link otherwise
   * (replicas that applied a late link at different points), and the customer stops waiting.
   */
  readonly handedUpTo?: number;
}

/**
 * A message as it travels: with the import lanes open at its sender (run id -> the start its open marker
 * announced), so that an addressee which has not read a lane's open marker yet waits for that lane before it
 * applies anything the lane caused elsewhere (lanes.ts `adopt`). The identity topic and the touchpoint
 * topic are read independently.
 */
export type IdentityMessage = (ProfileHandoff | ForwardedTouchpoint | Progress) & {
  readonly lanes?: Readonly<Record<string, number>>;
};

export const MAX_FORWARD_HOPS = 8;

/** Where ids live: partition `partition` of `partitions`, by Kafka's partitioner. */
export interface PartitionRoute {
  readonly partition: number;
  readonly partitions: number;
}

export function homePartitionOf(id: string, partitions: number): number {
  return partitionFor(id, partitions);
}

/** The partition a message goes to. */
export function partitionOfMessage(message: IdentityMessage, partitions: number): number {
  switch (message.kind) {
    case 'handoff':
      return homePartitionOf(message.into, partitions);
    case 'forward':
      return homePartitionOf(message.to, partitions);
    case 'progress':
      return message.to;
  }
}
