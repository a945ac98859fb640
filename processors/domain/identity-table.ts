/**
 * Which customer every id belongs to, decided link by link in event-time order. Every partition keeps a
 * replica: each link is written to every partition (schemas/topics.ts `touchpointRecords`), in the lanes of
 * its source, so a partition whose clock has reached an event time has applied every link up to it, in the
 * same order as every other partition, and all replicas agree on every decision. No partition asks another
 * what an id has become; only profiles and touchpoints travel between partitions (identity.ts).
 *
 * A link names a source id (the anonymous id of an identify call, the previous id of an alias) and a target
 * id (the customer it is about). Where the target id already leads to a customer, the link is about that one.
 * - The source is a customer of its own (it never led anywhere): it is merged into the target. It and every
 *   id that led to it lead to the target from now on, and its profile is folded into the target's.
 * - The source already leads to the target's customer: nothing changes.
 * - The source leads to another customer (a shared device, an id reused): it now leads to the target's
 *   customer alone, nothing is merged, and the link counts as a conflict. Only a link that names a customer
 *   merges it: an id that is someone else's is not proof that two customers are one person.
 *
 * Every id leads to its customer in one step (a merge re-points every id of the absorbed customer), so ids
 * never chain and never loop.
 */

/** What a link did. */
export type LinkDecision =
  | {
      readonly kind: 'merge';
      readonly source: string;
      readonly target: string;
      readonly moved: readonly string[];
    }
  | { readonly kind: 'repoint'; readonly id: string; readonly left: string; readonly target: string }
  | { readonly kind: 'none'; readonly target: string };

export class IdentityTable {
  /** Ids that lead to another customer: id -> that customer. A customer's own id is not here. */
  private readonly leadsTo = new Map<string, string>();
  /** Customer -> the ids that lead to it. */
  private readonly members = new Map<string, Set<string>>();
  /** Ids re-pointed since the last takeChanged(). */
  private changed = new Map<string, string>();

  /** The customer `id` belongs to: itself, or the customer it leads to. */
  resolve(id: string): string {
    return this.leadsTo.get(id) ?? id;
  }

  /** The ids that lead to `customer`. */
  membersOf(customer: string): ReadonlySet<string> {
    return this.members.get(customer) ?? EMPTY;
  }

  get size(): number {
    return this.leadsTo.size;
  }

  /** Applies a link from `source` to `target` (ids as the link names them). */
  link(source: string, target: string): LinkDecision {
    const into = this.resolve(target);
    const from = this.resolve(source);
    if (from === into) return { kind: 'none', target: into };
    if (from === source) {
      const moved = [source, ...this.membersOf(source)];
      this.members.delete(source);
      for (const id of moved) this.point(id, into);
      return { kind: 'merge', source, target: into, moved };
    }
    this.members.get(from)?.delete(source);
    this.point(source, into);
    return { kind: 'repoint', id: source, left: from, target: into };
  }

  /** A redirect as the changelog holds it (not a change). */
  restore(id: string, into: string): void {
    const before = this.leadsTo.get(id);
    if (before !== undefined && before !== into) this.members.get(before)?.delete(id);
    this.leadsTo.set(id, into);
    let ids = this.members.get(into);
    if (ids === undefined) this.members.set(into, (ids = new Set()));
    ids.add(id);
  }

  /**
   * Erases ids (a forget, forget.ts): the entry of each, and every entry that leads to one of them. Returns
   * the ids whose entries went (their changelog records go too); none of them is a change to write.
   */
  erase(ids: ReadonlySet<string>): string[] {
    const gone: string[] = [];
    for (const id of ids) {
      const into = this.leadsTo.get(id);
      if (into !== undefined) {
        this.leadsTo.delete(id);
        this.members.get(into)?.delete(id);
        gone.push(id);
      }
      for (const member of this.members.get(id) ?? EMPTY) {
        this.leadsTo.delete(member);
        gone.push(member);
      }
      this.members.delete(id);
    }
    for (const id of gone) this.changed.delete(id);
    return gone;
  }

  /** A copy to try links on, its changes not taken from this one (forget.ts `projectedTable`). */
  copy(): IdentityTable {
    const copy = new IdentityTable();
    for (const [id, into] of this.leadsTo) copy.restore(id, into);
    return copy;
  }

  /** Every id the table names: those that lead to a customer, and those customers. */
  *ids(): Generator<string> {
    yield* this.leadsTo.keys();
    yield* this.members.keys();
  }

  /** Every redirect, for a checkpoint or a test. */
  entries(): IterableIterator<[string, string]> {
    return this.leadsTo.entries();
  }

  /** The redirects made since the last call. */
  takeChanged(): ReadonlyMap<string, string> {
    const changed = this.changed;
    if (changed.size > 0) this.changed = new Map();
    return changed;
  }

  private point(id: string, into: string): void {
    this.restore(id, into);
    this.changed.set(id, into);
  }
}

const EMPTY: ReadonlySet<string> = new Set();
