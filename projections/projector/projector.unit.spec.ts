import type { IncomingMessage } from '../../infra/kafka/types';
import { latestSnapshots } from './projector';

const message = (key: string | null, value: string | null, offset: number): IncomingMessage => ({
  topic: 'ciclo.customer-snapshots',
  partition: 0,
  offset: String(offset),
  key,
  value: value === null ? null : Buffer.from(value),
  headers: {},
  timestamp: 0,
});

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
});
