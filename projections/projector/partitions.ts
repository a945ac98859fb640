/**
 * One insert split by the table's partitions. A modern ClickHouse refuses an insert whose rows fall in more
 * than `max_partitions_per_insert_block` partitions (100 by default; 0 means no limit) with TOO_MANY_PARTS,
 * code 252 (https://clickhouse.com/docs/reference/settings/session-settings/max-partitions); the same rows
 * fail the same way however often they are sent. touchpoints and stage_changes are
 * `PARTITION BY toYYYYMM(occurred_at)` (migrations/sql/001_core_tables.sql), so one backlog of nine years, or
 * a few forged timestamps, is such an insert. Debian's 18.16 has no such setting and takes any insert.
 *
 * The rows are grouped by partition and sent in blocks of at most the limit's partitions. That costs round
 * trips only: ClickHouse writes one part per partition of an insert, so the table gets the same parts. A
 * partition's rows stay in one block and in their order, which is what a ReplacingMergeTree's "last inserted
 * wins" sees (it only ever replaces within a partition). Pure but for the `insertBlock` it is given.
 */
import type { Row } from './rows';

/**
 * The partition of a row of a table `PARTITION BY toYYYYMM(occurred_at)`: its 'YYYY-MM'. The row's time is a
 * DateTime string (rows.ts dateTime) that the server both parses and takes toYYYYMM of in its own time zone,
 * so the month is the string's, whatever that zone. (A time past DateTime's range, 2106, is mapped otherwise
 * by the server; `insertByPartition` copes with a block that holds more partitions than it was told.)
 */
export function occurredMonthOf(row: Row): string {
  const at = row.occurred_at;
  return typeof at === 'string' ? at.slice(0, 7) : '';
}

/**
 * The rows in blocks of at most `maxPartitions` partitions each: each partition's rows together and in their
 * order, partitions in the order they first appear. Rows of at most that many partitions stay one block, the
 * same array (the usual case, checked without grouping when there are no more rows than that).
 */
export function partitionBlocks<T>(
  rows: readonly T[],
  partitionOf: (row: T) => string,
  maxPartitions: number,
): (readonly T[])[] {
  if (!(maxPartitions >= 1)) throw new RangeError(`maxPartitions must be at least 1, not ${maxPartitions}`);
  if (rows.length === 0) return [];
  if (rows.length <= maxPartitions) return [rows];
  const partitions = new Map<string, T[]>();
  for (const row of rows) {
    const key = partitionOf(row);
    const same = partitions.get(key);
    if (same) same.push(row);
    else partitions.set(key, [row]);
  }
  if (partitions.size <= maxPartitions) return [rows];
  const blocks: T[][] = [];
  let block: T[] = [];
  let inBlock = 0;
  for (const partitionRows of partitions.values()) {
    if (inBlock === maxPartitions) {
      blocks.push(block);
      block = [];
      inBlock = 0;
    }
    for (const row of partitionRows) block.push(row); // not push(...rows): a partition can hold 100,000s
    inBlock += 1;
  }
  blocks.push(block);
  return blocks;
}

/**
 * How one block's insert ended: `too-many-partitions` is the server refusing it for its partitions (the
 * limit is lower than the one the caller gave, say lowered since it was read), which a smaller block cures.
 */
export type BlockOutcome = 'inserted' | 'rejected' | 'too-many-partitions';

/**
 * Inserts the rows block by block (`partitionBlocks`) through `insertBlock`, which owns the I/O and its
 * retries. A block refused for its partitions is sent again one partition per insert, which no limit refuses
 * (a limit is at least 1); refused again (the server's partitions are not the ones `partitionOf` names), the
 * rows are `rejected` like bad data, so the caller dead-letters them instead of retrying for ever. The
 * first rejected block ends the insert: blocks before it stay inserted, and a replay inserts them again,
 * which the tables' ReplacingMergeTree keys make harmless.
 */
export async function insertByPartition<T>(
  rows: readonly T[],
  partitionOf: (row: T) => string,
  maxPartitions: number,
  insertBlock: (block: readonly T[]) => Promise<BlockOutcome>,
): Promise<'inserted' | 'rejected'> {
  for (const block of partitionBlocks(rows, partitionOf, maxPartitions)) {
    const outcome = await insertBlock(block);
    if (outcome === 'inserted') continue;
    if (outcome === 'rejected' || maxPartitions === 1) return 'rejected';
    if ((await insertByPartition(block, partitionOf, 1, insertBlock)) === 'rejected') return 'rejected';
  }
  return 'inserted';
}
