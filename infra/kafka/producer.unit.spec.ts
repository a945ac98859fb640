import { Partitioners } from 'kafkajs';
import { keyedPartitioner } from './producer';

describe('keyedPartitioner', () => {
  const partitionMetadata = (count: number) =>
    Array.from({ length: count }, (_, partitionId) => ({
      partitionId,
      leader: 1,
      replicas: [1],
      isr: [1],
      partitionErrorCode: 0,
    }));
  const keys = [
    '',
    'a',
    'abc',
    'cus_8c1f2a',
    'anon_5d0e77',
    'business',
    'ñandú-😀',
    ...Array.from({ length: 500 }, (_, i) => `customer-${i * 7919}`),
  ];

  it.each([1, 3, 6, 12])('places every keyed message where kafkajs would, on %i partitions', (count) => {
    const ours = keyedPartitioner();
    const kafkajs = Partitioners.DefaultPartitioner();
    const args = (message: { key: string | Buffer; partition?: number }) => ({
      topic: 't',
      partitionMetadata: partitionMetadata(count),
      message: { ...message, value: null },
    });
    for (const key of keys) {
      expect(ours(args({ key }))).toBe(kafkajs(args({ key })));
      expect(ours(args({ key: Buffer.from(key) }))).toBe(kafkajs(args({ key: Buffer.from(key) })));
      expect(ours(args({ key, partition: 0 }))).toBe(0);
    }
  });

  it('spreads keyless messages over the partitions, as kafkajs does', () => {
    const ours = keyedPartitioner();
    const seen = new Set<number>();
    for (let i = 0; i < 60; i++)
      seen.add(ours({ topic: 't', partitionMetadata: partitionMetadata(6), message: { value: null } }));
    expect([...seen].sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });
});
