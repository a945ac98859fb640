/**
 * The lifecycle task on six partitions under the cluster fault test's load (test/cluster-faults.int.spec.ts:
 * a year of the simulated shop, 1,400 customers), with the consumer positions kafkajs gives the runner,
 * without Kafka. Each partition takes batches of its touchpoint and identity input interleaved at random,
 * each committed with its outputs and offsets; at random a rebalance, after which every partition a
 * member keeps is fetched from the committed offsets read then (its last transaction's not yet among them),
 * and a partition moves (restored from the changelog committed so far, its first batch fetched before the
 * runner's seek to the committed offsets took effect), or its transaction is lost (fenced) and it is
 * restored. The runner hands the task what its state has not consumed (infra/kafka/consumed-positions.ts);
 * the stage changes written must be the truth's. Handed the consumer's batches as they come, the task folds
 * records twice: with nothing remembered of its input (recent-events.ts), customers get their first change
 * credited to `first-touch` where the truth has `identity-merge`, as the cluster fault tests first showed.
 */
import { jsonSerde } from './fakes';
import { ConsumedPositions } from '../../infra/kafka/consumed-positions';
import type { OutputRecord } from '../../infra/kafka/transactional-processor';
import type { IncomingMessage } from '../../infra/kafka/types';
import type { StageChanged } from '../../schemas/outputs';
import { partitionFor } from '../../schemas/partitioner';
import { touchpointRecords } from '../../schemas/topics';
import type { Touchpoint } from '../../schemas/touchpoint';
import { collectedAs } from '../../producers/simulate/segment-calls';
import { simulate } from '../../producers/simulate/simulate';
import { clockVisits } from '../../test/support/journeys';
import { asImportRun, canonicalOrder, replay } from '../domain/replay';
import { createLifecycleTask } from './lifecycle-task';
import { loadModel } from './model-file';
import type { RecentEventsOptions } from '../domain/recent-events';

const PARTITIONS = 6;
const PARTITION_LIST = [...Array(PARTITIONS).keys()];
const DAY = 86_400_000;
/** When every record was written: after every event time here. */
const RECORD_TIME = Date.UTC(2100, 0, 1);
const topics = {
  touchpoints: 't',
  identity: 'i',
  stageChanges: 'sc',
  customerSnapshots: 'snap',
  changelog: 'state',
  deadLetter: 'dlq',
};
const INPUT_TOPICS = [topics.touchpoints, topics.identity];

/** JSON in place of Avro: this test is about the task's logic, not the wire format. */
/** The cluster fault test's load (test/support/cluster-pipeline.ts `clusterJourneys`), as the collector keys it. */
function shopTraffic(customers: number, seed: number): Touchpoint[] {
  const events = simulate({ customers, seed, days: 365, start: Date.UTC(2023, 0, 1) })
    .sort((a, b) => a.occurredAt - b.occurredAt)
    .map((tp) => collectedAs(tp, 'shop'));
  return [...events, ...clockVisits(events[events.length - 1]!.occurredAt + DAY, 24)];
}

/** Kafka, reduced to what the runner sees: partitioned logs. */
class Logs {
  private readonly topics = new Map<string, IncomingMessage[][]>();

  partition(topic: string, partition: number): IncomingMessage[] {
    let parts = this.topics.get(topic);
    if (!parts) this.topics.set(topic, (parts = PARTITION_LIST.map(() => [])));
    return parts[partition]!;
  }

  append(topic: string, partition: number, key: string | null, value: Buffer | null, headers = {}): void {
    const log = this.partition(topic, partition);
    log.push({ topic, partition, offset: String(log.length), key, value, headers, timestamp: RECORD_TIME });
  }

  write(records: readonly OutputRecord[]): void {
    for (const r of records)
      this.append(r.topic, r.partition ?? partitionFor(r.key ?? '', PARTITIONS), r.key, r.value, r.headers);
  }
}

interface Schedule {
  readonly seed: number;
  /** Whether the runner hands the task only what its state has not consumed (ConsumedPositions). */
  readonly guarded: boolean;
  /** What each partition remembers to drop copies of its input (default: the processor's). */
  readonly recentEvents?: RecentEventsOptions;
  /** Chance, per round, of a rebalance. */
  readonly rebalanceRate: number;
  /** Chance, per partition at a rebalance, that it moves to the other instance. */
  readonly moveRate: number;
  /** Chance, per batch, that its transaction is lost (fenced) and the partition restored. */
  readonly fenceRate: number;
}

type Offsets = Record<string, number>;

