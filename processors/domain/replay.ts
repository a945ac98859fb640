/**
 * Replays records (in arrival order) through the same partition processors the runtime uses, routed to
 * partitions exactly as Kafka routes them, and returns the stage changes: what `ciclo lifecycle replay`
 * prints, and what the runtime must have produced for the same input. A record is a touchpoint of live
 * traffic, a touchpoint of an import run's lane, or a lane's open or close marker, which goes to every
 * partition as the import writes it (schemas/lanes.ts); a link goes to every partition, as ciclo's
 * producers write it. `asImportRun` makes a set into one run, sorted as `ciclo import` sorts it: the truth
 * for a set is its replay on one partition as one run. A forget marker (forget.ts) goes to every partition, as
 * `ciclo forget` writes it. Identity messages between partitions (identity.ts)
 * are delivered in memory as soon as they are sent, or as a test chooses (`deliver`, `shuffle`); the
 * protocol makes the outcome independent of when they arrive.
 */
import { byEventTime } from '../../schemas/lanes';
import type { StageChanged } from '../../schemas/outputs';
import { linkedIdOf, touchpointKey } from '../../schemas/topics';
import type { Touchpoint } from '../../schemas/touchpoint';
import { boundEventTime } from './event-time';
import { partitionOfMessage, type IdentityMessage } from './identity';
import type { PseudonymOf } from './forget';
import type { StageModel } from './model';
import type { RecentEventsOptions } from './recent-events';
import { emptyCounters, PartitionLifecycle, type LaneMarker, type PartitionCounters } from './partition';
import { addCounters } from './partition-counters';
import { partitionFor } from '../../schemas/partitioner';

export interface ReplayOptions {
  readonly partitions: number;
  readonly gracePeriodMs: number;
  /**
   * How identity messages travel. By default each is delivered at once; a test can hold some back to show
   * that the result does not depend on it: `deliver` gets the messages sent so far (oldest first) and
   * returns how many of them to deliver now, from the front. At the end of input everything is delivered.
   */
  readonly deliver?: (inFlight: readonly IdentityMessage[]) => number;
  /**
   * Instead: a random source (values in [0, 1)) that delays messages and delivers them in a random order,
   * as Kafka may, keeping only the order of each sender's messages to each partition (one producer, one topic
   * partition): what the protocol may rely on (identity.ts).
   */
  readonly shuffle?: () => number;
  /** The keyed pseudonym of an id, for forget markers (forget.ts). */
  readonly pseudonymOf?: PseudonymOf;
  /** How long copies of an input event are dropped for (recent-events.ts; record time is `receivedAt`). */
  readonly recentEvents?: RecentEventsOptions;
}

/** A record of the touchpoint topic, as the processor tells them apart. */
export type ReplayRecord =
  | Touchpoint
  | { readonly lane: string; readonly touchpoint: Touchpoint }
  | { readonly marker: LaneMarker }
  | { readonly forget: readonly string[] };

/** The records an import run writes for `touchpoints`: open, the touchpoints by event time, close. */
export function asImportRun(lane: string, touchpoints: Iterable<Touchpoint>): ReplayRecord[] {
  // By the event time the partition will take (event-time.ts bounds a clock ahead): sorted by the time it
  // claimed, such a touchpoint would come last, and then be late for its customer.
  const sorted = [...touchpoints]
    .map((tp) => ({ tp, key: boundEventTime(tp, undefined) }))
    .sort((a, b) => byEventTime(a.key, b.key))
    .map(({ tp }) => tp);
  if (sorted.length === 0) return [];
  return [
    { marker: { kind: 'open', lane, startsAt: boundEventTime(sorted[0]!, undefined).occurredAt } },
    ...sorted.map((touchpoint) => ({ lane, touchpoint })),
    { marker: { kind: 'close', lane } },
  ];
}

export interface ReplayResult {
  readonly stageChanges: StageChanged[];
  readonly counters: PartitionCounters;
  readonly partitions: PartitionLifecycle[];
}

