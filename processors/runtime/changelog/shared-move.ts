/**
 * Each stage model's processor has a changelog of its own (`<ns>.lifecycle-state.<modelId>`); before, every
 * model's state was in one shared topic (`<ns>.lifecycle-state`, keys prefixed `<modelId>/`). A partition of
 * a model's topic is **initialised** once it holds the marker `__initialised__`. The first time a processor
 * acquires a partition without it, before restoring the partition, it moves the partition's state over:
 *
 * 1. fence every other mover of the partition (a transactional id of the model's group and the partition),
 *    then read both partitions as committed;
 * 2. copy to the model's topic the model's latest records of the shared topic's partition of the same number
 *    (keys starting `<modelId>/`, tombstoned keys left out, in the order of their offsets, as a compacted
 *    read of the shared topic gives them), less those a move cut short has copied already;
 * 3. tombstone those keys in the shared topic, so that the only copy of a person's state is the one `ciclo
 *    forget` erases (tombstones go to the model's topic from then on);
 * 4. write the marker.
 *
 * Each step is transactions of its own, and a crash anywhere leaves something the next attempt finishes: until
 * the marker is written nothing but a mover writes to the model's topic, so a key found there is a copy of the
 * shared record, which stays until its key is tombstoned after every copy (a copied key whose shared record
 * is a tombstone already was copied before; the copy stays). Keys and values are copied as they are, so the
 * records read back exactly as before.
 *
 * Pure: `isInitialised`, `planSharedMove`; the I/O goes through a port (infra/kafka/fenced-transactions.ts).
 */
import { chunkBySize, type OutputRecord } from '../../../infra/kafka/transactional-processor';
import type { IncomingMessage } from '../../../infra/kafka/types';
import { CicloError } from '../../../infra/errors';

/** The marker of an initialised partition. No model's key: model ids start with a letter. */
export const INITIALISED_KEY = '__initialised__';

/** Whether a partition's records hold the marker: its state is in its model's topic. */
export function isInitialised(records: Iterable<Pick<IncomingMessage, 'key' | 'value'>>): boolean {
  for (const r of records) if (r.key === INITIALISED_KEY && r.value !== null) return true;
  return false;
}

export interface SharedMovePlan {
  /** The model's records still to copy to its topic, oldest first. */
  readonly copies: readonly OutputRecord[];
  /** Tombstones for the shared topic: every key of the model whose record there is not one already. */
  readonly tombstones: readonly OutputRecord[];
  /** How many of the model's keys the move carries over, counting those copied by an earlier attempt. */
  readonly keys: number;
}

/**
 * What is left to move of one partition: `own` is the model's topic's partition, `shared` the shared
 * topic's partition of the same number, both as read (committed records, oldest first).
 */
export function planSharedMove(
  modelId: string,
  own: readonly Pick<IncomingMessage, 'key' | 'value'>[],
  shared: readonly Pick<IncomingMessage, 'key' | 'value'>[],
  place: { readonly topic: string; readonly shared: string; readonly partition: number },
): SharedMovePlan {
  if (place.topic === place.shared)
    throw new CicloError(
      'CONFIG_INVALID',
      `the changelog ${place.topic} is the shared changelog it would take its state from`,
    );
  const prefix = `${modelId}/`;
  const copied = new Set<string>();
  for (const r of own)
    if (r.key !== null) {
      if (r.value === null) copied.delete(r.key);
      else copied.add(r.key);
    }
  /** The latest value of each of the model's keys, in the order of those latest records. */
  const latest = new Map<string, Buffer | null>();
  for (const r of shared) {
    if (r.key === null || !r.key.startsWith(prefix)) continue;
    latest.delete(r.key);
    latest.set(r.key, r.value);
  }
  const copies: OutputRecord[] = [];
  const tombstones: OutputRecord[] = [];
  for (const [key, value] of latest) {
    if (value === null) continue;
    if (!copied.has(key)) copies.push({ topic: place.topic, partition: place.partition, key, value });
    tombstones.push({ topic: place.shared, partition: place.partition, key, value: null });
  }
  let keys = copies.length;
  for (const key of copied) if (key.startsWith(prefix)) keys++;
  return { copies, tombstones, keys };
}

/** What the move reads and writes through; opening it fenced every earlier mover of the partition. */
export interface SharedMovePort {
  read(topic: string, partition: number): Promise<readonly IncomingMessage[]>;
  /** One transaction; throws if another mover fenced this one meanwhile. */
  commit(records: readonly OutputRecord[]): Promise<void>;
}

export interface InitialisedPartition {
  /** The partition's records after the move, to restore from. */
  readonly records: readonly IncomingMessage[];
  /** False when another mover had initialised it meanwhile. */
  readonly initialisedHere: boolean;
  /** The model's keys moved from the shared topic (0 without one). */
  readonly movedKeys: number;
}

/** Bytes of one transaction of the move: small enough to commit in well under a transaction timeout. */
export const MOVE_TRANSACTION_BYTES = 8 * 1024 * 1024;

/**
 * Initialises a partition of a model's changelog (the steps at the top of this file) and reads it back.
 * `shared`: the shared changelog, when it exists. `marker(keys)`: the marker's value. Stops, throwing, as
 * soon as `signal` aborts: a read cut short must not be taken for all there is.
 */
export async function initialiseChangelogPartition(options: {
  readonly port: SharedMovePort;
  readonly modelId: string;
  readonly partition: number;
  readonly topic: string;
  readonly shared?: string;
  readonly marker: (movedKeys: number) => Promise<Buffer>;
  readonly transactionBytes?: number;
  readonly signal?: AbortSignal;
}): Promise<InitialisedPartition> {
  const { port, partition, topic, signal } = options;
  const read = async (name: string): Promise<readonly IncomingMessage[]> => {
    const records = await port.read(name, partition);
    signal?.throwIfAborted();
    return records;
  };
  const own = await read(topic);
  if (isInitialised(own)) return { records: own, initialisedHere: false, movedKeys: 0 };
  let movedKeys = 0;
  if (options.shared !== undefined) {
    const plan = planSharedMove(options.modelId, own, await read(options.shared), {
      topic,
      shared: options.shared,
      partition,
    });
    const bytes = options.transactionBytes ?? MOVE_TRANSACTION_BYTES;
    // Every copy before any tombstone: a key tombstoned in the shared topic must be in the model's.
    for (const step of [plan.copies, plan.tombstones])
      for (const run of chunkBySize(step, bytes)) {
        signal?.throwIfAborted();
        await port.commit(run);
      }
    movedKeys = plan.keys;
  }
  signal?.throwIfAborted();
  await port.commit([{ topic, partition, key: INITIALISED_KEY, value: await options.marker(movedKeys) }]);
  return { records: await read(topic), initialisedHere: true, movedKeys };
}
