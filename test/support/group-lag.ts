/**
 * Waits on a consumer group's committed offsets: the end of a test's pipeline is when its consumers have
 * committed what their inputs hold.
 */
import { connectTopicAdmin } from '../../infra/kafka/admin';
import { eventually } from './services';

/** Waits until `group` has committed everything of `topic` (read-committed end offsets). */
export async function drained(
  brokers: readonly string[],
  group: string,
  topic: string,
  timeoutMs = 180_000,
): Promise<void> {
  const admin = await connectTopicAdmin(brokers);
  try {
    await eventually(
      async () => ((await admin.groupLag(group, topic)) === 0 ? true : undefined),
      timeoutMs,
      `${group} to commit all of ${topic}`,
    );
  } finally {
    await admin.close();
  }
}

/**
 * Waits until `group` has committed every record of each of `topics`, all at one moment: the end offsets
 * read before and after the group's lag are the same, and the lag is 0 on every partition.
 *
 * A processor's inputs are the touchpoints and the identity topic its partitions talk through. A customer
 * whose ids live on several partitions gets its last stage changes only once its partition has read the
 * others' progress from the identity topic, one transaction after the touchpoints that made them: the
 * touchpoints all committed is not the end. A partition restoring at that moment (a rebalance after a
 * fault) writes those changes seconds later. Whatever reading the identity topic writes (more progress, handoffs) is
 * committed with its offsets, so a moment with nothing left to commit on either input is the end.
 */
export async function settled(
  brokers: readonly string[],
  group: string,
  topics: readonly string[],
  timeoutMs = 180_000,
): Promise<void> {
  const admin = await connectTopicAdmin(brokers);
  const ends = async (): Promise<string> =>
    JSON.stringify(await Promise.all(topics.map(async (t) => [...(await admin.endOffsets(t))])));
  try {
    await eventually(
      async () => {
        const before = await ends();
        const lag = await admin.partitionLag(group, topics);
        const after = await ends();
        return before === after && lag.every((p) => p.lag === 0) ? true : undefined;
      },
      timeoutMs,
      `${group} to commit all of ${topics.join(' and ')}`,
    );
  } finally {
    await admin.close();
  }
}
