import { CicloError } from '../../../infra/errors';
import type { OutputRecord } from '../../../infra/kafka/transactional-processor';
import type { IncomingMessage } from '../../../infra/kafka/types';
import {
  INITIALISED_KEY,
  initialiseChangelogPartition,
  isInitialised,
  planSharedMove,
  type SharedMovePort,
} from './shared-move';

const OWN = 'ns.lifecycle-state.five-stage';
const SHARED = 'ns.lifecycle-state';
const place = { topic: OWN, shared: SHARED, partition: 2 };

const rec = (key: string, value: string | null): Pick<IncomingMessage, 'key' | 'value'> => ({
  key,
  value: value === null ? null : Buffer.from(value),
});
const text = (records: readonly OutputRecord[]): [string | null, string | null][] =>
  records.map((r) => [r.key, r.value?.toString() ?? null]);

/** A shared partition as two models' processors left it: updates, a tombstone, another model's keys. */
const shared = [
  rec('five-stage/ann', 'ann-1'),
  rec('six-stage/ann', 'six-ann'),
  rec('five-stage/__partition__', 'cp-1'),
  rec('five-stage/bob', 'bob-1'),
  rec('five-stage/ann', 'ann-2'),
  rec('five-stage/gone', 'gone-1'),
  rec('five-stage/gone', null),
  rec('five-stage-b/x', 'another model whose id starts alike'),
  rec('five-stage/__partition__', 'cp-2'),
];

describe('moving a model out of the shared changelog (the plan)', () => {
  it("copies the model's latest records in the order of their offsets, and tombstones them in the shared topic", () => {
    const plan = planSharedMove('five-stage', [], shared, place);
    expect(text(plan.copies)).toEqual([
      ['five-stage/bob', 'bob-1'],
      ['five-stage/ann', 'ann-2'],
      ['five-stage/__partition__', 'cp-2'],
    ]);
    expect(plan.copies.every((r) => r.topic === OWN && r.partition === 2)).toBe(true);
    expect(text(plan.tombstones)).toEqual([
      ['five-stage/bob', null],
      ['five-stage/ann', null],
      ['five-stage/__partition__', null],
    ]);
    expect(plan.tombstones.every((r) => r.topic === SHARED && r.partition === 2)).toBe(true);
    expect(plan.keys).toBe(3);
  });

  it('leaves out what a move cut short copied already, and tombstones it all the same', () => {
    const plan = planSharedMove('five-stage', [rec('five-stage/bob', 'bob-1')], shared, place);
    expect(text(plan.copies)).toEqual([
      ['five-stage/ann', 'ann-2'],
      ['five-stage/__partition__', 'cp-2'],
    ]);
    expect(plan.tombstones).toHaveLength(3);
    expect(plan.keys).toBe(3);
  });

  it('after a move cut short among its tombstones, copies nothing and tombstones what is left', () => {
    const own = [
      rec('five-stage/bob', 'bob-1'),
      rec('five-stage/ann', 'ann-2'),
      rec('five-stage/__partition__', 'cp-2'),
    ];
    const plan = planSharedMove(
      'five-stage',
      own,
      [...shared, rec('five-stage/bob', null), rec('five-stage/ann', null)],
      place,
    );
    expect(plan.copies).toEqual([]);
    expect(text(plan.tombstones)).toEqual([['five-stage/__partition__', null]]);
    expect(plan.keys).toBe(3);
  });

  it('has nothing to do for a model the shared topic does not hold', () => {
    expect(planSharedMove('four-stage', [], shared, place)).toEqual({ copies: [], tombstones: [], keys: 0 });
  });

  it('refuses to move a topic into itself', () => {
    expect(() => planSharedMove('five-stage', [], shared, { ...place, shared: OWN })).toThrow(CicloError);
  });

  it('tells an initialised partition by its marker, not a tombstone of it', () => {
    expect(isInitialised([rec('five-stage/ann', 'x'), rec(INITIALISED_KEY, '{}')])).toBe(true);
    expect(isInitialised([rec('five-stage/ann', 'x')])).toBe(false);
    expect(isInitialised([rec(INITIALISED_KEY, null)])).toBe(false);
  });
});

/**
 * Two compacted topics in memory: every committed record, oldest first. A `crashAfter` count of commits
 * makes later commits throw, as a process killed after that many transactions would have written.
 */
