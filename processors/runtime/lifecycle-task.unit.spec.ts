/**
 * The lifecycle task under the interleavings Kafka can produce, without Kafka: each partition's input and
 * identity messages are consumed in random batches, partitions take turns at random, idle partitions are
 * flushed, and partitions crash (their state rebuilt from what the changelog holds, their input resumed from
 * the committed offsets). Every `process` call is one committed transaction, as the exactly-once runner makes
 * it. Whatever the schedule, the stage changes written must be exactly what `lifecycle replay` computes.
 * The real thing, on Kafka, is test/processor.int.spec.ts; this one tries thousands of schedules in seconds.
 */
import { jsonSerde } from './fakes';
import { isDeepStrictEqual } from 'node:util';
import type { OutputRecord } from '../../infra/kafka/transactional-processor';
import type { IncomingMessage } from '../../infra/kafka/types';
import type { StageChanged } from '../../schemas/outputs';
import {
  MERGED_INTO_HEADER,
  parseSnapshotKey,
  SEQUENCE_HEADER,
  touchpointRecords,
} from '../../schemas/topics';
import type { Touchpoint } from '../../schemas/touchpoint';
import { loadModel } from '../runtime/model-file';
import { partitionFor } from '../../schemas/partitioner';
import { asImportRun, canonicalOrder, replay, type ReplayRecord } from '../domain/replay';
import { byEventTime, LANE_CONTROL_KEY, LANE_HEADER, laneControlHeaders } from '../../schemas/lanes';
import {
  busyCustomers,
  clockVisits,
  denseLinks,
  interleaved,
  journeys,
  withCopies,
} from '../../test/support/journeys';
import {
  APPLIED_KEY_PREFIX,
  CHANGELOG_FORMAT_VERSION,
  changelogKey,
  HELD_INLINE,
  createLifecycleTask,
  type LifecycleTaskDeps,
  PENDING_KEY_PREFIX,
  pendingKeyOf,
  RECENT_KEY_PREFIX,
} from './lifecycle-task';
import { PartitionLifecycle } from '../domain/partition';
import { FORGET_KEY, forgetMarkerHeaders } from '../../schemas/forget';
import { pseudonymOf } from '../../schemas/pseudonym';

/** The keyed pseudonym of an id under a test installation's secret. */
const SECRET = Buffer.alloc(32, 7);
const pseudonym = (id: string): string => pseudonymOf(SECRET, id);

const PARTITIONS = 3;
const topics = {
  touchpoints: 't',
  identity: 'i',
  stageChanges: 'sc',
  customerSnapshots: 'snap',
  changelog: 'state',
  deadLetter: 'dlq',
};

/** JSON in place of Avro: this test is about the task's logic, not the wire format. */
/** The task with JSON serdes, five-stage model, a clock at 0, and `options` over the rest. */
function testTask(
  options: Partial<
    Pick<LifecycleTaskDeps, 'gracePeriodMs' | 'partitions' | 'pendingInlineBytes' | 'pseudonymOf'>
  > = {},
): ReturnType<typeof createLifecycleTask> {
  return createLifecycleTask({
    model: loadModel('five-stage'),
    gracePeriodMs: 0,
    partitions: PARTITIONS,
    pseudonymOf: pseudonym,
    topics,
    serdes: {
      touchpoint: jsonSerde(),
      stageChanged: jsonSerde(),
      customerSnapshot: jsonSerde(),
      lifecycleState: jsonSerde(),
      identity: jsonSerde(),
    },
    now: () => 0,
    ...options,
  });
}

/** When every record was written: after any event time the tests use. */
const RECORD_TIME = Date.UTC(2100, 0, 1);

/** Kafka, reduced to what the task sees: partitioned logs, and per partition what was committed. */
class Logs {
  readonly topics = new Map<string, IncomingMessage[][]>();

  append(topic: string, partition: number, key: string | null, value: Buffer | null, headers = {}): void {
    let parts = this.topics.get(topic);
    if (!parts) this.topics.set(topic, (parts = Array.from({ length: PARTITIONS }, () => [])));
    const log = parts[partition]!;
    log.push({ topic, partition, offset: String(log.length), key, value, headers, timestamp: RECORD_TIME });
  }

  partition(topic: string, partition: number): IncomingMessage[] {
    return this.topics.get(topic)?.[partition] ?? [];
  }

  write(records: readonly OutputRecord[]): void {
    for (const r of records)
      this.append(r.topic, r.partition ?? partitionFor(r.key ?? '', PARTITIONS), r.key, r.value, r.headers);
  }
}

/**
 * One schedule, drawn from `seed`. Crashes come from a random stream of their own and take no step of the
 * schedule, so a run with `crashRate: 0` consumes the same batches in the same order, only never restores.
 */