/** One run of the whole load: the stage changes written, and what happened. */
async function run(
  events: readonly Touchpoint[],
  schedule: Schedule,
): Promise<{ stageChanges: StageChanged[]; rebalances: number; moves: number; foldedAgain: number }> {
  let x = schedule.seed >>> 0 || 1;
  const rand = (): number => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const logs = new Logs();
  const task = createLifecycleTask({
    model: loadModel('five-stage'),
    gracePeriodMs: 0,
    partitions: PARTITIONS,
    topics,
    serdes: {
      touchpoint: jsonSerde(),
      stageChanged: jsonSerde(),
      customerSnapshot: jsonSerde(),
      lifecycleState: jsonSerde(),
      identity: jsonSerde(),
    },
    now: () => 0,
    ...(schedule.recentEvents ? { recentEvents: schedule.recentEvents } : {}),
  });
  const zero = (): Offsets => ({ [topics.touchpoints]: 0, [topics.identity]: 0 });
  /** The group's committed offsets, and each partition's offsets before its last transaction. */
  const committed = PARTITION_LIST.map(zero);
  const committedBefore = PARTITION_LIST.map(zero);
  /** Where the consumer fetches next, and a seek that takes effect at the fetch after the next one. */
  const fetchAt = PARTITION_LIST.map(zero);
  const seekAfterNext = PARTITION_LIST.map((): Partial<Offsets> => ({}));
  /** The highest offset each partition's state has folded since it was restored: what folding again is. */
  const folded = PARTITION_LIST.map((): Offsets => ({ [topics.touchpoints]: -1, [topics.identity]: -1 }));
  const positions = new ConsumedPositions();
  let rebalances = 0;
  let moves = 0;
  let foldedAgain = 0;

  const restore = async (p: number): Promise<void> => {
    task.close(p);
    positions.released(p);
    await task.open(p, logs.partition(topics.changelog, p));
    positions.restored(
      p,
      new Map(Object.entries(committed[p]!).map(([t, o]) => [t, BigInt(o)])),
      INPUT_TOPICS,
    );
    folded[p] = { [topics.touchpoints]: -1, [topics.identity]: -1 };
    // The consumer read the group's offsets when it joined, before the previous owner's last commit; the
    // runner's seek to those committed after the fence takes effect once a batch from there was fetched.
    fetchAt[p] = { ...committedBefore[p]! };
    seekAfterNext[p] = { ...committed[p]! };
  };
  for (const p of PARTITION_LIST) await restore(p);

  /** One batch of `topic` for partition `p`, as the runner's eachBatch takes it. */
  const batchOf = async (p: number, topic: string): Promise<void> => {
    const from = fetchAt[p]![topic]!;
    const batch = logs.partition(topic, p).slice(from, from + 1 + Math.floor(rand() * 60));
    const seek = seekAfterNext[p]![topic];
    delete seekAfterNext[p]![topic];
    fetchAt[p]![topic] = seek ?? from + batch.length;
    const fresh = schedule.guarded ? positions.unconsumed(topic, p, batch) : batch;
    if (fresh.length === 0) {
      fetchAt[p]![topic] = Number(positions.position(topic, p)!); // the runner's seek
      return;
    }
    for (const m of fresh) if (Number(m.offset) <= folded[p]![topic]!) foldedAgain += 1;
    folded[p]![topic] = Math.max(folded[p]![topic]!, Number(fresh[fresh.length - 1]!.offset));
    const records = await task.process(p, fresh);
    if (rand() < schedule.fenceRate) {
      // Fenced: the transaction is aborted, the state rebuilt from the changelog.
      moves += 1;
      await restore(p);
      return;
    }
    const next = Number(batch[batch.length - 1]!.offset) + 1;
    logs.write(records);
    committedBefore[p] = { ...committed[p]! };
    committed[p]![topic] = next;
    positions.consumed(topic, p, BigInt(next));
  };

  let produced = 0;
  const unread = (p: number, topic: string): boolean => logs.partition(topic, p).length > fetchAt[p]![topic]!;
  for (;;) {
    // The collector writes about as fast as the processors read.
    for (const tp of events.slice(produced, produced + 20))
      for (const r of touchpointRecords(tp, Buffer.from(JSON.stringify(tp)), PARTITIONS))
        logs.append(topics.touchpoints, r.partition ?? partitionFor(r.key, PARTITIONS), r.key, r.value, {
          ...r.headers,
        });
    produced = Math.min(events.length, produced + 20);
    if (rand() < schedule.rebalanceRate) {
      rebalances += 1;
      for (const p of PARTITION_LIST)
        if (rand() < schedule.moveRate) {
          moves += 1;
          await restore(p);
        } else fetchAt[p] = { ...committedBefore[p]! }; // kept: its offsets read again, stale
    }
    const busy = PARTITION_LIST.filter((p) => INPUT_TOPICS.some((t) => unread(p, t)));
    if (busy.length === 0 && produced === events.length) break;
    for (const p of busy) {
      if (rand() < 0.3) continue;
      const topic =
        unread(p, topics.identity) && (!unread(p, topics.touchpoints) || rand() < 0.5)
          ? topics.identity
          : topics.touchpoints;
      await batchOf(p, topic);
    }
  }
  // The end of the input: idle flushes until no partition has anything more to say.
  for (let more = true; more;) {
    more = false;
    for (const p of PARTITION_LIST) logs.write(await task.idle!(p));
    for (const p of PARTITION_LIST)
      while (unread(p, topics.identity)) {
        more = true;
        await batchOf(p, topics.identity);
      }
  }
  const stageChanges = PARTITION_LIST.flatMap((p) =>
    logs.partition(topics.stageChanges, p).map((m) => JSON.parse(m.value!.toString()) as StageChanged),
  );
  return { stageChanges, rebalances, moves, foldedAgain };
}

