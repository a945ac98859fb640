import { seededRandom } from '../../producers/simulate/simulate';
import { DeadlineHeap, MinHeap } from './heap';

describe('DeadlineHeap', () => {
  it('pops deadlines in exactly the order of a MinHeap of {at, id} by time then id', () => {
    const rand = seededRandom(5);
    const reference = new MinHeap<{ at: number; id: string }>(
      (a, b) => a.at - b.at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    );
    const heap = new DeadlineHeap();
    const popped: [string, string][] = [];
    for (let step = 0; step < 20_000; step++) {
      if (rand() < 0.6 || heap.size === 0) {
        // Few distinct times and ids, so that ties (and exact repeats) are common.
        const at = 1_700_000_000_000 + Math.floor(rand() * 50) * 86_400_000;
        const id = `c${Math.floor(rand() * 30)}`;
        reference.push({ at, id });
        heap.push(at, id);
      } else {
        const expected = reference.pop()!;
        popped.push([`${expected.at}/${expected.id}`, `${heap.peekAt()}/${heap.peekId()}`]);
        heap.pop();
      }
      expect(heap.size).toBe(reference.size);
    }
    expect(popped.filter(([a, b]) => a !== b)).toEqual([]);
  });
});
