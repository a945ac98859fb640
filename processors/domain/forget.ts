/**
 * Forgetting a person. `ciclo forget` writes a marker to every partition of the touchpoint topic
 * (schemas/forget.ts) naming the person's ids by their keyed pseudonyms (schemas/pseudonym.ts), never in
 * clear. When a partition reads it, it erases at once what it holds of the person (partition.ts `forget`,
 * a control action like a lane marker: it does not wait for the clock), and from then on drops whatever
 * names one of the person's ids: touchpoints, links, and the handoffs and forwards of partitions that had
 * not read their marker yet, each counted as `suppressed`. The domain gets the keyed hash as a function;
 * the secret and its I/O stay with the runtime.
 *
 * Who the person is on a partition (`personOf`): every id held here whose pseudonym the marker names, and
 * every id that leads to the same customer as one of those, plus that customer, by the identity table once
 * the links waiting in the reorder buffer are applied too (`projectedTable`). Whatever the partition holds
 * of those ids goes: customers' states and deadlines, the table's entries, items waiting in either reorder
 * buffer or queued for a held customer, early handoffs, the changes and messages of the batch not yet
 * written, and those ids in other customers' lists of linked ids (an id a conflict moved to the person).
 *
 * How the replicas of the identity table stay in agreement. Each partition reads its marker at another
 * point of its input; what differs between them is which of the links before the marker (in offset order:
 * one producer writes a link to every partition, then the marker comes) the clock has applied and which
 * still wait in the buffer. Applying the waiting ones to a copy gives every partition the same table, as
 * of every link before the marker, so every partition finds the same person among the ids of its table and
 * remembers the same pseudonyms (the marker's, and those of the ids the table adds). From then on:
 * - a link applied before the marker has its entries erased; one still waiting that names the person is
 *   dropped from the buffer; one after the marker that names a remembered id is dropped on reading: no
 *   partition keeps or applies a link of the person's, so once every partition has read the marker, all
 *   tables lack the same entries, and later links name no erased id (or are dropped everywhere alike);
 * - a link between a forgotten id and another id is dropped, so it neither brings the forgotten customer
 *   back nor pulls the other one's profile anywhere.
 * Limits. That holds for links whose ids are the person's from the link on, or never are. A conflict (a link
 * re-pointing an id that was another customer's, identity-table.ts) can move an id between the person and
 * another customer among the links before the marker: the links of that id from while it was the other
 * customer's keep their effect on that customer where they were applied before the marker, and are dropped
 * where they still waited (they name a forgotten id). Also, a link written while the marker is being written
 * can come before it on some partitions and after it on others. Either way the tables differ on the other
 * ids of such links, as after a late link (identity.ts), which the protocol survives (`handoffsMissing`,
 * MAX_FORWARD_HOPS), and no partition holds a forgotten id.
 *
 * Cost: a marker hashes every id the partition holds, once each: O(ids), fine as forgets are rare. Each
 * touchpoint and message after the first forget has its ids looked up; their verdicts are cached, so the
 * keyed hash runs once per id seen (VERDICTS_KEPT at a time). What is remembered grows by the pseudonyms
 * of each forgotten person (at most FORGET_IDS_LIMIT from the marker, plus the ids the table adds): 22
 * characters each, in memory and as one changelog record each (`__partition__/forgotten/<pseudonym>`):
 * 100,000 forgets of three ids are some 30 MB of memory and 300,000 small records read at a restore.
 */
import type { Touchpoint } from '../../schemas/touchpoint';
import type { CustomerState } from './customer';
import { linkedIdOf, type IdentityMessage } from './identity';
import type { CustomerItem } from './identity-protocol';
import { IdentityTable } from './identity-table';

/** The keyed pseudonym of an id (schemas/pseudonym.ts under the installation's secret). */
export type PseudonymOf = (id: string) => string;

/** How many ids' verdicts (forgotten or not) are cached at most; the cache starts over when full. */
export const VERDICTS_KEPT = 65_536;

/** What a forget did on one partition. */
export interface ForgetOutcome {
  /** Pseudonyms this partition had not forgotten before. */
  readonly newlyForgotten: number;
  /** Customers whose state was erased. */
  readonly customers: number;
  /** Ids erased: the person's ids held here, and ids that led to the person's customers. */
  readonly ids: number;
  /** Items that waited here for the person (touchpoints, links, handovers, forwards, early handoffs). */
  readonly items: number;
}

/** The pseudonyms of the people a partition has forgotten, and which ids are theirs. */
export class ForgottenPeople {
  private readonly pseudonyms: Set<string>;
  private added: string[] = [];
  private verdicts = new Map<string, boolean>();

  constructor(
    private readonly pseudonymOf: PseudonymOf | undefined,
    restored: Iterable<string> = [],
  ) {
    this.pseudonyms = new Set(restored);
  }

  get size(): number {
    return this.pseudonyms.size;
  }

  /** Whether `id` is one of a forgotten person's (cached). */
  has(id: string): boolean {
    if (this.pseudonyms.size === 0) return false;
    let verdict = this.verdicts.get(id);
    if (verdict === undefined) {
      verdict = this.pseudonyms.has(this.pseudonymOfId(id));
      if (this.verdicts.size >= VERDICTS_KEPT) this.verdicts = new Map();
      this.verdicts.set(id, verdict);
    }
    return verdict;
  }

