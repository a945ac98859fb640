/**
 * How far a processor's in-memory state has consumed each input topic-partition it owns: the offset of the
 * next record it has not folded. The transactional runner (transactional-processor.ts) hands a task only
 * records at or past it, so that a record reaches a partition's state once per restore, whatever position
 * the consumer fetches from.
 *
 * kafkajs fetches from positions of its own, which can fall behind the state:
 * - at every rebalance it reads the group's committed offsets of every partition assigned to the member, the
 *   ones it keeps too (consumerGroup.js `sync`: a new OffsetManager), with OffsetFetch v4 or older, which
 *   has no `require_stable` (KIP-447): the offsets of a transaction committed just before may not be
 *   materialized yet (the coordinator writes the commit markers after answering EndTxn), so a kept
 *   partition's last batch is fetched again;
 * - a partition acquired after a rebalance is sought to the offsets committed once its previous owner is
 *   fenced, but the seek takes effect at the next fetch, after a batch fetched before it may have been
 *   processed already.
 * A record folded twice is no duplicate to the fold when what it caused lives on another partition: an
 * anonymous visit read again after its browser was merged away is forwarded to the customer, who may not
 * have the merged profile yet, and credits its first stage change to `first-touch` instead of
 * `identity-merge` (processors/runtime/lifecycle-task-moves.unit.spec.ts).
 */

/** A record as positions see it: an offset (a decimal string, as Kafka clients give it). */
interface Offset {
  readonly offset: string;
}

export class ConsumedPositions {
  /** `topic` -> partition -> the next offset the state has not consumed. */
  private readonly next = new Map<string, Map<number, bigint>>();

  /**
   * The partition's state was restored as of these committed offsets, by topic; a topic without one is read
   * from wherever the consumer starts (its first batch sets the position).
   */
  restored(partition: number, committed: ReadonlyMap<string, bigint>, topics: readonly string[]): void {
    for (const topic of topics) {
      const offset = committed.get(topic);
      if (offset === undefined) this.next.get(topic)?.delete(partition);
      else this.at(topic).set(partition, offset);
    }
  }

  /** The partition's state is gone (revoked, or to be restored again): nothing is known of it. */
  released(partition: number): void {
    for (const partitions of this.next.values()) partitions.delete(partition);
  }

  /** The next offset of the topic-partition the state has not consumed, if known. */
  position(topic: string, partition: number): bigint | undefined {
    return this.next.get(topic)?.get(partition);
  }

  /** The records of a fetched batch the state has not consumed yet, in order. */
  unconsumed<M extends Offset>(topic: string, partition: number, messages: readonly M[]): readonly M[] {
    const from = this.position(topic, partition);
    if (from === undefined || messages.length === 0 || BigInt(messages[0]!.offset) >= from) return messages;
    return messages.filter((m) => BigInt(m.offset) >= from);
  }

  /** A batch was committed with the state: the state has consumed the topic-partition up to `next`. */
  consumed(topic: string, partition: number, next: bigint): void {
    const partitions = this.at(topic);
    const before = partitions.get(partition);
    if (before === undefined || next > before) partitions.set(partition, next);
  }

  private at(topic: string): Map<number, bigint> {
    let partitions = this.next.get(topic);
    if (partitions === undefined) this.next.set(topic, (partitions = new Map<number, bigint>()));
    return partitions;
  }
}
