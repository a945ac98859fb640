/**
 * The keys of the lifecycle processor's changelog (`ciclo.lifecycle-state`, compacted): one record per key,
 * the latest wins, a tombstone deletes. Every key starts with the model's id, so models share the topic.
 * What each record holds, and how the format changed, is in docs/changelog-format.md.
 *
 *   model/<customer id>                                  a customer's state, or a redirect (the id belongs
 *                                                        to another customer now)
 *   model/__partition__                                  the partition's checkpoint (lanes, deadline limit,
 *                                                        the reorder buffer while it is small)
 *   model/__partition__/held/<customer id>               a customer waiting for a handoff, and its first items
 *   model/__partition__/held-item/<place>/<customer id>  each later item queued for it
 *   model/__partition__/arrived/<link event id>          a handoff that came before its link
 *   model/__partition__/redirect/<id>                    an id that leads to another customer (format 8; the
 *                                                        replica of the identity table, every link's ids)
 *   model/__partition__/fed/<customer id>                a customer that ids homed elsewhere lead to
 *   model/__partition__/claim/<source id>                (format 7 and older) a link's first claim
 *   model/__partition__/applied/<customer id>            a customer's older applied-event hashes
 *   model/__partition__/pending/<kind>/...               an item of a large reorder buffer (the input's, or a
 *                                                        customer's fed from elsewhere)
 *   model/__partition__/forgotten/<pseudonym>            a person forgotten here (format 10), by the keyed
 *                                                        pseudonym of one of their ids, never the id
 *   model/__partition__/recent/<seq>                     input events taken lately, to drop their copies
 *                                                        (format 11; processors/domain/recent-events.ts)
 */
import type { BufferedItem } from '../../domain/partition';

export const PARTITION_KEY = '__partition__';
export const HELD_KEY_PREFIX = '__partition__/held/';
/**
 * An item queued for a held customer: its place in the queue, '/', the customer's id. The place comes first:
 * ids can hold any character, digits and '/' never end a place.
 */
export const HELD_ITEM_KEY_PREFIX = '__partition__/held-item/';
export const ARRIVED_KEY_PREFIX = '__partition__/arrived/';
export const CLAIM_KEY_PREFIX = '__partition__/claim/';
export const FED_KEY_PREFIX = '__partition__/fed/';
export const REDIRECT_KEY_PREFIX = '__partition__/redirect/';
export const APPLIED_KEY_PREFIX = '__partition__/applied/';
export const PENDING_KEY_PREFIX = '__partition__/pending/';
export const FORGOTTEN_KEY_PREFIX = '__partition__/forgotten/';
export const RECENT_KEY_PREFIX = '__partition__/recent/';

export function changelogKey(modelId: string, id: string): string {
  return `${modelId}/${id}`;
}

export const heldItemKey = (id: string, place: number): string => `${HELD_ITEM_KEY_PREFIX}${place}/${id}`;

/**
 * The key of a reorder-buffer item: its kind and event id, and for an item of a customer (a forward, a
 * touchpoint routed to it, a handover) that customer: a link's one event is a touchpoint for its target and a
 * handover of its source. The buffers hold one input touchpoint per event id (reorder-buffer.ts); two forwards
 * of one touchpoint to one customer are a redelivery, of which one is applied either way. The id's length
 * comes first, so no two (customer, event) pairs make the same key whatever characters the ids hold.
 */
export function pendingKeyOf(item: BufferedItem): string {
  if (!('kind' in item)) return `${PENDING_KEY_PREFIX}touchpoint/${item.eventId}`;
  const customer = item.kind === 'forward' ? item.to : item.customer;
  return `${PENDING_KEY_PREFIX}${item.kind}/${customer.length}:${customer}/${item.eventId}`;
}

/** What a key (less its model prefix) names. */
export type ChangelogKey =
  | { readonly kind: 'checkpoint' }
  | { readonly kind: 'held'; readonly customerId: string }
  | { readonly kind: 'held-item'; readonly customerId: string; readonly place: number }
  | { readonly kind: 'arrived'; readonly linkEventId: string }
  | { readonly kind: 'claim'; readonly from: string }
  | { readonly kind: 'fed'; readonly customerId: string }
  | { readonly kind: 'redirect'; readonly id: string }
  | { readonly kind: 'applied'; readonly customerId: string }
  | { readonly kind: 'pending'; readonly key: string }
  | { readonly kind: 'forgotten'; readonly pseudonym: string }
  | { readonly kind: 'recent'; readonly seq: number }
  | { readonly kind: 'customer'; readonly id: string };

/** What `id` (a key less its model prefix) names, or a reason it names nothing. */
export function parseChangelogKey(id: string): ChangelogKey | string {
  if (id.startsWith(HELD_ITEM_KEY_PREFIX)) {
    const rest = id.slice(HELD_ITEM_KEY_PREFIX.length);
    const slash = rest.indexOf('/');
    const place = Number(rest.slice(0, slash));
    if (slash < 1 || !Number.isInteger(place) || place < 0)
      return "it does not name a place in a held customer's queue";
    return { kind: 'held-item', customerId: rest.slice(slash + 1), place };
  }
  if (id.startsWith(PENDING_KEY_PREFIX)) return { kind: 'pending', key: id };
  if (id.startsWith(APPLIED_KEY_PREFIX))
    return { kind: 'applied', customerId: id.slice(APPLIED_KEY_PREFIX.length) };
  if (id.startsWith(CLAIM_KEY_PREFIX)) return { kind: 'claim', from: id.slice(CLAIM_KEY_PREFIX.length) };
  if (id.startsWith(REDIRECT_KEY_PREFIX))
    return { kind: 'redirect', id: id.slice(REDIRECT_KEY_PREFIX.length) };
  if (id.startsWith(FED_KEY_PREFIX)) return { kind: 'fed', customerId: id.slice(FED_KEY_PREFIX.length) };
  if (id.startsWith(RECENT_KEY_PREFIX)) {
    const seq = Number(id.slice(RECENT_KEY_PREFIX.length));
    if (!Number.isSafeInteger(seq) || seq < 0) return 'it does not name a record of recent events';
    return { kind: 'recent', seq };
  }
  if (id.startsWith(FORGOTTEN_KEY_PREFIX))
    return { kind: 'forgotten', pseudonym: id.slice(FORGOTTEN_KEY_PREFIX.length) };
  if (id.startsWith(ARRIVED_KEY_PREFIX))
    return { kind: 'arrived', linkEventId: id.slice(ARRIVED_KEY_PREFIX.length) };
  if (id.startsWith(HELD_KEY_PREFIX)) return { kind: 'held', customerId: id.slice(HELD_KEY_PREFIX.length) };
  if (id === PARTITION_KEY) return { kind: 'checkpoint' };
  return { kind: 'customer', id };
}
