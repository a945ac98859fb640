import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compareSortItems, ExternalSorter, type SortItem } from './external-sort';
import { MinHeap } from '../../infra/min-heap';
import { seededRandom } from '../simulate/simulate';

const rng = seededRandom;

const tmpDirs: string[] = [];
function tmpDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ciclo-sort-spec-'));
  tmpDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of tmpDirs) fs.rmSync(dir, { recursive: true, force: true });
});

function items(n: number, seed: number): SortItem[] {
  const random = rng(seed);
  return Array.from({ length: n }, (_, i) => ({
    // Few distinct times, so keys and bodies decide many comparisons.
    at: Math.floor(random() * 20) * 1000 + 1.6e12,
    key: `k-${Math.floor(random() * 30)}-é`,
    body: Buffer.from(`body ${i} ${'x'.repeat(Math.floor(random() * 40))}`),
  }));
}

const plain = (list: Iterable<SortItem>): string[] =>
  [...list].map((i) => `${i.at}|${i.key}|${i.body.toString('base64')}`);

describe('ExternalSorter', () => {
  it.each([
    ['in memory', { maxItems: 10_000 }],
    ['through runs on disk (7 items a run)', { maxItems: 7 }],
    ['through runs on disk (by bytes)', { maxBytes: 2_000 }],
  ])('gives the items in (at, key, body) order %s', (_name, budget) => {
    const input = items(500, 7);
    const dir = tmpDir();
    const sorter = new ExternalSorter({ budget, tmpDir: dir });
    for (const item of input) sorter.add(item);
    const out = plain(sorter.sorted());
    sorter.dispose();
    expect(out).toEqual(plain([...input].sort(compareSortItems)));
    expect(sorter.count).toBe(500);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('writes runs under its own folder and removes it on dispose, also when reading stopped early', () => {
    const dir = tmpDir();
    const sorter = new ExternalSorter({ budget: { maxItems: 10 }, tmpDir: dir });
    for (const item of items(95, 3)) sorter.add(item);
    expect(sorter.runCount).toBe(9);
    expect(fs.readdirSync(sorter.tempDir!)).toHaveLength(9);
    const iterator = sorter.sorted();
    iterator.next();
    sorter.dispose();
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(sorter.tempDir).toBeUndefined();
  });

  it('carries a body larger than its read chunk whole', () => {
    const sorter = new ExternalSorter({ budget: { maxItems: 1 }, tmpDir: tmpDir() });
    const big = Buffer.alloc(600 * 1024, 7);
    sorter.add({ at: 2, key: 'b', body: big });
    sorter.add({ at: 1, key: 'a', body: Buffer.from('small') });
    const out = [...sorter.sorted()];
    sorter.dispose();
    expect(out.map((i) => i.key)).toEqual(['a', 'b']);
    expect(out[1]!.body.equals(big)).toBe(true);
  });
});

describe('MinHeap', () => {
  it('pops in order, with replaceTop as the merge uses it', () => {
    const random = rng(11);
    const heap = new MinHeap<number>((a, b) => a - b);
    const values = Array.from({ length: 300 }, () => Math.floor(random() * 1000));
    for (const v of values) heap.push(v);
    const out: number[] = [];
    heap.replaceTop(-1);
    while (heap.size > 0) out.push(heap.pop()!);
    const expected = [...values].sort((a, b) => a - b).slice(1);
    expect(out).toEqual([-1, ...expected]);
  });
});
