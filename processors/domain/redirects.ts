/**
 * The redirect table of a partition: ids that belong to another customer now (a merged profile's id, an
 * anonymous id identified, an aliased customer id), each leading to the customer it became, and when a claim
 * or notice last re-pointed it (event time, so that a notice of an earlier link does not undo a later one;
 * identity.ts). An id is either a customer or leads to one, never both, never to itself, and never round a
 * loop: `point` refuses a redirect that would loop, and the partition never points an id that is a customer
 * of its own here.
 *
 * A plain map: the string's hash that a lookup computes is kept in the string by V8, so the lookup of the
 * same id in the customers' map that follows reuses it, and a miss costs no more than one probe. (A bitmap of
 * FNV-1a hashes in front of the map once answered misses, but hashing in JS on every touchpoint cost more
 * than the probe it saved.)
 */

/** How many redirects `resolve` follows at most: far more than a chain grows to, unless it is a loop. */
const MAX_REDIRECT_STEPS = 64;

export class Redirects {
  private readonly into = new Map<string, string>();
  private readonly at = new Map<string, number>();
  /** Redirects made since the last takeChanged(): what the changelog writes. */
  private changed = new Map<string, string>();

  /** A redirect as the changelog holds it (not a change). */
  restore(id: string, into: string): void {
    this.into.set(id, into);
  }

  restoreTime(id: string, at: number): void {
    this.at.set(id, at);
  }

  /** Where `id` leads in one step, if anywhere. */
  get(id: string): string | undefined {
    return this.into.get(id);
  }

  /**
   * The customer an id belongs to now: the id itself, or where its redirects lead. Usually one step, since a
   * customer handed on redirects the ids it lists (`mergedIds`) too; but the list keeps only the latest
   * MERGED_IDS_LIMIT, so an id absorbed long ago can still point at a customer that was itself handed on, and
   * the chain is followed. Such chains stay short (customer.ts keeps a merged customer's own id listed), so
   * the cut after MAX_REDIRECT_STEPS only stops a loop.
   */
  resolve(id: string): string {
    let to = this.into.get(id);
    if (to === undefined) return id;
    for (let steps = 1; steps < MAX_REDIRECT_STEPS; steps++) {
      const next = this.into.get(to);
      if (next === undefined) return to;
      to = next;
    }
    return to;
  }

  /** Whether the redirects from `from` pass through `id` (which redirecting `id` to `from` would loop). */
  leadsThrough(from: string, id: string): boolean {
    let to: string | undefined = from;
    for (let steps = 0; to !== undefined && steps < MAX_REDIRECT_STEPS; steps++) {
      if (to === id) return true;
      to = this.into.get(to);
    }
    return false;
  }

  /**
   * `id` leads to `into` from now on; `at`: the event time of the claim or notice that re-points it. Not to
   * itself, nor when `into` leads through `id` (ids that lead to each other would resolve to one or the
   * other, depending on the length of the loop): false then.
   */
  point(id: string, into: string, at?: number): boolean {
    if (id === into || this.leadsThrough(into, id)) return false;
    this.into.set(id, into);
    this.changed.set(id, into);
    if (at !== undefined) this.at.set(id, at);
    return true;
  }

  /** When a claim or redirect notice last re-pointed `id` (event time), if one did. */
  timeOf(id: string): number | undefined {
    return this.at.get(id);
  }

  /** The redirects made since the last call. */
  takeChanged(): ReadonlyMap<string, string> {
    const changed = this.changed;
    if (changed.size > 0) this.changed = new Map();
    return changed;
  }
}
