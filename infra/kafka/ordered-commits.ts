/**
 * The offsets a consumer may commit when it hands batches over and they finish out of order (the
 * projector's inserts run while the next batches are fetched): a partition's offset moves past a batch only
 * once that batch and every batch taken before it on the partition are done, so a record is never committed
 * before its batch is. An offset lower than one already returned (a batch fetched again after a rebalance)
 * is never returned.
 *
 * A new generation (a rebalance, a restarted consumer, which fetch again from the committed offsets) forgets
 * every batch in flight: what finishes of them later moves nothing, and is fetched and done again (at least
 * once). A failed batch blocks its partition's commits until then.
 *
 * Pure: no I/O; the consumer adapter (consumer.ts) commits and restarts.
 */

/** One batch handed over: where it is and which generation took it. */
export interface BatchTicket {
  readonly topic: string;
  readonly partition: number;
  /** The offset past the batch's last record (what a commit after it names). */
  readonly next: bigint;
  readonly generation: number;
}

interface PartitionLine {
  /** Batches taken and not yet passed, in the order taken; `done` once finished. */
  readonly line: { ticket: BatchTicket; done: boolean }[];
  /** The highest offset returned to commit. */
  committed: bigint;
  /** A batch of this generation failed: nothing more is committed until the next generation. */
  blocked: boolean;
}

export class OrderedCommits {
  private generation = 0;
  private partitions = new Map<string, PartitionLine>();

  /** A batch handed over: `next` is the offset past its last record. */
  take(topic: string, partition: number, next: bigint): BatchTicket {
    const ticket = { topic, partition, next, generation: this.generation };
    this.lineOf(topic, partition).line.push({ ticket, done: false });
    return ticket;
  }

  /**
   * The batch is done: the offset its partition may now commit (past every batch done in order), or
   * undefined when it moved nothing (an earlier batch is still running, another generation took it, or the
   * partition is blocked).
   */
  done(ticket: BatchTicket): bigint | undefined {
    const p = this.current(ticket);
    if (p === undefined || p.blocked) return undefined;
    const entry = p.line.find((e) => e.ticket === ticket);
    if (entry === undefined) return undefined;
    entry.done = true;
    let reached: bigint | undefined;
    while (p.line.length > 0 && p.line[0]!.done) reached = p.line.shift()!.ticket.next;
    if (reached === undefined || reached <= p.committed) return undefined;
    p.committed = reached;
    return reached;
  }

  /** The batch failed: its partition commits nothing more in this generation (its records are fetched again). */
  failed(ticket: BatchTicket): void {
    const p = this.current(ticket);
    if (p === undefined) return;
    p.blocked = true;
    p.line.length = 0;
  }

  /** The consumer fetches again from the committed offsets: every batch in flight is forgotten. */
  newGeneration(): void {
    this.generation += 1;
    this.partitions = new Map();
  }

  /** Batches taken and not yet passed, over all partitions. */
  get inFlight(): number {
    let n = 0;
    for (const p of this.partitions.values()) n += p.line.length;
    return n;
  }

  private current(ticket: BatchTicket): PartitionLine | undefined {
    if (ticket.generation !== this.generation) return undefined;
    return this.partitions.get(`${ticket.topic}\u0000${ticket.partition}`);
  }

  private lineOf(topic: string, partition: number): PartitionLine {
    const key = `${topic}\u0000${partition}`;
    let p = this.partitions.get(key);
    if (p === undefined) this.partitions.set(key, (p = { line: [], committed: -1n, blocked: false }));
    return p;
  }
}
