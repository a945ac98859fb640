/**
 * The projector's partition split on a modern ClickHouse, where max_partitions_per_insert_block is 100 by
 * default: embedded chdb (26.x, in-process), so this runs with nothing else running, in about a second. The
 * migrations' own tables, rows made by the projector's mapping, the limit read as the projector reads it, and
 * errors classified as the projector classifies them. test/projector.int.spec.ts runs the projector itself
 * over Kafka on the stack's server.
 */
import { openEmbeddedClickHouse } from '../../infra/clickhouse/embedded';
import type { ClickHouseEngine } from '../../infra/clickhouse/engine';
import { STAGE_CHANGED_EXAMPLE, TOUCHPOINT_EXAMPLES } from '../../schemas/examples';
import { migrate } from '../migrations/migrate';
import { insertByPartition, occurredMonthOf, type BlockOutcome } from './partitions';
import { isBadDataError, isTooManyPartitionsError, partitionLimitOf } from './projector';
import { toStageChangeRow, toTouchpointRow, type Row } from './rows';

const MONTHS = 150; // twelve and a half years
const monthStart = (k: number): number => Date.UTC(2000, k, 1);

describe('an insert of 150 months on modern ClickHouse (chdb)', () => {
  const db = `unit_partitions_${Date.now()}`;
  let engine: ClickHouseEngine;
  beforeAll(async () => {
    engine = openEmbeddedClickHouse();
    await migrate(engine, db);
  });
  afterAll(async () => {
    await engine.command(`DROP DATABASE IF EXISTS ${db}`);
    await engine.close();
  });

  /** The projector's insert of one block, minus its retries of transient errors (none here). */
  const insertBlock =
    (table: string, blocks: number[]) =>
    async (block: readonly Row[]): Promise<BlockOutcome> => {
      blocks.push(new Set(block.map(occurredMonthOf)).size);
      try {
        await engine.insert(table, block);
        return 'inserted';
      } catch (err) {
        if (isTooManyPartitionsError(err)) return 'too-many-partitions';
        if (isBadDataError(err)) return 'rejected';
        throw err;
      }
    };

  const partitionsOf = async (table: string): Promise<string[]> =>
    (
      await engine.query<{ p: string }>(`SELECT DISTINCT _partition_id AS p FROM ${db}.${table} ORDER BY p`)
    ).map((r) => r.p);

  it('is refused whole, as an error that is not transient; split by month it lands every row once', async () => {
    const limit = await partitionLimitOf(engine);
    expect(limit).toBe(100);
    // Two purchases a month, the second a redelivery of the first (the same event id).
    const rows = Array.from({ length: MONTHS * 2 }, (_, i) =>
      toTouchpointRow(
        {
          ...TOUCHPOINT_EXAMPLES.PurchaseCompleted,
          eventId: `p-${i % MONTHS}`,
          occurredAt: monthStart(i % MONTHS) + 3_600_000,
        },
        0,
      ),
    );
    // chdb's insert throws as it is called, where the server's rejects: either way an error here.
    const unsplit = await Promise.resolve()
      .then(() => engine.insert(`${db}.touchpoints`, rows))
      .catch((err: unknown) => err);
    expect(unsplit).toBeInstanceOf(Error);
    expect(isTooManyPartitionsError(unsplit)).toBe(true);

    const blocks: number[] = [];
    expect(
      await insertByPartition(rows, occurredMonthOf, limit, insertBlock(`${db}.touchpoints`, blocks)),
    ).toBe('inserted');
    expect(blocks).toEqual([100, 50]);
    const [counts] = await engine.query<{ n: number; ids: number }>(
      `SELECT count() AS n, uniqExact(event_id) AS ids FROM ${db}.touchpoints FINAL`,
    );
    expect(counts).toEqual({ n: MONTHS, ids: MONTHS });
    // The months named in TypeScript are the server's partitions of toYYYYMM(occurred_at).
    const named = [...new Set(rows.map(occurredMonthOf))].map((m) => m.replace('-', '')).sort();
    expect(await partitionsOf('touchpoints')).toEqual(named);
  });

  it('lands every row when the server takes fewer partitions than the projector read, one partition per insert', async () => {
    await engine.command('SET max_partitions_per_insert_block = 10'); // lowered after the projector started
    try {
      const rows = Array.from({ length: MONTHS }, (_, k) =>
        toStageChangeRow(
          { ...STAGE_CHANGED_EXAMPLE, eventId: `s-${k}`, sequence: k + 1, occurredAt: monthStart(k) },
          0,
        ),
      );
      const blocks: number[] = [];
      expect(
        await insertByPartition(rows, occurredMonthOf, 100, insertBlock(`${db}.stage_changes`, blocks)),
      ).toBe('inserted');
      expect(blocks.slice(0, 2)).toEqual([100, 1]);
      expect(blocks).toHaveLength(1 + 100 + 1 + 50); // the first block refused and sent again; so the second
      const [n] = await engine.query<{ n: number }>(`SELECT count() AS n FROM ${db}.stage_changes FINAL`);
      expect(n!.n).toBe(MONTHS);
      expect(await partitionsOf('stage_changes')).toHaveLength(MONTHS);
    } finally {
      await engine.command('SET max_partitions_per_insert_block = 100');
    }
  });
});
