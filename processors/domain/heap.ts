import { MinHeap } from '../../infra/min-heap';

export { MinHeap };

/**
 * The inactivity deadlines: a MinHeap of (at, customer id) by time, then id, laid out as two parallel
 * arrays. Same sifts as MinHeap and the same order, without an object per entry or a comparator call per
 * step (the deadline heap is touched on most purchases).
 */
export class DeadlineHeap {
  private readonly ats: number[] = [];
  private readonly ids: string[] = [];

  get size(): number {
    return this.ats.length;
  }

  /** The earliest deadline's time, if any. */
  peekAt(): number | undefined {
    return this.ats[0];
  }

  /** The earliest deadline's customer id, if any. */
  peekId(): string | undefined {
    return this.ids[0];
  }

  push(at: number, id: string): void {
    const ats = this.ats;
    const ids = this.ids;
    let i = ats.length;
    ats.push(at);
    ids.push(id);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(at, id, ats[parent]!, ids[parent]!)) break;
      ats[i] = ats[parent]!;
      ids[i] = ids[parent]!;
      i = parent;
    }
    ats[i] = at;
    ids[i] = id;
  }

  /** Removes the earliest deadline. */
  pop(): void {
    const ats = this.ats;
    const ids = this.ids;
    const lastAt = ats.pop();
    const lastId = ids.pop();
    const n = ats.length;
    if (n === 0 || lastAt === undefined || lastId === undefined) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let m = l;
      if (r < n && before(ats[r]!, ids[r]!, ats[l]!, ids[l]!)) m = r;
      if (!before(ats[m]!, ids[m]!, lastAt, lastId)) break;
      ats[i] = ats[m]!;
      ids[i] = ids[m]!;
      i = m;
    }
    ats[i] = lastAt;
    ids[i] = lastId;
  }
}

/** `(a.at - b.at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)) < 0`, the deadline order, without the objects. */
function before(aAt: number, aId: string, bAt: number, bId: string): boolean {
  const d = aAt - bAt;
  return d < 0 || ((d === 0 || d !== d) && aId < bId);
}