export function replay(
  records: Iterable<ReplayRecord>,
  model: StageModel,
  options: ReplayOptions,
): ReplayResult {
  const n = options.partitions;
  const partitions = Array.from(
    { length: n },
    (_, partition) =>
      new PartitionLifecycle(model, {
        gracePeriodMs: options.gracePeriodMs,
        ...(n > 1 ? { route: { partition, partitions: n } } : {}),
        ...(options.pseudonymOf ? { pseudonymOf: options.pseudonymOf } : {}),
        ...(options.recentEvents ? { recentEvents: options.recentEvents } : {}),
      }),
  );
  const stageChanges: StageChanged[] = [];
  const inFlight: { readonly from: number; readonly to: number; readonly message: IdentityMessage }[] = [];
  const collect = (p: PartitionLifecycle, from: number): void => {
    const out = p.takeOutput();
    for (const c of out.stageChanges) stageChanges.push(c);
    for (const message of out.messages) inFlight.push({ from, to: partitionOfMessage(message, n), message });
  };
  // Identity messages end: a link sends one handoff, forwards stop after MAX_FORWARD_HOPS, progress only moves on. A
  // bug that made them circle would hang a replay (and a test) for ever; this says so instead.
  let delivered = 0;
  let ingested = 0;
  /** Delivers the message at `index`; what it causes may send more, delivered in turn. */
  const deliverAt = (index: number): void => {
    const { to, message } = inFlight.splice(index, 1)[0]!;
    if (++delivered > 1000 + 100 * ingested)
      throw new Error(
        `identity messages circle between partitions: ${delivered} delivered for ${ingested} touchpoints, the last ${JSON.stringify(message).slice(0, 300)}`,
      );
    partitions[to]!.receive(message);
    collect(partitions[to]!, to);
  };
  const deliver = (count: number): void => {
    for (let i = 0; i < count && inFlight.length > 0; i++) deliverAt(0);
  };
  const deliverAsChosen = (): void => {
    const shuffle = options.shuffle;
    if (shuffle) {
      // Some now, the rest later: each time the first in flight on the channel of a random one.
      while (inFlight.length > 0 && shuffle() < 0.6) {
        const { from, to } = inFlight[Math.floor(shuffle() * inFlight.length)]!;
        deliverAt(inFlight.findIndex((m) => m.from === from && m.to === to));
      }
      return;
    }
    while (inFlight.length > 0) {
      const count = options.deliver ? options.deliver(inFlight.map((m) => m.message)) : inFlight.length;
      if (count <= 0) return;
      deliver(count);
    }
  };
  for (const record of records) {
    if ('marker' in record) {
      partitions.forEach((p, i) => {
        p.mark(record.marker);
        collect(p, i);
      });
      if (inFlight.length > 0) deliverAsChosen();
      continue;
    }
    if ('forget' in record) {
      partitions.forEach((p, i) => {
        p.forget(record.forget);
        collect(p, i);
      });
      if (inFlight.length > 0) deliverAsChosen();
      continue;
    }
    ingested += 1;
    const tp = 'touchpoint' in record ? record.touchpoint : record;
    const source = 'touchpoint' in record ? { lane: record.lane } : {};
    // As ciclo's producers write it: keyed by its customer, and a link to every partition.
    const key = touchpointKey(tp);
    const linked = linkedIdOf(tp);
    const home = partitionFor(key, n);
    for (const [i, p] of partitions.entries())
      if (i === home || (linked !== undefined && linked !== key)) {
        p.ingest(tp, source);
        collect(p, i);
      }
    if (inFlight.length > 0) deliverAsChosen();
  }
  // End of input: flush and deliver until nothing moves (a handoff can release a held customer).
  // Deadlines fire up to the newest event time of the input, on every partition, as on one.
  const until = Math.max(...partitions.map((p) => p.watermark));
  do {
    deliver(inFlight.length);
    partitions.forEach((p, i) => {
      p.flush({ endOfInput: true, until });
      collect(p, i);
    });
  } while (inFlight.length > 0);
  const counters = partitions.reduce<PartitionCounters>((sum, p) => {
    addCounters(sum, p.counters);
    return sum;
  }, emptyCounters());
  return { stageChanges, counters, partitions };
}

/** Stage changes in a canonical order, for comparing runs (the order across customers is not defined). */
export function canonicalOrder(changes: readonly StageChanged[]): StageChanged[] {
  return [...changes].sort((a, b) =>
    a.customerId < b.customerId ? -1 : a.customerId > b.customerId ? 1 : a.sequence - b.sequence,
  );
}
