/**
 * A partition assignor that keeps co-partitioned topics together: partition p of every subscribed topic goes
 * to the same member. The lifecycle processor reads touchpoints and its internal identity topic with one
 * state per partition number, so both partitions p must be owned by the instance that holds that state.
 * kafkajs's round-robin assignor spreads topic-partitions without regard to their numbers.
 *
 * Partition numbers are dealt round-robin over the members sorted by id, as Kafka's own assignors do,
 * so every member computes the same result and a rebalance moves as little as the member count allows.
 */
import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';

/** Partition number -> member, for `partitionNumbers` numbers and these members (pure, for tests). */
export function coPartitionedAssignment(
  memberIds: readonly string[],
  partitionNumbers: readonly number[],
): Map<string, number[]> {
  const members = [...memberIds].sort();
  const byMember = new Map<string, number[]>(members.map((m) => [m, []]));
  const numbers = [...new Set(partitionNumbers)].sort((a, b) => a - b);
  numbers.forEach((p, i) => byMember.get(members[i % members.length]!)!.push(p));
  return byMember;
}

export const CoPartitionedAssigner: PartitionAssigner = ({ cluster }) => ({
  name: 'CicloCoPartitionedAssigner',
  version: 0,
  async assign({ members, topics }) {
    const partitionsOf = new Map(
      topics.map((topic) => [topic, cluster.findTopicPartitionMetadata(topic).map((m) => m.partitionId)]),
    );
    const numbers = [...partitionsOf.values()].flat();
    const byMember = coPartitionedAssignment(
      members.map((m) => m.memberId),
      numbers,
    );
    return Promise.resolve(
      [...byMember].map(([memberId, owned]) => {
        const assignment: Record<string, number[]> = {};
        for (const [topic, partitions] of partitionsOf) {
          const mine = partitions.filter((p) => owned.includes(p));
          if (mine.length > 0) assignment[topic] = mine;
        }
        return {
          memberId,
          memberAssignment: AssignerProtocol.MemberAssignment.encode({
            version: 0,
            assignment,
            userData: Buffer.alloc(0),
          }),
        };
      }),
    );
  },
  protocol({ topics }) {
    return {
      name: 'CicloCoPartitionedAssigner',
      metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }),
    };
  },
});
