import { HEAP_WARNING_SHARE, HeapWatch } from './heap-watch';

const GiB = 2 ** 30;
const reading = (share: number, customers = 4_000_000) => ({
  usedBytes: share * 4 * GiB,
  limitBytes: 4 * GiB,
  customers,
});

describe("the processor's heap watch", () => {
  it('warns on the second high reading in a row, naming the heap, the customers and the remedy', () => {
    const watch = new HeapWatch();
    expect(watch.observe(reading(0.9), 0)).toBeUndefined(); // perhaps garbage
    const warning = watch.observe(reading(0.9), 30_000);
    expect(warning).toBe(
      'heap 3686 MiB of its 4096 MiB limit (90%) with 4000000 customers, about 966 bytes each: past the ' +
        'limit the processor stops, and so does each restart. Raise the limit ' +
        '(NODE_OPTIONS=--max-old-space-size=<MiB>) or run more instances to share the partitions',
    );
  });

  it('stays quiet below the threshold, after a single high reading, and between repeats', () => {
    const watch = new HeapWatch();
    expect(watch.observe(reading(HEAP_WARNING_SHARE - 0.01), 0)).toBeUndefined();
    expect(watch.observe(reading(HEAP_WARNING_SHARE - 0.01), 30_000)).toBeUndefined();
    expect(watch.observe(reading(0.8), 60_000)).toBeUndefined();
    expect(watch.observe(reading(0.5), 90_000)).toBeUndefined(); // collected: it was garbage
    expect(watch.observe(reading(0.8), 120_000)).toBeUndefined();
    expect(watch.observe(reading(0.8), 150_000)).toEqual(expect.stringContaining('(80%)'));
    expect(watch.observe(reading(0.8), 180_000)).toBeUndefined(); // repeated at most every ten minutes
    expect(watch.observe(reading(0.8), 150_000 + 10 * 60_000)).toEqual(expect.stringContaining('(80%)'));
  });

  it('leaves out the share per customer when it holds none', () => {
    const watch = new HeapWatch();
    watch.observe(reading(0.9, 0), 0);
    expect(watch.observe(reading(0.9, 0), 30_000)).toContain('with 0 customers: past the limit');
  });
});