async function run(
  events: readonly ReplayRecord[],
  seed: number,
  options: { crashRate?: number; gracePeriodMs?: number; pendingInlineBytes?: number } = {},
): Promise<{ stageChanges: StageChanged[]; logs: Logs; task: ReturnType<typeof createLifecycleTask> }> {
  let x = seed;
  const rand = (): number => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  let y = (seed ^ 0x5bd1e995) >>> 0 || 1;
  const crashRand = (): number => (y = (Math.imul(y, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const logs = new Logs();
  // Produced in four chunks over the run, so partitions catch up, go idle, and get more.
  let produced = 0;
  const produceChunk = (): void => {
    const chunk = events.slice(produced, produced + Math.ceil(events.length / 4));
    produced += chunk.length;
    for (const record of chunk) {
      if ('marker' in record) {
        // As `ciclo import` writes them: to every partition.
        for (const p of PARTITION_LIST)
          logs.append(topics.touchpoints, p, LANE_CONTROL_KEY, null, laneControlHeaders(record.marker));
        continue;
      }
      if ('forget' in record) {
        // As `ciclo forget` writes it: to every partition.
        for (const p of PARTITION_LIST)
          logs.append(
            topics.touchpoints,
            p,
            FORGET_KEY,
            null,
            forgetMarkerHeaders({ request: 'test', pseudonyms: record.forget }),
          );
        continue;
      }
      const tp = 'touchpoint' in record ? record.touchpoint : record;
      const lane: Record<string, string> = 'touchpoint' in record ? { [LANE_HEADER]: record.lane } : {};
      produce(logs, tp, lane);
    }
  };
  produceChunk();

  const task = testTask({
    gracePeriodMs: options.gracePeriodMs ?? 0,
    ...(options.pendingInlineBytes !== undefined ? { pendingInlineBytes: options.pendingInlineBytes } : {}),
  });
  /** Committed offsets per partition and input topic. */
  const committed = Array.from({ length: PARTITIONS }, () => ({
    [topics.touchpoints]: 0,
    [topics.identity]: 0,
  }));
  const open = async (p: number): Promise<void> => task.open(p, logs.partition(topics.changelog, p));
  for (let p = 0; p < PARTITIONS; p++) await open(p);

  const pendingOf = (p: number, topic: string): number =>
    logs.partition(topic, p).length - committed[p]![topic]!;
  let stalled = -1;
  for (let steps = 0; steps < 100_000; steps++) {
    const busy = [...Array(PARTITIONS).keys()].filter(
      (p) => pendingOf(p, topics.touchpoints) > 0 || pendingOf(p, topics.identity) > 0,
    );
    if (produced < events.length && (busy.length === 0 || rand() < 0.02)) {
      produceChunk();
      continue;
    }
    if (busy.length === 0) {
      // Quiet everywhere: the idle flush, which may release more work.
      let wrote = false;
      for (let p = 0; p < PARTITIONS; p++) {
        const records = await task.idle!(p);
        if (records.some((r) => r.topic === topics.identity)) wrote = true;
        logs.write(records);
      }
      if (!wrote) break;
      continue;
    }
    // A partition whose owner died is not processed until the group notices: it falls far behind.
    if (rand() < 0.01) stalled = Math.floor(rand() * PARTITIONS);
    if (rand() < 0.01) stalled = -1;
    const runnable = busy.length > 1 ? busy.filter((q) => q !== stalled) : busy;
    const p = runnable[Math.floor(rand() * runnable.length)]!;
    if (crashRand() < (options.crashRate ?? 0.05)) {
      // A crash: what was not committed is gone; the next owner restores from the changelog.
      task.close(p);
      await open(p);
    }
    // A partition that has consumed everything so far goes idle and is flushed, while others are busy.
    for (const q of PARTITION_LIST)
      if (pendingOf(q, topics.touchpoints) === 0 && pendingOf(q, topics.identity) === 0 && rand() < 0.3)
        logs.write(await task.idle!(q));
    const topic =
      pendingOf(p, topics.identity) > 0 && (pendingOf(p, topics.touchpoints) === 0 || rand() < 0.5)
        ? topics.identity
        : topics.touchpoints;
    const from = committed[p]![topic]!;
    const batch = logs.partition(topic, p).slice(from, from + 1 + Math.floor(rand() * 12));
    logs.write(await task.process(p, batch));
    committed[p]![topic] = from + batch.length;
  }
  const stageChanges = PARTITION_LIST.flatMap((p) =>
    logs.partition(topics.stageChanges, p).map((m) => JSON.parse(m.value!.toString()) as StageChanged),
  );
  return { stageChanges, logs, task };
}

const PARTITION_LIST = [...Array(PARTITIONS).keys()];

/** Writes a touchpoint as ciclo's producers do (schemas/topics.ts touchpointRecords), JSON for its value. */
function produce(logs: Logs, tp: Touchpoint, headers: Record<string, string> = {}): void {
  for (const r of touchpointRecords(tp, Buffer.from(JSON.stringify(tp)), PARTITIONS))
    logs.append(topics.touchpoints, r.partition ?? partitionFor(r.key, PARTITIONS), r.key, r.value, {
      ...r.headers,
      ...headers,
    });
}
const inTimeOrder = (events: readonly Touchpoint[]): Touchpoint[] => [...events].sort(byEventTime);
const DAY = 86_400_000;

describe('lifecycle task, under random schedules, batches, idle flushes and crashes', () => {
  const model = loadModel('five-stage');
  /** The truth for a set (docs/event-time.md): the set in event-time order, on one partition. */
  const expectedOf = (events: readonly Touchpoint[], gracePeriodMs = 0): StageChanged[] =>
    canonicalOrder(replay(inTimeOrder(events), model, { partitions: 1, gracePeriodMs }).stageChanges);

  it('gives the truth for history imported in customer order next to live traffic, under crashes', async () => {
    // A year of live traffic; three quarters through it, an import of an overlapping year of other
    // customers, from a file in customer order; then a second import. Each partition's input ends at one
    // time (clock visits), as one partition's would.
    const shift = (events: Touchpoint[], days: number): Touchpoint[] =>
      events.map((tp) => ({
        ...tp,
        occurredAt: tp.occurredAt + days * DAY,
        receivedAt: tp.receivedAt + days * DAY,
      }));
    const live = journeys('lv', 50);
    const history = shift(journeys('hi', 50), -90);
    const more = shift(journeys('mo', 30), 40);
    const end = Math.max(...[...live, ...history, ...more].map((tp) => tp.occurredAt)) + DAY;
    const liveWithClocks = [...live, ...clockVisits(end, 24)];
    let x = 5;
    const rand = (): number => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32;
    const byCustomer = (events: Touchpoint[]): Touchpoint[] =>
      [...events].sort((a, b) =>
        (a.customerId ?? a.anonymousId ?? '').localeCompare(b.customerId ?? b.anonymousId ?? ''),
      );
    const records = interleaved(
      interleaved(
        liveWithClocks,
        asImportRun('hist', byCustomer(history)),
        rand,
        Math.floor(live.length * 0.75),
      ),
      asImportRun('more', byCustomer(more)),
      rand,
      Math.floor(live.length * 0.9),
    );
    const truth = canonicalOrder(
      replay(asImportRun('truth', [...liveWithClocks, ...history, ...more]), model, {
        partitions: 1,
        gracePeriodMs: 0,
      }).stageChanges,
    );
    expect(truth.filter((c) => c.toStage === 'at_risk').length).toBeGreaterThan(20);
    for (const [seed, crashRate] of [
      [3, 0],
      [4, 0.1],
      [5, 0.2],
    ] as const) {
      const { stageChanges } = await run(records, seed, { crashRate });
      expect(canonicalOrder(stageChanges)).toEqual(truth);
    }
    // Without lanes (every record live, as before them), the history fires false deadlines.
    const asLive = records.flatMap((r) => ('marker' in r ? [] : ['touchpoint' in r ? r.touchpoint : r]));
    const { stageChanges } = await run(asLive, 3, { crashRate: 0 });
    expect(canonicalOrder(stageChanges)).not.toEqual(truth);
  });

  it('covers identity links across partitions', () => {
    const expected = expectedOf(journeys('s0', 60));
    expect(expected.filter((c) => c.ruleId === 'identity-merge').length).toBeGreaterThan(30);
  });

  // Each schedule also places the ids anew (another prefix), as the integration test's names do.
  it.each(Array.from({ length: Number(process.env.SCHEDULES ?? 12) }, (_, i) => i + 1))(
    'writes exactly the replayed stage changes (schedule %i)',
    async (seed) => {
      // Live traffic comes about in time order (history in any order is an import: the test above).
      const events = inTimeOrder(journeys(`s${seed}`, 60));
      expect(canonicalOrder((await run(events, seed)).stageChanges)).toEqual(expectedOf(events));
    },
  );

  // A restore must give back everything the fold decides with, the identity table, the customers fed from
  // elsewhere and the other partitions' progress included: a crash anywhere changes nothing that is written,
  // and both give the truth. A crash before two steps in five. Deeper: DENSE_SEEDS=2000 CRASH_RATE=0.2.
  it('writes the truth with crashes and without, on journeys dense with links between customers', async () => {
    const differing: number[] = [];
    for (let seed = 1; seed <= Number(process.env.DENSE_SEEDS ?? 150); seed++) {
      const events = denseLinks(seed);
      const calm = await run(events, seed, { crashRate: 0 });
      const crashing = await run(events, seed, { crashRate: Number(process.env.CRASH_RATE ?? 0.4) });
      // The snapshot topic as compaction leaves it: the last record of each key. (A restore may write a
      // customer's snapshot once more, the same.)
      const table = (logs: Logs): string[] =>
        PARTITION_LIST.flatMap((p) => [
          ...new Map(
            logs.partition(topics.customerSnapshots, p).map((m) => [m.key, m.value?.toString() ?? '']),
          ),
        ]).map(([key, value]) => `${key} ${value}`);
      const truth = canonicalOrder(replay(events, model, { partitions: 1, gracePeriodMs: 0 }).stageChanges);
      if (
        !isDeepStrictEqual(canonicalOrder(calm.stageChanges), truth) ||
        !isDeepStrictEqual(canonicalOrder(crashing.stageChanges), truth) ||
        !isDeepStrictEqual(table(crashing.logs).sort(), table(calm.logs).sort())
      )
        differing.push(seed);
    }
    expect(differing).toEqual([]);
  });

  // A sender retrying a batch Kafka had kept: copies of 30% of the records, each 1 to 5 records later. Each
  // partition drops them where they enter, and remembers what it took in the changelog (recent-events.ts),
  // so a copy that comes after a crash is dropped too.
  it('drops copies of records with crashes and without, and its changelog remembers what it took', async () => {
    const differing: number[] = [];
    let recentRecords = 0;
    for (let seed = 1; seed <= Number(process.env.DENSE_SEEDS ?? 150); seed++) {
      const events = denseLinks(seed);
      const copied = withCopies(events, { seed: seed * 31 + 7, rate: 0.3, delay: 5 });
      const truth = canonicalOrder(replay(events, model, { partitions: 1, gracePeriodMs: 0 }).stageChanges);
      const crashing = await run(copied, seed, { crashRate: Number(process.env.CRASH_RATE ?? 0.4) });
      if (!isDeepStrictEqual(canonicalOrder(crashing.stageChanges), truth)) differing.push(seed);
      recentRecords += PARTITION_LIST.flatMap((p) => crashing.logs.partition(topics.changelog, p)).filter(
        (m) => m.key!.includes(RECENT_KEY_PREFIX) && m.value !== null,
      ).length;
    }
    expect(differing).toEqual([]);
    expect(recentRecords).toBeGreaterThan(150);
  });

  it("keeps long histories' event ids in records of their own, written when they change, and restores them", async () => {
    // 1,300 distinct touchpoints, then 400 of them again. The customer records stay small; the archives of
    // older event ids are written once per APPLIED_RECENT events, and a crash restores them: every
    // redelivery is a no-op, with crashes as without.
    const distinct = busyCustomers('busy');
    const events = busyCustomers('busy', 400);
    const expected = expectedOf(distinct);
    for (const crashRate of [0, 0.3]) {
      const { stageChanges, logs } = await run(events, 11, { crashRate });
      expect(canonicalOrder(stageChanges)).toEqual(expected);
      const changelog = PARTITION_LIST.flatMap((p) => logs.partition(topics.changelog, p));
      const archives = changelog.filter((m) => m.key!.includes(APPLIED_KEY_PREFIX));
      const customerRecords = changelog.filter(
        (m) => m.value !== null && (JSON.parse(m.value.toString()) as { kind: string }).kind === 'customer',
      );
      expect(archives.length).toBeGreaterThan(10);
      // Written when they change: far fewer than the customer records (a crash rewrites none of them).
      expect(archives.length).toBeLessThan(distinct.length / 20);
      for (const m of customerRecords.filter((r) => !archives.includes(r)))
        expect(m.value!.length).toBeLessThan(2000);
      // The merged-away customers' archives are gone from the compacted topic; the survivors' remain.
      const table = new Map(changelog.map((m) => [m.key!, m.value]));
      const live = [...table].filter(([k, v]) => k.includes(APPLIED_KEY_PREFIX) && v !== null);
      expect(live.map(([k]) => k.split('/').pop()).sort()).toEqual(
        ['busy-c1', 'busy-c3', 'busy-c4', 'busy-c5'].sort(),
      );
      const snapshots = new Map(
        PARTITION_LIST.flatMap((p) => logs.partition(topics.customerSnapshots, p)).map((m) => [
          m.key,
          m.value,
        ]),
      );
      const replayed = replay(distinct, model, { partitions: PARTITIONS, gracePeriodMs: 0 });
      for (const [id, s] of replayed.partitions.flatMap((p) => [...p.customers])) {
        const snapshot = JSON.parse(snapshots.get(`five-stage/${id}`)!.toString()) as { orders: number };
        expect(snapshot.orders).toBe(s.orders);
      }
    }
  });

  // With a grace period, touchpoints wait in the reorder buffer: all of this input here, as `--grace
  // 60000` holds a minute of a busy shop's. Past `pendingInlineBytes` (256 KB; 16 KB here), each is a
  // changelog record of its own; the partition's record once held the whole buffer (past the broker's 1 MB
  // limit, for a real shop) and was rewritten at every batch.
  it('keeps a large reorder buffer as one record per waiting item, and restores it after crashes', async () => {
    const gracePeriodMs = 365 * 86_400_000;
    const pendingInlineBytes = 16 * 1024;
    const events = inTimeOrder(journeys('grace', 100));
    const expected = expectedOf(events, gracePeriodMs);
    // Deeper: GRACE_SEEDS=10 (schedules 5 to 14) passed at the time of writing.
    const seeds = Array.from({ length: Number(process.env.GRACE_SEEDS ?? 1) }, (_, i) => 5 + i);
    for (const [seed, crashRate] of seeds.flatMap((seed) => [0, 0.3].map((rate) => [seed, rate] as const))) {
      const { stageChanges, logs } = await run(events, seed, {
        crashRate,
        gracePeriodMs,
        pendingInlineBytes,
      });
      expect(canonicalOrder(stageChanges)).toEqual(expected);
      const changelog = PARTITION_LIST.flatMap((p) => logs.partition(topics.changelog, p));
      const checkpoints = changelog.filter((m) => m.key === changelogKey('five-stage', '__partition__'));
      expect(checkpoints.length).toBeGreaterThan(10);
      // At most pendingInlineBytes of JSON inline (here an escaped string in a JSON envelope, ~1.2 times).
      for (const m of checkpoints) expect(m.value!.length).toBeLessThan(pendingInlineBytes * 1.5);
      // The most items waiting at once, on any partition, and that none is left once all input is applied.
      let mostWaiting = 0;
      const live = new Set<string>();
      for (const p of PARTITION_LIST) {
        const waiting = new Set<string>();
        for (const m of logs.partition(topics.changelog, p)) {
          if (!m.key!.includes(PENDING_KEY_PREFIX)) continue;
          if (m.value === null) waiting.delete(m.key!);
          else waiting.add(m.key!);
          mostWaiting = Math.max(mostWaiting, waiting.size);
        }
        for (const key of waiting) live.add(key);
      }
      expect(mostWaiting).toBeGreaterThan(pendingInlineBytes / 400);
      expect([...live]).toEqual([]);
    }
  });

  it('reads a format 5 checkpoint, whose buffer is inline, and writes a large one as records of their own', async () => {
    const gracePeriodMs = 10 * 365 * 86_400_000;
    const pendingInlineBytes = 16 * 1024;
    const events = journeys('inline', 40);
    // One partition's fold, stopped with items waiting, as version 5 wrote its checkpoint.
    const fold = new PartitionLifecycle(model, { gracePeriodMs, route: { partition: 0, partitions: 1 } });
    const half = events.slice(0, events.length / 2);
    for (const tp of half) fold.ingest(tp);
    const waiting = fold.checkpoint().pending!;
    expect(JSON.stringify(waiting).length).toBeGreaterThan(pendingInlineBytes);
    const record = (key: string, kind: string, state: unknown): IncomingMessage => ({
      topic: topics.changelog,
      partition: 0,
      offset: '0',
      key: changelogKey('five-stage', key),
      value: Buffer.from(
        JSON.stringify({
          kind,
          modelId: 'five-stage',
          modelVersion: 1,
          formatVersion: 5,
          state: JSON.stringify(state),
        }),
      ),
      headers: {},
      timestamp: 0,
    });
    const formatFive = [
      ...[...fold.customers.values()].map((c) => record(c.id, 'customer', c)),
      record('__partition__', 'partition', fold.checkpoint()),
    ];
    const task = testTask({ gracePeriodMs, pendingInlineBytes, partitions: 1 });
    await task.open(0, formatFive);
    const written = await task.process(0, []);
    const items = written.filter((r) => r.key!.includes(PENDING_KEY_PREFIX));
    expect(items.map((r) => r.key).sort()).toEqual(
      waiting.map((item) => changelogKey('five-stage', pendingKeyOf(item))).sort(),
    );
    const checkpoint = written.find((r) => r.key === changelogKey('five-stage', '__partition__'))!;
    expect(
      JSON.parse((JSON.parse(checkpoint.value!.toString()) as { state: string }).state),
    ).not.toHaveProperty('pending');
    // Restored from both, as the compacted topic would hold them: the same buffer, written once.
    task.close(0);
    const asRead = written.map((r, i) => ({
      topic: r.topic,
      partition: 0,
      offset: String(i + 1),
      key: r.key,
      value: r.value,
      headers: {},
      timestamp: 0,
    }));
    await task.open(0, [...formatFive, ...asRead]);
    expect(task.partitions.get(0)!.checkpoint().pending).toEqual(waiting);
    expect((await task.process(0, [])).filter((r) => r.key!.includes(PENDING_KEY_PREFIX))).toEqual([]);
  });

  // down), and meanwhile touchpoints queue for it: past the first few, each is written once, as a record of
  // its own. The held customer's one record was rewritten whole as its queue grew: quadratic, and past
  // ~3,000 touchpoints (a bot, a long outage) over the broker's limit.
  it('writes each item queued for a held customer once, and restores the queue', async () => {
    const DAY = 86_400_000;
    const t0 = Date.UTC(2025, 0, 1);
    // A browser and a customer whose ids live on different partitions.
    const ids = Array.from({ length: 40 }, (_, i) => `held-${i}`);
    const anon = ids.find((id) => partitionFor(id, PARTITIONS) === 0)!;
    const customer = ids.find((id) => partitionFor(id, PARTITIONS) === 1)!;
    const envelope = (n: number, at: number) => ({
      eventId: `held-e${n}`,
      occurredAt: at,
      receivedAt: at,
      source: { kind: 'simulator' as const, name: 'test' },
    });
    const events: Touchpoint[] = [
      { ...envelope(0, t0), type: 'PageViewed', anonymousId: anon, payload: { path: '/' } },
      { ...envelope(1, t0 + DAY), type: 'Identified', customerId: customer, anonymousId: anon, payload: {} },
      ...Array.from({ length: 400 }, (_, i): Touchpoint => ({
        ...envelope(2 + i, t0 + DAY + (i + 1) * 60_000),
        type: 'PageViewed',
        customerId: customer,
        payload: { path: `/p${i}` },
      })),
    ];
    const logs = new Logs();
    for (const tp of events) produce(logs, tp);
    // The other partitions have announced that they have forwarded everything (identity.ts `Progress`), so
    // the customer waits for the browser's profile alone: what it gets meanwhile is queued.
    for (const from of [0, 2]) {
      const progress = { kind: 'progress', partition: from, to: 1, upTo: t0 + 2 * DAY, newest: t0 + 2 * DAY };
      logs.append(
        topics.identity,
        1,
        `progress/${from}`,
        Buffer.from(
          JSON.stringify({
            kind: 'progress',
            modelId: 'five-stage',
            modelVersion: 1,
            formatVersion: CHANGELOG_FORMAT_VERSION,
            state: JSON.stringify(progress),
          }),
        ),
        {},
      );
    }
    const task = testTask();
    for (const p of PARTITION_LIST) await task.open(p, []);
    // The customer's partition alone, in batches of 50, with a crash halfway.
    const input = [...logs.partition(topics.identity, 1), ...logs.partition(topics.touchpoints, 1)];
    for (let from = 0; from < input.length; from += 50) {
      if (from === 200) {
        task.close(1);
        await task.open(1, logs.partition(topics.changelog, 1));
      }
      logs.write(await task.process(1, input.slice(from, from + 50)));
    }
    expect(task.partitions.get(1)!.heldCustomers).toBe(1);
    const heldRecords = (): IncomingMessage[] =>
      logs.partition(topics.changelog, 1).filter((m) => m.key!.includes('__partition__/held'));
    // The customer's record with the first HELD_INLINE queued (the link and the views after it), and one
    // per queued touchpoint after those: each written once.
    const written = heldRecords().filter((m) => m.value !== null);
    expect(written.filter((m) => !m.key!.includes('held-item'))).toHaveLength(1);
    expect(written.filter((m) => m.key!.includes('held-item'))).toHaveLength(401 - HELD_INLINE);
    for (const m of written) expect(m.value!.length).toBeLessThan(HELD_INLINE * 600);
    task.close(1);
    await task.open(1, logs.partition(topics.changelog, 1));
    expect(task.partitions.get(1)!.checkpoint().held![0]!.queue).toHaveLength(401);
    // The profile's partition comes back: the handoff, and the queue applied.
    const consumed = new Set<IncomingMessage>(input);
    for (let round = 0; round < 3; round++)
      for (const p of PARTITION_LIST) {
        const fresh = (topic: string): IncomingMessage[] =>
          logs.partition(topic, p).filter((m) => !consumed.has(m));
        const batch = [...fresh(topics.touchpoints), ...fresh(topics.identity)];
        for (const m of batch) consumed.add(m);
        logs.write(await task.process(p, batch));
      }
    expect(task.partitions.get(1)!.heldCustomers).toBe(0);
    const live = new Map(heldRecords().map((m) => [m.key, m.value]));
    expect([...live.values()].filter((v) => v !== null)).toEqual([]);
    const stageChanges = PARTITION_LIST.flatMap((p) =>
      logs.partition(topics.stageChanges, p).map((m) => JSON.parse(m.value!.toString()) as StageChanged),
    );
    expect(canonicalOrder(stageChanges)).toEqual(expectedOf(events));
  });

  it('keeps two models apart in the shared snapshot topic: each has its own row per customer', async () => {
    // Two models' processors on the same topics, as `ciclo process --model` runs them side by side. Keyed by
    // the customer alone, their snapshots replaced each other in the compacted topic, and one model's merge
    // tombstone deleted the other's row.
    const events = journeys('two-models', 30);
    const logs = new Logs();
    for (const tp of events) produce(logs, tp);
    const serdes = {
      touchpoint: jsonSerde<Touchpoint>(),
      stageChanged: jsonSerde<StageChanged>(),
      customerSnapshot: jsonSerde<never>(),
      lifecycleState: jsonSerde<never>(),
      identity: jsonSerde<never>(),
    };
    const models = ['five-stage', 'four-stage'].map((id) => loadModel(id));
    for (const model of models) {
      const task = createLifecycleTask({ model, gracePeriodMs: 0, partitions: PARTITIONS, topics, serdes });
      const read = PARTITION_LIST.map(() => ({ [topics.touchpoints]: 0, [topics.identity]: 0 }));
      for (const p of PARTITION_LIST) await task.open(p, []);
      for (let more = true; more;) {
        more = false;
        for (const p of PARTITION_LIST)
          for (const topic of [topics.touchpoints, topics.identity]) {
            const batch = logs.partition(topic, p).slice(read[p]![topic]);
            if (batch.length === 0) continue;
            read[p]![topic]! += batch.length;
            logs.write(await task.process(p, batch));
            more = true;
          }
        if (!more) for (const p of PARTITION_LIST) logs.write(await task.idle!(p));
        more ||= PARTITION_LIST.some(
          (p) => logs.partition(topics.identity, p).length > read[p]![topics.identity]!,
        );
      }
    }
    const table = new Map<string, IncomingMessage>();
    for (const p of PARTITION_LIST)
      for (const m of logs.partition(topics.customerSnapshots, p)) table.set(m.key!, m);
    const live = (modelId: string): string[] =>
      [...table]
        .filter(([k, m]) => m.value !== null && parseSnapshotKey(k)!.modelId === modelId)
        .map(([k]) => parseSnapshotKey(k)!.customerId)
        .sort();
    for (const model of models) {
      const replayed = replay(events, model, { partitions: PARTITIONS, gracePeriodMs: 0 });
      expect(live(model.id)).toEqual(replayed.partitions.flatMap((p) => [...p.customers.keys()]).sort());
    }
    expect(live('five-stage').length).toBeGreaterThan(10);
  });

  it("leaves in the snapshot topic, compacted, each model's customers in their partition and each merged profile's removal", async () => {
    const events = journeys('snapshots', 60);
    const { logs } = await run(events, 7);
    const table = new Map<string, IncomingMessage>(); // what compaction keeps: the last record per key
    const highest = new Map<string, number>(); // per key, the highest sequence of its snapshots
    for (const p of PARTITION_LIST)
      for (const m of logs.partition(topics.customerSnapshots, p)) {
        const key = parseSnapshotKey(m.key!);
        expect(key?.modelId).toBe('five-stage');
        expect(partitionFor(key!.customerId, PARTITIONS)).toBe(p); // co-partitioned by customer
        table.set(m.key!, m);
        if (m.value === null) continue;
        const { sequence } = JSON.parse(m.value.toString()) as { sequence: number };
        highest.set(m.key!, Math.max(highest.get(m.key!) ?? 0, sequence));
      }
    const replayed = replay(events, model, { partitions: PARTITIONS, gracePeriodMs: 0 });
    const customers = new Map(replayed.partitions.flatMap((p) => [...p.customers]));
    const live = [...table].filter(([, m]) => m.value !== null);
    expect(live.map(([k]) => k).sort()).toEqual([...customers.keys()].map((id) => `five-stage/${id}`).sort());
    for (const [, m] of live) {
      const snapshot = JSON.parse(m.value!.toString()) as { customerId: string; sequence: number };
      expect(snapshot.sequence).toBe(customers.get(snapshot.customerId)!.sequence);
    }
    const removals = [...table].filter(([, m]) => m.value === null);
    expect(removals.length).toBeGreaterThan(10);
    for (const [key, m] of removals) {
      // Merged into a customer that is still one (or into an id that leads to one), after its last snapshot.
      expect(m.headers[MERGED_INTO_HEADER]).toEqual(expect.any(String));
      expect(Number(m.headers[SEQUENCE_HEADER])).toBeGreaterThanOrEqual(highest.get(key) ?? 0);
      expect(customers.has(parseSnapshotKey(key)!.customerId)).toBe(false);
    }
  });
});

describe('lifecycle task: forgetting a person', () => {
  const model = loadModel('five-stage');
  const expectedOf = (events: readonly Touchpoint[], gracePeriodMs: number): StageChanged[] =>
    canonicalOrder(replay(inTimeOrder(events), model, { partitions: 1, gracePeriodMs }).stageChanges);
  const PERSON = 'forget-me';
  const BROWSER = [...Array(20).keys()]
    .map((i) => `forget-me-browser-${i}`)
    .find((id) => partitionFor(id, PARTITIONS) !== partitionFor(PERSON, PARTITIONS))!;
  /** Everything that names the person contains this (no other id does). */
  const NAMED = 'forget-me';

  /**
   * Journeys of others, and the person's: a visit as a browser, sign-up, purchase; the forget a little after;
   * then a visit of the browser and a purchase, which come after the marker.
   */
  function withForget(): { before: ReplayRecord[]; withMarker: ReplayRecord[]; others: Touchpoint[] } {
    const others = inTimeOrder(journeys('fm', 24));
    const t0 = others[0]!.occurredAt;
    const at = (n: number, day: number) => ({
      eventId: `fm-person-${n}`,
      occurredAt: t0 + day * DAY,
      receivedAt: t0 + day * DAY,
      source: { kind: 'simulator' as const, name: 'test' },
    });
    const person: Touchpoint[] = [
      { ...at(1, 5), type: 'PageViewed', anonymousId: BROWSER, payload: { path: '/' } },
      {
        ...at(2, 6),
        type: 'Identified',
        customerId: PERSON,
        anonymousId: BROWSER,
        payload: { name: 'Forget Me' },
      },
      {
        ...at(3, 7),
        type: 'PurchaseCompleted',
        customerId: PERSON,
        payload: { orderId: 'fm-o1', lineItems: [], amountMinor: 4200, currency: 'EUR' },
      },
    ];
    const after: Touchpoint[] = [
      { ...at(4, 60), type: 'PageViewed', anonymousId: BROWSER, payload: { path: '/again' } },
      {
        ...at(5, 61),
        type: 'PurchaseCompleted',
        customerId: PERSON,
        payload: { orderId: 'fm-o2', lineItems: [], amountMinor: 100, currency: 'EUR' },
      },
    ];
    const all = inTimeOrder([...others, ...person]);
    const cut = all.findIndex((tp) => tp.occurredAt > t0 + 20 * DAY);
    const marker: ReplayRecord = { forget: [pseudonym(PERSON)] };
    const rest = inTimeOrder([...all.slice(cut), ...after]);
    return { before: [...all, ...after], withMarker: [...all.slice(0, cut), marker, ...rest], others };
  }

  /** What compaction leaves of a topic's partition: the last record of each key. */
  const compacted = (logs: Logs, topic: string, p: number): Map<string, IncomingMessage> =>
    new Map(logs.partition(topic, p).map((m) => [m.key!, m]));
  const names = (m: IncomingMessage): boolean =>
    m.key!.includes(NAMED) || (m.value?.toString().includes(NAMED) ?? false);

  // With a grace of 30 days, their touchpoints still wait in the reorder buffer at the marker, each a
  // record of its own (past 1 KB): those records go too.
  it.each([
    [0, 0, undefined],
    [0.3, 0, undefined],
    [0.3, 30, 1024],
  ])(
    'erases them in the transaction of the marker: nothing of theirs is restored, their snapshots are gone, the others are as they were (crash rate %p, grace %p days)',
    async (crashRate, graceDays, pendingInlineBytes) => {
      const gracePeriodMs = graceDays * DAY;
      const { before, withMarker, others } = withForget();
      const options = { gracePeriodMs, ...(pendingInlineBytes ? { pendingInlineBytes } : {}) };
      const forgotten = await run(withMarker, 21, { crashRate, ...options });
      const remembered = await run(before, 21, { crashRate: 0, ...options });
      // Written before the marker, erased at it.
      const everWritten = (topic: string): IncomingMessage[] =>
        PARTITION_LIST.flatMap((p) => forgotten.logs.partition(topic, p)).filter(names);
      expect(everWritten(topics.changelog).length).toBeGreaterThan(0);
      if (gracePeriodMs > 0)
        expect(everWritten(topics.changelog).some((m) => m.key!.includes(PENDING_KEY_PREFIX))).toBe(true);
      else {
        expect(everWritten(topics.customerSnapshots).length).toBeGreaterThan(0);
        expect(forgotten.stageChanges.some((c) => c.customerId === PERSON)).toBe(true);
      }

      for (const p of PARTITION_LIST) {
        // The changelog, compacted: no record of theirs, by key or value; a pseudonym remembered.
        const changelog = [...compacted(forgotten.logs, topics.changelog, p).values()];
        expect(changelog.filter((m) => m.value !== null && names(m)).map((m) => m.key)).toEqual([]);
        expect(changelog.some((m) => m.key!.includes(pseudonym(PERSON)) && m.value !== null)).toBe(true);
        // Their snapshots: the last record of each of their keys a tombstone that says nothing.
        for (const m of compacted(forgotten.logs, topics.customerSnapshots, p).values())
          if (m.key!.includes(NAMED)) {
            expect(m.value).toBeNull();
            expect(m.headers).toEqual({});
          }
        // Restored from that changelog, the partition holds nothing of theirs, and drops what names them.
        const task = testTask();
        await task.open(p, forgotten.logs.partition(topics.changelog, p));
        const fold = task.partitions.get(p)!;
        const held = JSON.stringify({
          customers: [...fold.customers.values()],
          table: fold.identityEntries(),
          checkpoint: fold.checkpoint(),
        });
        expect(held).not.toContain(NAMED);
        expect(fold.forgottenPseudonyms).toEqual(
          expect.arrayContaining([pseudonym(PERSON), pseudonym(BROWSER)]),
        );
      }
      // Every other customer's snapshot, compacted, is the one a run without them leaves, to the byte.
      const othersTable = (logs: Logs): Map<string, string> =>
        new Map(
          PARTITION_LIST.flatMap((p) => [...compacted(logs, topics.customerSnapshots, p)])
            .filter(([key]) => !key.includes(NAMED))
            .map(([key, m]) => [key, m.value?.toString() ?? 'null']),
        );
      expect(othersTable(forgotten.logs)).toEqual(othersTable(remembered.logs));
      expect(othersTable(forgotten.logs).size).toBeGreaterThan(20);
      const ofOthers = (changes: StageChanged[]): StageChanged[] =>
        canonicalOrder(changes.filter((c) => !c.customerId.includes(NAMED)));
      expect(ofOthers(forgotten.stageChanges)).toEqual(expectedOf(others, gracePeriodMs));
      // What came for them after the marker was dropped, and counted (since the last restore).
      if (crashRate === 0) {
        const suppressed = PARTITION_LIST.reduce(
          (sum, p) => sum + (forgotten.task.partitions.get(p)!.counters.suppressed ?? 0),
          0,
        );
        expect(suppressed).toBeGreaterThanOrEqual(2);
      }
      expect(forgotten.stageChanges.filter((c) => c.customerId === PERSON).length).toBeLessThan(
        remembered.stageChanges.filter((c) => c.customerId === PERSON).length,
      );
    },
  );

  it('dead-letters a malformed forget marker, and stops without the secret rather than ignore a forget', async () => {
    const marker = (headers: Record<string, string>): IncomingMessage => ({
      topic: topics.touchpoints,
      partition: 0,
      offset: '7',
      key: FORGET_KEY,
      value: null,
      headers,
      timestamp: RECORD_TIME,
    });
    const task = testTask();
    await task.open(0, []);
    const out = await task.process(0, [
      marker({ 'ciclo-forget': 'r1', 'ciclo-forget-ids': 'not a pseudonym' }),
    ]);
    const dead = out.filter((r) => r.topic === topics.deadLetter);
    expect(dead).toHaveLength(1);
    expect(task.intake.get(0)!.deadLetters).toEqual({ invalid: 1 });

    const valid = marker(forgetMarkerHeaders({ request: 'r2', pseudonyms: [pseudonym(PERSON)] }));
    const without = testTask({ pseudonymOf: undefined });
    await without.open(0, []);
    await expect(without.process(0, [valid])).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    // A partition that forgot somebody is not opened without it either.
    const records = await task.process(0, [valid]);
    const asRead = records
      .filter((r) => r.topic === topics.changelog)
      .map((r, i): IncomingMessage => ({ ...r, partition: 0, offset: String(i), headers: {}, timestamp: 0 }));
    await expect(without.open(0, asRead)).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});
