/**
 * A binary min-heap: the processor's reorder buffer (processors/domain) and the k-way merge of an import's
 * sorted runs (producers/import) both take "the next by order" again and again. Pure.
 */
export class MinHeap<T> {
  private readonly items: T[] = [];
  constructor(private readonly compare: (a: T, b: T) => number) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    const a = this.items;
    // Sift up by moving parents down into the hole, then place the item once.
    let i = a.length;
    a.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = a[parent]!;
      if (this.compare(item, p) >= 0) break;
      a[i] = p;
      i = parent;
    }
    a[i] = item;
  }

  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) this.placeFromTop(last);
    return top;
  }

  /** Replaces the smallest item (a merge's "advance the run that was taken"): one sift instead of two. */
  replaceTop(item: T): void {
    if (this.items.length === 0) this.items.push(item);
    else this.placeFromTop(item);
  }

  /** Sifts `item` down from the root by moving the smaller child up into the hole, then places it once. */
  private placeFromTop(item: T): void {
    const a = this.items;
    const n = a.length;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let m = l;
      let child = a[l]!;
      if (r < n) {
        const right = a[r]!;
        if (this.compare(right, child) < 0) {
          m = r;
          child = right;
        }
      }
      if (this.compare(child, item) >= 0) break;
      a[i] = child;
      i = m;
    }
    a[i] = item;
  }

  toSortedArray(): T[] {
    return [...this.items].sort(this.compare);
  }
}