  /** The same, uncached: for a forget's one pass over every id held, which would only churn the cache. */
  hasUncached(id: string): boolean {
    return this.pseudonyms.size > 0 && this.pseudonyms.has(this.pseudonymOfId(id));
  }

  pseudonymOfId(id: string): string {
    if (this.pseudonymOf === undefined)
      throw new Error('a partition that forgets people needs the keyed pseudonym of ids (PartitionOptions)');
    return this.pseudonymOf(id);
  }

  /** Remembers these pseudonyms too; returns how many were new. */
  add(pseudonyms: Iterable<string>): number {
    let added = 0;
    for (const p of pseudonyms) {
      if (this.pseudonyms.has(p)) continue;
      this.pseudonyms.add(p);
      this.added.push(p);
      added += 1;
    }
    if (added > 0 && this.verdicts.size > 0) this.verdicts = new Map(); // an id may be forgotten now
    return added;
  }

  /** The pseudonyms remembered since the last call (the changelog keeps a record of each). */
  takeAdded(): readonly string[] {
    const added = this.added;
    if (added.length > 0) this.added = [];
    return added;
  }

  /** Every pseudonym remembered (for a test). */
  list(): string[] {
    return [...this.pseudonyms];
  }

  /**
   * A message from another partition as it may be taken here: undefined when it is for or from a forgotten
   * id, or carries a touchpoint that names one; a handoff's profile without the forgotten ids it lists.
   */
  screen(message: IdentityMessage): IdentityMessage | undefined {
    const has = (id: string): boolean => this.has(id);
    if (messageNames(message, has)) return undefined;
    if (message.kind === 'handoff' && message.state !== null && message.state.mergedIds.some(has))
      return { ...message, state: withoutIds(message.state, has) };
    return message;
  }
}

/** The ids a touchpoint names: its customer, its anonymous id and the id a link joins to them. */
export function touchpointNames(tp: Touchpoint, isPerson: (id: string) => boolean): boolean {
  if (tp.customerId !== undefined && isPerson(tp.customerId)) return true;
  if (tp.anonymousId !== undefined && isPerson(tp.anonymousId)) return true;
  const linked = linkedIdOf(tp);
  return linked !== undefined && isPerson(linked);
}

export function idsOfTouchpoint(tp: Touchpoint): string[] {
  const ids: string[] = [];
  if (tp.customerId !== undefined) ids.push(tp.customerId);
  if (tp.anonymousId !== undefined) ids.push(tp.anonymousId);
  const linked = linkedIdOf(tp);
  if (linked !== undefined) ids.push(linked);
  return ids;
}

/** Whether an item of a customer is for one of the ids, or carries a touchpoint that names one. */
export function itemNames(item: CustomerItem, isPerson: (id: string) => boolean): boolean {
  switch (item.kind) {
    case 'touchpoint':
      return isPerson(item.customer) || touchpointNames(item.tp, isPerson);
    case 'handover':
      return isPerson(item.customer) || isPerson(item.into);
    case 'forward':
      return isPerson(item.to) || touchpointNames(item.touchpoint, isPerson);
  }
}

export function idsOfItem(item: CustomerItem): string[] {
  switch (item.kind) {
    case 'touchpoint':
      return [item.customer, ...idsOfTouchpoint(item.tp)];
    case 'handover':
      return [item.customer, item.into];
    case 'forward':
      return [item.to, ...idsOfTouchpoint(item.touchpoint)];
  }
}

/**
 * Whether a message is for or from one of the ids, or carries a touchpoint that names one. The ids a
 * handoff's profile lists are not its sender's or addressee's: `withoutIds` takes them out instead.
 */
export function messageNames(message: IdentityMessage, isPerson: (id: string) => boolean): boolean {
  switch (message.kind) {
    case 'handoff':
      return isPerson(message.from) || isPerson(message.into);
    case 'forward':
      return isPerson(message.to) || touchpointNames(message.touchpoint, isPerson);
    case 'progress':
      return false;
  }
}

export function idsOfMessage(message: IdentityMessage): string[] {
  switch (message.kind) {
    case 'handoff':
      return [message.from, message.into, ...(message.state ? idsOfState(message.state) : [])];
    case 'forward':
      return [message.to, ...idsOfTouchpoint(message.touchpoint)];
    case 'progress':
      return [];
  }
}

export function idsOfState(s: CustomerState): string[] {
  return [s.id, ...s.mergedIds];
}

/** A copy of a profile that lists none of the ids. */
export function withoutIds(s: CustomerState, isPerson: (id: string) => boolean): CustomerState {
  return { ...s, mergedIds: s.mergedIds.filter((id) => !isPerson(id)) };
}

/**
 * The identity table as it will be once the links waiting in the reorder buffer (`buffered`, in the order
 * they will be applied) are: what every partition's table is as of the links before a marker.
 */
export function projectedTable(table: IdentityTable, buffered: Iterable<Touchpoint>): IdentityTable {
  const projected = table.copy();
  for (const tp of buffered) {
    const key = tp.customerId ?? tp.anonymousId;
    const linked = linkedIdOf(tp);
    if (key !== undefined && linked !== undefined && linked !== key) projected.link(linked, key);
  }
  return projected;
}

/** The person: the ids found, each one's customer by `table`, and every id that leads to those. */
export function personOf(found: Iterable<string>, table: IdentityTable): Set<string> {
  const person = new Set<string>();
  for (const id of found) {
    person.add(id);
    const customer = table.resolve(id);
    person.add(customer);
    for (const member of table.membersOf(customer)) person.add(member);
  }
  return person;
}
