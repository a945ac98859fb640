/**
 * Consumer lag, from offsets alone: for each partition, the records between the group's committed position
 * and the partition's end. A partition the group never committed counts from its start (the group reads
 * from the beginning), as much as the broker still keeps.
 *
 * On a topic written in transactions, the end includes commit markers: a consumer that committed its last
 * record's offset + 1 stays 1 behind per partition, forever. ciclo's consumers commit past the markers they
 * read (kafkajs resolves a batch to its last offset, markers included; the transactional runner commits
 * the same, transactional-processor.ts), so a caught-up group's lag is 0; a marker fetched alone after the
 * last commit can still show as 1 until the next record.
 */

/** Offsets of one partition as the broker reports them (strings, as Kafka's int64s arrive). */
export interface PartitionOffsets {
  readonly partition: number;
  /** The first offset still kept. */
  readonly low: string;
  /** The next offset to be written (end). */
  readonly high: string;
}

export interface PartitionLag {
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
  readonly lag: number;
}

/**
 * Lag per partition of one topic. `committed`: the group's committed offset per partition, -1 (or absent)
 * where it has none.
 */
export function lagOfPartitions(
  group: string,
  topic: string,
  ends: readonly PartitionOffsets[],
  committed: ReadonlyMap<number, number>,
): PartitionLag[] {
  return ends
    .map((o) => {
      const high = Number(o.high);
      const low = Number(o.low);
      const done = committed.get(o.partition) ?? -1;
      // A committed offset below what the broker keeps (retention deleted it): only what is left counts.
      const from = done >= 0 ? Math.max(done, low) : low;
      return { group, topic, partition: o.partition, lag: Math.max(0, high - from) };
    })
    .sort((a, b) => a.partition - b.partition);
}
