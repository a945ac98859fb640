import { STAGE_CHANGED_EXAMPLE, TOUCHPOINT_EXAMPLES } from '../../schemas/examples';
import { insertByPartition, occurredMonthOf, partitionBlocks, type BlockOutcome } from './partitions';
import { toStageChangeRow, toTouchpointRow } from './rows';

/** A row of month `m` (a partition) and its place in the batch `i`. */
type Item = { m: string; i: number };
const items = (months: readonly string[]): Item[] => months.map((m, i) => ({ m, i }));
const monthOf = (item: Item): string => item.m;
/** n distinct months, one row each: '2000-01', '2000-02', ... */
const months = (n: number): string[] =>
  Array.from(
    { length: n },
    (_, k) => `${2000 + Math.floor(k / 12)}-${String((k % 12) + 1).padStart(2, '0')}`,
  );
const distinct = (block: readonly Item[]): number => new Set(block.map(monthOf)).size;

describe('occurredMonthOf', () => {
  it("is the month of a touchpoint's or a stage change's occurred_at, what toYYYYMM partitions them by", () => {
    const tp = { ...TOUCHPOINT_EXAMPLES.PageViewed, occurredAt: Date.UTC(2031, 11, 31, 23, 59, 59) };
    expect(occurredMonthOf(toTouchpointRow(tp, 0))).toBe('2031-12');
    const sc = { ...STAGE_CHANGED_EXAMPLE, occurredAt: Date.UTC(1990, 0, 1) };
    expect(occurredMonthOf(toStageChangeRow(sc, 0))).toBe('1990-01');
  });
});

describe('partitionBlocks', () => {
  it('keeps rows of at most the limit of partitions as one block, the same array', () => {
    const few = items(['2001-01', '2001-02', '2001-01', '2001-03', '2001-02']);
    expect(partitionBlocks(few, monthOf, 3)).toEqual([few]);
    expect(partitionBlocks(few, monthOf, 3)[0]).toBe(few);
    expect(partitionBlocks(few, monthOf, Infinity)[0]).toBe(few);
    expect(partitionBlocks([], monthOf, 3)).toEqual([]);
  });

  it("splits many partitions into blocks of at most the limit, each partition's rows together and in order", () => {
    const rows = items(['a', 'b', 'a', 'c', 'd', 'b', 'e', 'a', 'e']);
    const blocks = partitionBlocks(rows, monthOf, 2);
    expect(blocks.map((b) => b.map((r) => `${r.m}${r.i}`))).toEqual([
      ['a0', 'a2', 'a7', 'b1', 'b5'],
      ['c3', 'd4'],
      ['e6', 'e8'],
    ]);
  });

  it('sends 150 months in blocks of 100 and 50, every row once', () => {
    const rows = items([...months(150), ...months(150)]); // two rows a month
    const blocks = partitionBlocks(rows, monthOf, 100);
    expect(blocks.map(distinct)).toEqual([100, 50]);
    expect(
      blocks
        .flat()
        .map((r) => r.i)
        .sort((x, y) => x - y),
    ).toEqual(rows.map((r) => r.i));
  });

  it('holds a partition of many rows in one block (no spread arguments)', () => {
    const rows = items([...Array.from({ length: 300_000 }, () => '2001-01'), ...months(3)]);
    const blocks = partitionBlocks(rows, monthOf, 2);
    expect(blocks.map((b) => b.length)).toEqual([300_001, 2]);
  });

  it('refuses a limit below one partition', () => {
    expect(() => partitionBlocks(items(['a', 'b']), monthOf, 0)).toThrow(RangeError);
  });
});

describe('insertByPartition', () => {
  /** A server that takes at most `limit` partitions per insert, as ClickHouse's check does. */
  function server(limit: number, reject: (item: Item) => boolean = () => false) {
    const inserted: Item[] = [];
    const inserts: number[] = [];
    const insertBlock = (block: readonly Item[]): Promise<BlockOutcome> => {
      inserts.push(distinct(block));
      if (distinct(block) > limit) return Promise.resolve('too-many-partitions');
      if (block.some(reject)) return Promise.resolve('rejected');
      inserted.push(...block);
      return Promise.resolve('inserted');
    };
    return { inserted, inserts, insertBlock };
  }

  it("lands a 150-month insert in blocks under the server's limit, every row once", async () => {
    const rows = items(months(150));
    const s = server(100);
    expect(await insertByPartition(rows, monthOf, 100, s.insertBlock)).toBe('inserted');
    expect(s.inserts).toEqual([100, 50]);
    expect(s.inserted).toHaveLength(150);
    expect(new Set(s.inserted.map((r) => r.i)).size).toBe(150);
  });

  it('sends a block the server refuses for its partitions again one partition per insert', async () => {
    const rows = items(months(6));
    const s = server(2); // lowered since the limit of 4 was read
    expect(await insertByPartition(rows, monthOf, 4, s.insertBlock)).toBe('inserted');
    expect(s.inserts).toEqual([4, 1, 1, 1, 1, 2]);
    expect(s.inserted.map((r) => r.i).sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('rejects rows the server refuses one partition at a time (its partitions are not the ones named)', async () => {
    const s = server(0);
    expect(await insertByPartition(items(months(3)), monthOf, 2, s.insertBlock)).toBe('rejected');
    expect(s.inserts).toEqual([2, 1]); // never retried for ever
  });

  it('stops at the first block rejected as bad data', async () => {
    const s = server(100, (r) => r.m === '2000-02');
    expect(await insertByPartition(items(months(5)), monthOf, 1, s.insertBlock)).toBe('rejected');
    expect(s.inserted.map((r) => r.m)).toEqual(['2000-01']);
  });
});
