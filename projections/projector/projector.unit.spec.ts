import type { IncomingMessage } from '../../infra/kafka/types';
import { MERGED_INTO_HEADER, SEQUENCE_HEADER } from '../../schemas/topics';
import { ClickHouseError } from '@clickhouse/client';
import {
  CLUSTER_WRITE_SETTINGS,
  isBadDataError,
  isTooManyPartitionsError,
  latestSnapshots,
  removalOf,
  withClickHouseSettings,
} from './projector';

const message = (
  key: string | null,
  value: string | null,
  offset: number,
  headers: Record<string, string> = {},
): IncomingMessage => ({
  topic: 'ciclo.customer-snapshots',
  partition: 0,
  offset: String(offset),
  key,
  value: value === null ? null : Buffer.from(value),
  headers,
  timestamp: 0,
});
const merged = (key: string, into: string, sequence: number, offset: number): IncomingMessage =>
  message(key, null, offset, { [MERGED_INTO_HEADER]: into, [SEQUENCE_HEADER]: String(sequence) });

describe('latestSnapshots', () => {
  it("keeps each customer's last snapshot of the batch, every keyless one, and no tombstone", () => {
    const batch = [
      message('a', 'a1', 0),
      message('b', 'b1', 1),
      message('a', 'a2', 2),
      message(null, 'x', 3),
      message('c', 'c1', 4),
      message('c', null, 5), // c merged away after its snapshot: the snapshot is still its last one
      message('a', 'a3', 6),
      message(null, 'y', 7),
    ];
    const keep = latestSnapshots(batch);
    expect(batch.filter((_, i) => keep[i]).map((m) => m.value!.toString())).toEqual([
      'b1',
      'x',
      'c1',
      'a3',
      'y',
    ]);
  });

  it('keeps everything when every customer appears once', () => {
    const batch = ['a', 'b', 'c'].map((k, i) => message(k, k, i));
    expect(latestSnapshots(batch)).toEqual([true, true, true]);
  });

  it("keeps a merged profile's removal rather than its snapshot before it", () => {
    const batch = [
      message('m/a', 'a1', 0),
      message('m/b', 'b1', 1),
      merged('m/a', 'm/b', 3, 2),
      message('m/b', 'b2', 3),
    ];
    expect(latestSnapshots(batch)).toEqual([false, false, true, true]);
  });
});

describe('removalOf', () => {
  it('reads the model, customer, survivor and sequence of a merge tombstone', () => {
    expect(removalOf(merged('five-stage/anon/1', 'c-9', 4, 0))).toEqual({
      modelId: 'five-stage',
      customerId: 'anon/1',
      sequence: 4,
      mergedInto: 'c-9',
    });
  });

  it('is nothing for a snapshot, a bare tombstone, a key without a model, or a bad sequence', () => {
    expect(
      removalOf(message('five-stage/a', 'a1', 0, { [MERGED_INTO_HEADER]: 'b', [SEQUENCE_HEADER]: '1' })),
    ).toBe(undefined);
    expect(removalOf(message('five-stage/a', null, 0))).toBe(undefined);
    expect(removalOf(merged('a', 'b', 1, 0))).toBe(undefined);
    expect(
      removalOf(message('five-stage/a', null, 0, { [MERGED_INTO_HEADER]: 'b', [SEQUENCE_HEADER]: 'x' })),
    ).toBe(undefined);
  });
});

describe('insert errors', () => {
  // As @clickhouse/client raises them from a server's answer, and as chdb throws them (its own code, the
  // server's in the message).
  const server = (code: string, type: string, message: string) =>
    new ClickHouseError({ code, type, message });
  const chdb = (message: string) =>
    Object.assign(new Error(`Query failed: ${message}`), { code: 'CHDB_QUERY' });
  const tooManyPartitions =
    "Too many partitions for single INSERT block (more than 100). The limit is controlled by 'max_partitions_per_insert_block' setting.";

  it('tell an insert over the partition limit, which never passes as it is, from anything transient', () => {
    expect(isTooManyPartitionsError(server('252', 'TOO_MANY_PARTS', tooManyPartitions))).toBe(true);
    expect(
      isTooManyPartitionsError(chdb(`Code: 252. DB::Exception: ${tooManyPartitions} (TOO_MANY_PARTS)`)),
    ).toBe(true);
    const newerWording = 'Too many partitions for a single INSERT block (150 partitions, limit is 100).';
    expect(isTooManyPartitionsError(server('252', 'TOO_MANY_PARTS', newerWording))).toBe(true);
    // The same code for a partition whose merges lag behind: ClickHouse asks to slow down, so it is retried.
    const tooManyParts = server(
      '252',
      'TOO_MANY_PARTS',
      'Too many parts (300). Merges are processing significantly slower than inserts',
    );
    expect(isTooManyPartitionsError(tooManyParts)).toBe(false);
    expect(isBadDataError(tooManyParts)).toBe(false);
  });

  it('read the code of bad data from either engine, and nothing from a network error', () => {
    expect(isBadDataError(server('27', 'CANNOT_PARSE_INPUT_ASSERTION_FAILED', 'Cannot parse input'))).toBe(
      true,
    );
    expect(isBadDataError(chdb('Code: 27. DB::Exception: Cannot parse input'))).toBe(true);
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), { code: 'ECONNREFUSED' });
    expect(isBadDataError(refused)).toBe(false);
    expect(isTooManyPartitionsError(refused)).toBe(false);
    expect(isBadDataError(undefined)).toBe(false);
  });
});

describe('withClickHouseSettings: the projector connection on a cluster', () => {
  it('puts the settings in the URL as @clickhouse/client reads them, keeping the rest', () => {
    expect(withClickHouseSettings('http://u:p%40ss@ch-1:8123/?x=1', CLUSTER_WRITE_SETTINGS)).toBe(
      'http://u:p%40ss@ch-1:8123/?x=1&clickhouse_setting_insert_distributed_sync=1',
    );
  });
});
