/**
 * The projector's inserts, one queue per table. Batches of several partitions are handled at once, and the
 * next fetch comes while their inserts run (the consumer commits a batch once its insert is done:
 * MessageConsumer.runHandedOver). Rows for one table are coalesced into the next insert while one is in
 * flight, so ClickHouse gets a few large inserts (which it likes: one part each) instead of one per
 * partition batch. Each batch still learns its own outcome: when a combined insert is refused as bad data,
 * its batches are inserted one by one to find whose rows are bad.
 */
import type { BatchControl } from '../../infra/kafka/consumer';
import type { Row } from './rows';

/**
 * Rows waiting for a table (beyond the insert in flight) past which the consumer waits: about two seconds
 * of e2e throughput, one insert ClickHouse writes as one part.
 */
export const MAX_WAITING_ROWS = 20_000;

export type InsertOutcome = 'inserted' | 'rejected';

interface InsertRequest {
  readonly rows: Row[];
  resolve(outcome: InsertOutcome): void;
  reject(err: unknown): void;
}

interface TableQueue {
  waiting: InsertRequest[];
  waitingRows: number;
  busy: boolean;
  /** Settles when the insert in flight ends. */
  insertEnded: Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `insert`: one insert of a table's rows, retried as long as it should be; `isStopping`: give up waiting. */
export function tableQueues<T extends { readonly table: string }>(
  insert: (target: T, rows: Row[]) => Promise<InsertOutcome>,
  isStopping: () => boolean,
): {
  insertRows(target: T, rows: Row[]): Promise<InsertOutcome>;
  heldBack(target: T, control: BatchControl): Promise<void>;
} {
  const queues = new Map<string, TableQueue>();

  function queueOf(target: T): TableQueue {
    let queue = queues.get(target.table);
    if (!queue) {
      queue = { waiting: [], waitingRows: 0, busy: false, insertEnded: Promise.resolve() };
      queues.set(target.table, queue);
    }
    return queue;
  }

  async function drain(target: T): Promise<void> {
    const queue = queueOf(target);
    if (queue.busy) return;
    queue.busy = true;
    try {
      while (queue.waiting.length > 0) {
        const taken = queue.waiting.splice(0, queue.waiting.length);
        queue.waitingRows = 0;
        let ended!: () => void;
        queue.insertEnded = new Promise((r) => (ended = r));
        try {
          const outcome = await insert(
            target,
            taken.flatMap((t) => t.rows),
          );
          if (outcome === 'inserted' || taken.length === 1) for (const t of taken) t.resolve(outcome);
          else for (const t of taken) t.resolve(await insert(target, t.rows));
        } catch (err) {
          for (const t of taken) t.reject(err);
        } finally {
          ended();
        }
      }
    } finally {
      queue.busy = false;
    }
  }

  return {
    /** The rows go in the table's next insert; resolves with that insert's outcome for them. */
    insertRows(target, rows) {
      const queue = queueOf(target);
      const result = new Promise<InsertOutcome>((resolve, reject) => {
        queue.waiting.push({ rows, resolve, reject });
      });
      queue.waitingRows += rows.length;
      void drain(target);
      return result;
    },
    /**
     * Holds the consumer back while more rows wait for a table than one insert should carry: a backlog is
     * fetched as fast as it is inserted, not into memory. Keeps the group membership alive meanwhile (a
     * ClickHouse outage can hold it for long).
     */
    async heldBack(target, control) {
      const queue = queueOf(target);
      while (queue.waitingRows > MAX_WAITING_ROWS && control.isRunning() && !isStopping()) {
        await Promise.race([queue.insertEnded, sleep(3000)]);
        await control.heartbeat();
      }
    },
  };
}
