// Our pure murmur2 partitioner must agree with kafkajs's (Java-compatible) default partitioner, which is
// what places each customer's messages on a partition at runtime.
import { Partitioners } from 'kafkajs';
import { partitionFor } from '../../schemas/partitioner';

describe('partitionFor', () => {
  it('places every key where kafkajs (and the Java client) would', () => {
    const kafkajs = Partitioners.DefaultPartitioner();
    const partitionMetadata = Array.from({ length: 6 }, (_, partitionId) => ({
      partitionId,
      leader: 1,
      replicas: [1],
      isr: [1],
      partitionErrorCode: 0,
    }));
    const keys = [
      '',
      'a',
      'ab',
      'abc',
      'abcd',
      'cus_8c1f2a',
      'cdnow-00001',
      'anon_5d0e77',
      'ñandú-😀',
      ...Array.from({ length: 200 }, (_, i) => `customer-${i * 7919}`),
    ];
    for (const key of keys) {
      expect(partitionFor(key, 6)).toBe(
        kafkajs({ topic: 't', partitionMetadata, message: { key, value: null } }),
      );
    }
  });
});
