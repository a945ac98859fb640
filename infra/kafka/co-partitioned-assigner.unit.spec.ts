import { coPartitionedAssignment } from './co-partitioned-assigner';

describe('coPartitionedAssignment', () => {
  it('deals partition numbers round-robin over the members in id order, each number to one member', () => {
    const numbers = [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5]; // two topics of six partitions
    const byMember = coPartitionedAssignment(['m-b', 'm-a'], numbers);
    expect(Object.fromEntries(byMember)).toEqual({ 'm-a': [0, 2, 4], 'm-b': [1, 3, 5] });
  });

  it('gives every member the same answer whatever order the members come in', () => {
    const a = coPartitionedAssignment(['x', 'y', 'z'], [0, 1, 2, 3]);
    const b = coPartitionedAssignment(['z', 'x', 'y'], [3, 2, 1, 0]);
    expect(Object.fromEntries(a)).toEqual(Object.fromEntries(b));
    expect(Object.fromEntries(a)).toEqual({ x: [0, 3], y: [1], z: [2] });
  });

  it('leaves members beyond the partition count without partitions', () => {
    expect(Object.fromEntries(coPartitionedAssignment(['a', 'b', 'c'], [0]))).toEqual({
      a: [0],
      b: [],
      c: [],
    });
  });
});
