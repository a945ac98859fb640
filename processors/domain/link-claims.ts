/**
 * What a partition remembers of links between their two claims (identity.ts): a link's copy and its target's
 * own claim both come to the source's home, in either order, and the second is decided by what the first
 * did. The changelog keeps each entry (`takeChanged`), so that a restore decides the second claim as the
 * running partition would have.
 */

/** What the first of a link's two claims did at the source's home. */
export interface AppliedClaim {
  readonly linkEventId: string;
  /** Where it redirected the source. */
  readonly into: string;
  /** Whether it handed a profile over. */
  readonly handedOver: boolean;
}

/**
 * How many first claims a partition remembers at most. An entry lives until the link's other claim comes,
 * which for a producer that writes no routing copy (schemas/topics.ts) is never: the oldest is forgotten
 * then, and its link's other claim, should it still come, is decided as if it were the first.
 */
export const CLAIMS_LIMIT = 10_000;

export class LinkClaims {
  /** By source id, in the order they were last set (the oldest is forgotten first). */
  private readonly first = new Map<string, AppliedClaim>();
  /** Remembered (or forgotten: null) since the last takeChanged(). */
  private changed = new Map<string, AppliedClaim | null>();

  /** Entries as the changelog holds them, oldest first. */
  restore(entries: Iterable<readonly [string, AppliedClaim]>): void {
    for (const [from, claim] of entries) this.first.set(from, claim);
  }

  /** The first claim of a link on `from` that is remembered, if any. */
  get(from: string): AppliedClaim | undefined {
    return this.first.size > 0 ? this.first.get(from) : undefined;
  }

  /** Remembers the first claim of a link on `from` (the latest last), forgetting the oldest past the limit. */
  remember(from: string, claim: AppliedClaim): void {
    this.first.delete(from);
    this.first.set(from, claim);
    this.changed.set(from, claim);
    if (this.first.size > CLAIMS_LIMIT) this.forget(this.first.keys().next().value!);
  }

  forget(from: string): void {
    this.first.delete(from);
    this.changed.set(from, null);
  }

  takeChanged(): ReadonlyMap<string, AppliedClaim | null> {
    const changed = this.changed;
    if (changed.size > 0) this.changed = new Map();
    return changed;
  }
}
