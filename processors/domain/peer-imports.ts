/**
 * What the other partitions know of import runs. Each partition reads its own input at its own pace, so it
 * can announce progress (identity.ts `Progress`) past an import's times before it has read that import's
 * open marker: its progress then says nothing of the import, whose records it may still forward, from the
 * import's start on. A partition that has seen an import (opened its lane, or was told of it) therefore
 * takes another's progress as reaching no further than the import's start until that partition has named
 * the import in a progress of its own, as open or closed. Once every other partition has, the import no
 * longer bounds anything. Flink's watermark alignment across splits answers the same question.
 */

/** How many import runs a partition remembers another has named, at most: far more than run at once. */
export const NAMED_IMPORTS_KEPT = 1000;

export interface PeerImportsCheckpoint {
  /** Imports seen here that some partition has not named yet: run id -> [start, partitions that named it]. */
  readonly awaiting: Readonly<Record<string, readonly [number, readonly number[]]>>;
  /** What each other partition has named, its latest last (null: this partition). */
  readonly named: readonly (readonly string[] | null)[];
}

export class PeerImports {
  private readonly awaiting = new Map<string, { readonly start: number; readonly named: Set<number> }>();
  private readonly named: Set<string>[];

  constructor(
    private readonly partitions: number,
    private readonly self: number,
  ) {
    this.named = Array.from({ length: partitions }, () => new Set<string>());
  }

  static restored(partitions: number, self: number, c: PeerImportsCheckpoint): PeerImports {
    const p = new PeerImports(partitions, self);
    for (const [lane, [start, named]] of Object.entries(c.awaiting))
      p.awaiting.set(lane, { start, named: new Set(named) });
    c.named.forEach((lanes, partition) => {
      if (lanes) for (const lane of lanes) p.named[partition]?.add(lane);
    });
    return p;
  }

  checkpoint(): PeerImportsCheckpoint {
    const awaiting: Record<string, [number, number[]]> = {};
    for (const [lane, { start, named }] of this.awaiting) awaiting[lane] = [start, [...named]];
    return {
      awaiting,
      named: this.named.map((lanes, partition) => (partition === this.self ? null : [...lanes])),
    };
  }

  get isEmpty(): boolean {
    return this.awaiting.size === 0 && this.named.every((n) => n.size === 0);
  }

  /** An import run starting at `start` is known here (its lane opened, or another partition named it). */
  seen(lane: string, start: number): void {
    if (this.awaiting.has(lane)) return;
    const named = new Set<number>();
    this.named.forEach((lanes, partition) => {
      if (partition !== this.self && lanes.has(lane)) named.add(partition);
    });
    if (named.size < this.partitions - 1) this.awaiting.set(lane, { start, named });
  }

  /** Partition `partition` named these import runs (open or closed there) with its progress. */
  report(partition: number, lanes: Iterable<string>): void {
    const known = this.named[partition];
    if (known === undefined || partition === this.self) return;
    for (const lane of lanes) {
      known.delete(lane);
      known.add(lane);
      if (known.size > NAMED_IMPORTS_KEPT) known.delete(known.values().next().value!);
      const awaited = this.awaiting.get(lane);
      if (awaited === undefined) continue;
      awaited.named.add(partition);
      if (awaited.named.size >= this.partitions - 1) this.awaiting.delete(lane);
    }
  }

  /** How far `partition`'s progress `upTo` reaches here: not past the start of an import it has not named. */
  bound(partition: number, upTo: number): number {
    let at = upTo;
    for (const { start, named } of this.awaiting.values())
      if (start - 1 < at && !named.has(partition)) at = start - 1;
    return at;
  }
}