/** Each change that is not the truth's, as `ruleId at time` of the truth's and of the one written. */
function differences(truth: readonly StageChanged[], found: readonly StageChanged[]): string[] {
  const key = (c: StageChanged): string => `${c.customerId} #${c.sequence}`;
  const show = (c: StageChanged | undefined): string =>
    c === undefined
      ? 'none'
      : `${c.fromStage ?? '-'}->${c.toStage} ${c.ruleId} ${new Date(c.occurredAt).toISOString()}`;
  const byKey = new Map(found.map((c) => [key(c), c]));
  const out: string[] = [];
  for (const c of truth) {
    const f = byKey.get(key(c));
    byKey.delete(key(c));
    if (JSON.stringify(f) !== JSON.stringify(c)) out.push(`${key(c)}: ${show(c)}, written ${show(f)}`);
  }
  for (const [k, f] of byKey) out.push(`${k}: none, written ${show(f)}`);
  return out;
}

describe('lifecycle task on six partitions, under load, rebalances and partition moves', () => {
  const model = loadModel('five-stage');
  const events = shopTraffic(1400, 231);
  /** The truth (test/cluster-faults.int.spec.ts): the load on one partition as one run. */
  const truth = canonicalOrder(
    replay(asImportRun('truth', events), model, { partitions: 1, gracePeriodMs: 0 }).stageChanges,
  );
  const schedule = { seed: 7, rebalanceRate: 0.05, moveRate: 0.3, fenceRate: 0.002 };

  it('writes the truth when the runner hands the task only what its state has not consumed', async () => {
    const guarded = await run(events, { ...schedule, guarded: true });
    expect(guarded.rebalances).toBeGreaterThan(5);
    expect(guarded.moves).toBeGreaterThan(5);
    expect(guarded.foldedAgain).toBe(0);
    expect(differences(truth, canonicalOrder(guarded.stageChanges))).toEqual([]);
  }, 60_000);

  // The same schedule with the consumer's batches handed over as fetched: records a partition's state had
  // folded are folded again. Copies of touchpoints are dropped where they enter (recent-events.ts), so the
  // touchpoints folded again change nothing; what the identity topic carried is folded again.
  it('folding records twice: the touchpoints are copies dropped where they enter', async () => {
    const unguarded = await run(events, { ...schedule, guarded: false });
    expect(unguarded.foldedAgain).toBeGreaterThan(0);
    expect(differences(truth, canonicalOrder(unguarded.stageChanges))).toEqual([]);
  }, 60_000);

  // With nothing remembered, what folding twice did before the guard: a visit read again after its browser
  // was merged away is forwarded to the customer, which may not have the profile yet; either creates the
  // customer without the profile.
  it('shows what folding a record twice did with no recent events: first changes credited to first-touch', async () => {
    const unguarded = await run(events, {
      ...schedule,
      guarded: false,
      recentEvents: { windowMs: 0, maxEvents: 1 },
    });
    expect(unguarded.foldedAgain).toBeGreaterThan(0);
    const found = differences(truth, canonicalOrder(unguarded.stageChanges));
    expect(found.length).toBeGreaterThan(0);
    for (const d of found)
      expect(d).toMatch(/ #1: -->reach identity-merge .*, written -->reach first-touch /);
  }, 60_000);
});