function topics(initial: Record<string, Pick<IncomingMessage, 'key' | 'value'>[]>) {
  const logs = new Map<string, IncomingMessage[]>();
  for (const [topic, records] of Object.entries(initial))
    logs.set(
      topic,
      records.map((r, i) => ({ ...r, topic, partition: 2, offset: String(i), headers: {}, timestamp: 0 })),
    );
  let commits = 0;
  const port = (crashAfter = Infinity): SharedMovePort => ({
    read: (topic) => Promise.resolve([...(logs.get(topic) ?? [])]),
    commit(records) {
      if (commits >= crashAfter) return Promise.reject(new Error('killed'));
      commits++;
      for (const r of records) {
        const log = logs.get(r.topic) ?? [];
        logs.set(r.topic, log);
        log.push({ ...r, key: r.key, partition: 2, offset: String(log.length), headers: {}, timestamp: 0 });
      }
      return Promise.resolve();
    },
  });
  /** The latest non-null value of every key, as a compacted topic ends up. */
  const compacted = (topic: string): Record<string, string> => {
    const latest = new Map<string, string | null>();
    for (const r of logs.get(topic) ?? []) latest.set(r.key!, r.value?.toString() ?? null);
    return Object.fromEntries([...latest].filter((e): e is [string, string] => e[1] !== null));
  };
  return { port, compacted, commits: () => commits };
}

const marker = (keys: number): Promise<Buffer> => Promise.resolve(Buffer.from(`moved ${keys}`));

describe('initialising a partition of a model changelog', () => {
  const move = (port: SharedMovePort, transactionBytes = 1) =>
    initialiseChangelogPartition({
      port,
      modelId: 'five-stage',
      partition: 2,
      topic: OWN,
      shared: SHARED,
      marker,
      transactionBytes, // a record a transaction: a crash can fall between any two
    });

  it("moves the model's state, tombstones it in the shared topic, writes the marker and reads the partition back", async () => {
    const t = topics({ [SHARED]: shared });
    const done = await move(t.port());
    expect(done).toMatchObject({ initialisedHere: true, movedKeys: 3 });
    expect(done.records.map((r) => r.key)).toEqual([
      'five-stage/bob',
      'five-stage/ann',
      'five-stage/__partition__',
      INITIALISED_KEY,
    ]);
    expect(t.compacted(OWN)).toEqual({
      'five-stage/bob': 'bob-1',
      'five-stage/ann': 'ann-2',
      'five-stage/__partition__': 'cp-2',
      [INITIALISED_KEY]: 'moved 3',
    });
    expect(t.compacted(SHARED)).toEqual({
      'six-stage/ann': 'six-ann',
      'five-stage-b/x': 'another model whose id starts alike',
    });
  });

  it('ends as one uninterrupted move does, however many times it is killed on the way', async () => {
    const once = topics({ [SHARED]: shared });
    const uninterrupted = await move(once.port());
    const read = (records: readonly IncomingMessage[]) => records.map((r) => [r.key, r.value?.toString()]);
    const steps = once.commits(); // 3 copies, 3 tombstones, the marker
    expect(steps).toBe(7);
    for (let killedAfter = 0; killedAfter < steps; killedAfter++) {
      const t = topics({ [SHARED]: shared });
      await expect(move(t.port(t.commits() + killedAfter))).rejects.toThrow('killed');
      // Killed again one step further on, then left to finish.
      await move(t.port(t.commits() + 1)).catch(() => undefined);
      const done = await move(t.port());
      expect(t.compacted(OWN)).toEqual(once.compacted(OWN));
      expect(t.compacted(SHARED)).toEqual(once.compacted(SHARED));
      expect(read(done.records)).toEqual(read(uninterrupted.records));
    }
  });

  it('does nothing to a partition initialised already', async () => {
    const t = topics({
      [SHARED]: shared,
      [OWN]: [rec('five-stage/ann', 'ann-9'), rec(INITIALISED_KEY, 'x')],
    });
    const done = await move(t.port());
    expect(done).toMatchObject({ initialisedHere: false, movedKeys: 0 });
    expect(t.commits()).toBe(0);
    expect(t.compacted(SHARED)['five-stage/ann']).toBe('ann-2');
  });

  it('writes the marker alone without a shared changelog', async () => {
    const t = topics({});
    const done = await initialiseChangelogPartition({
      port: t.port(),
      modelId: 'five-stage',
      partition: 2,
      topic: OWN,
      marker,
    });
    expect(done.records.map((r) => [r.key, r.value?.toString()])).toEqual([[INITIALISED_KEY, 'moved 0']]);
  });

  it('writes nothing once stopped: a read cut short is not all there is', async () => {
    const t = topics({ [SHARED]: shared });
    const stop = new AbortController();
    const port = t.port();
    const stopping: SharedMovePort = {
      ...port,
      read: async (topic, partition) => {
        const records = await port.read(topic, partition);
        if (topic === SHARED) stop.abort();
        return records.slice(0, 1);
      },
    };
    await expect(
      initialiseChangelogPartition({
        port: stopping,
        modelId: 'five-stage',
        partition: 2,
        topic: OWN,
        shared: SHARED,
        marker,
        signal: stop.signal,
      }),
    ).rejects.toThrow();
    expect(t.commits()).toBe(0);
  });
});
