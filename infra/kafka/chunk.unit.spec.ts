import { chunkBySize, type OutputRecord } from './transactional-processor';

const record = (bytes: number, key = 'k'): OutputRecord => ({ topic: 't', key, value: Buffer.alloc(bytes) });

describe('chunkBySize', () => {
  it('keeps every record, in order, in chunks under the limit', () => {
    const records = Array.from({ length: 3000 }, (_, i) => record(600, `c${i}`));
    const chunks = chunkBySize(records, 512 * 1024);
    expect(chunks.flat()).toEqual(records);
    expect(chunks.length).toBeGreaterThan(3);
    for (const c of chunks)
      expect(c.reduce((n, r) => n + r.value!.length, 0)).toBeLessThanOrEqual(512 * 1024);
  });

  it('sends a record larger than the limit alone rather than dropping it', () => {
    const chunks = chunkBySize([record(10), record(2000), record(10)], 1000);
    expect(chunks.map((c) => c.map((r) => r.value!.length))).toEqual([[10], [2000], [10]]);
  });

  it('makes no chunk of nothing', () => {
    expect(chunkBySize([], 1000)).toEqual([]);
  });
});
