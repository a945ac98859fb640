/**
 * The exactly-once runtime on real Kafka, with a tiny task (a running count per key): every input yields
 * exactly one output, and an instance started after another stopped continues from the restored
 * changelog instead of from zero; an instance stopped while it is still restoring stops at once, and the
 * next one takes over without waiting for a session timeout.
 */
import { connectTopicAdmin } from '../infra/kafka/admin';
import { connectConsumer } from '../infra/kafka/consumer';
import { connectProducer } from '../infra/kafka/producer';
import { createKafka } from '../infra/kafka/client';
import {
  readChangelogPartition,
  startTransactionalProcessor,
  type OutputRecord,
  type StreamTask,
} from '../infra/kafka/transactional-processor';
import type { IncomingMessage } from '../infra/kafka/types';
import { topicFence } from './support/fence';
import { eventually, testConfig, uniqueName } from './support/services';

const { endpoints } = testConfig();
const brokers = endpoints.kafka.brokers;

/** Counts messages per key; the changelog holds the count per key of each partition. */
function countingTask(outputTopic: string, changelogTopic: string): StreamTask & { opened: number[] } {
  const counts = new Map<number, Map<string, number>>();
  const opened: number[] = [];
  return {
    opened,
    open(partition, changelog) {
      const state = new Map<string, number>();
      for (const r of changelog) if (r.key && r.value) state.set(r.key, Number(r.value.toString()));
      counts.set(partition, state);
      opened.push(partition);
    },
    process(partition, messages) {
      const state = counts.get(partition)!;
      const out: OutputRecord[] = [];
      for (const m of messages) {
        const n = (state.get(m.key!) ?? 0) + 1;
        state.set(m.key!, n);
        out.push({ topic: outputTopic, key: m.key, value: Buffer.from(`${m.value!.toString()}#${n}`) });
        out.push({ topic: changelogTopic, partition, key: m.key, value: Buffer.from(String(n)) });
      }
      return Promise.resolve(out);
    },
    close(partition) {
      counts.delete(partition);
    },
  };
}

async function produce(topic: string, from: number, to: number): Promise<void> {
  const producer = await connectProducer({ brokers, clientId: 'it-eos-input' });
  const messages = [];
  for (let i = from; i < to; i++) messages.push({ key: `k${i % 5}`, value: Buffer.from(`m${i}`) });
  await producer.send(topic, messages);
  await producer.close();
}

/** A connected kafkajs producer with a transactional id of its own, for writing transactions by hand. */
async function transactionalWriter(
  name: string,
): Promise<ReturnType<ReturnType<typeof createKafka>['producer']>> {
  const producer = createKafka({ brokers, clientId: name }).producer({
    transactionalId: uniqueName(name),
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  return producer;
}

/** Everything written to `topic` from its beginning (read committed), collected as it arrives. */
/**
 * Reads a topic from its start (read committed). `drained` returns once the group has committed all of its
 * input and the reader has passed a fence written after that (test/support/fence.ts): anything extra, a
 * duplicate included, is in `seen` by then.
 */
async function readAll(
  topic: string,
  name: string,
): Promise<{
  seen: IncomingMessage[];
  reader: { stop(): Promise<void> };
  drained(groupId: string, inputTopic: string): Promise<void>;
}> {
  const seen: IncomingMessage[] = [];
  const fence = topicFence(brokers, topic, 2);
  const reader = await connectConsumer({
    brokers,
    groupId: uniqueName(name),
    topics: [topic],
    fromBeginning: true,
  });
  await reader.run((batch) => {
    for (const m of batch) if (!fence.isFence(m)) seen.push(m);
    return Promise.resolve();
  });
  const drained = async (groupId: string, inputTopic: string): Promise<void> => {
    const admin = await connectTopicAdmin(brokers);
    try {
      await eventually(
        async () => ((await admin.groupLag(groupId, inputTopic)) === 0 ? true : undefined),
        60_000,
        `${groupId} to commit all of ${inputTopic}`,
      );
    } finally {
      await admin.close();
    }
    await fence.raise();
    await eventually(
      () => Promise.resolve(fence.passed() ? true : undefined),
      60_000,
      `the fence of ${topic}`,
    );
  };
  return { seen, reader, drained };
}

/** A test's own input, output and compacted changelog topics, two partitions each, created. */
async function createRunTopics(label: string): Promise<[input: string, output: string, changelog: string]> {
  const names = ['in', 'out', 'log'].map((t) => uniqueName(`${label}-${t}`)) as [string, string, string];
  const admin = await connectTopicAdmin(brokers);
  await admin.ensureTopics([
    { name: names[0], partitions: 2 },
    { name: names[1], partitions: 2 },
    { name: names[2], partitions: 2, config: { 'cleanup.policy': 'compact' } },
  ]);
  await admin.close();
  return names;
}

describe('transactional processor', () => {
  const input = uniqueName('it-eos-in');
  const output = uniqueName('it-eos-out');
  const changelog = uniqueName('it-eos-changelog');

  beforeAll(async () => {
    const admin = await connectTopicAdmin(brokers);
    await admin.ensureTopics([
      { name: input, partitions: 2 },
      { name: output, partitions: 2 },
      { name: changelog, partitions: 2, config: { 'cleanup.policy': 'compact' } },
    ]);
    await admin.close();
  });

  afterAll(async () => {
    const admin = await connectTopicAdmin(brokers);
    await admin.deleteTopics([input, output, changelog]);
    await admin.close();
  });

  it('writes each output once and resumes from the changelog after a restart', async () => {
    const groupId = uniqueName('it-eos-group');
    const options = {
      brokers,
      groupId,
      inputTopic: input,
      changelogTopic: changelog,
      transactionalIdPrefix: groupId,
    };

    await produce(input, 0, 100);
    const first = countingTask(output, changelog);
    const one = await startTransactionalProcessor({ ...options, task: first });
    const { seen, reader, drained } = await readAll(output, 'it-eos-reader');
    await eventually(() => Promise.resolve(seen.length >= 100 ? true : undefined), 60_000, '100 outputs');
    await one.stop();

    await produce(input, 100, 150);
    const second = countingTask(output, changelog);
    const two = await startTransactionalProcessor({ ...options, task: second });
    await eventually(() => Promise.resolve(seen.length >= 150 ? true : undefined), 60_000, '150 outputs');
    await drained(groupId, input);
    await two.stop();
    await reader.stop();

    const values = seen.map((m) => m.value!.toString());
    expect(values).toHaveLength(150);
    expect(new Set(values.map((v) => v.split('#')[0])).size).toBe(150);
    // Restored counts: key k0 saw 30 messages in all, so its last output is #30, not #10.
    const lastCount = (key: string): number =>
      Math.max(...values.filter((_, i) => seen[i]!.key === key).map((v) => Number(v.split('#')[1])));
    for (const key of ['k0', 'k1', 'k2', 'k3', 'k4']) expect(lastCount(key)).toBe(30);
    expect(second.opened.sort()).toEqual([0, 1]);
  });

  it('commits past an aborted transaction at the end of its input: its lag comes to 0', async () => {
    const groupId = uniqueName('it-eos-aborted-tail');
    const [tailIn, tailOut, tailLog] = await createRunTopics('it-eos-aborted-tail');
    const running = await startTransactionalProcessor({
      brokers,
      groupId,
      inputTopic: tailIn,
      changelogTopic: tailLog,
      transactionalIdPrefix: groupId,
      task: countingTask(tailOut, tailLog),
    });
    const writer = await transactionalWriter('it-eos-aborted-tail-writer');
    const admin = await connectTopicAdmin(brokers);
    const lag = (): Promise<number> => admin.groupLag(groupId, tailIn);
    try {
      await produce(tailIn, 0, 10);
      await eventually(async () => ((await lag()) === 0 ? true : undefined), 60_000, 'the records committed');
      const end = async (): Promise<number> =>
        [...(await admin.endOffsets(tailIn)).values()].reduce((a, b) => a + b, 0);
      const before = await end();
      // Records of an aborted transaction and its marker, then nothing: no batch of it reaches the task.
      const tx = await writer.transaction();
      await tx.send({
        topic: tailIn,
        messages: [0, 1].map((partition) => ({ value: Buffer.from('x'), partition })),
      });
      await tx.abort();
      // Two records and two abort markers, once the coordinator has written the markers.
      await eventually(
        async () => ((await end()) - before === 4 ? true : undefined),
        30_000,
        'the aborted records and markers written',
      );
      await eventually(
        async () => ((await lag()) === 0 ? true : undefined),
        60_000,
        'the aborted tail committed',
      );
    } finally {
      await writer.disconnect();
      await running.stop();
      await admin.deleteTopics([tailIn, tailOut, tailLog]);
      await admin.close();
    }
  });

  it('folds a batch once when the task fails partway through it, and retries it from the changelog', async () => {
    const groupId = uniqueName('it-eos-fail');
    const [failIn, failOut, failLog] = await createRunTopics('it-eos-fail');
    const admin = await connectTopicAdmin(brokers);
    const counting = countingTask(failOut, failLog);
    let failed = 0;
    // The first batch of two messages or more: its first message is folded, then the task fails.
    const failing: StreamTask = {
      ...counting,
      async process(partition, messages) {
        if (failed === 0 && messages.length >= 2) {
          failed += 1;
          await counting.process(partition, messages.slice(0, 1));
          throw new Error('the task failed partway through a batch');
        }
        return counting.process(partition, messages);
      },
    };
    const { seen, reader, drained } = await readAll(failOut, 'it-eos-fail-reader');
    try {
      await produce(failIn, 0, 100);
      const one = await startTransactionalProcessor({
        brokers,
        groupId,
        inputTopic: failIn,
        changelogTopic: failLog,
        transactionalIdPrefix: groupId,
        task: failing,
      });
      await eventually(() => Promise.resolve(seen.length >= 100 ? true : undefined), 60_000, '100 outputs');
      await drained(groupId, failIn);
      await one.stop();
      expect(failed).toBe(1);
      const values = seen.map((m) => m.value!.toString());
      expect(values).toHaveLength(100);
      // Each key's 20 messages counted 1 to 20: the folded first message was not counted twice.
      for (const key of ['k0', 'k1', 'k2', 'k3', 'k4'])
        expect(
          values
            .filter((_, i) => seen[i]!.key === key)
            .map((v) => Number(v.split('#')[1]))
            .sort((a, b) => a - b),
        ).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    } finally {
      await reader.stop();
      await admin.deleteTopics([failIn, failOut, failLog]);
      await admin.close();
    }
  });

  it('stops at once while restoring, leaves the group, and the next instance continues exactly once', async () => {
    const groupId = uniqueName('it-eos-stop');
    const [stopIn, stopOut, stopLog] = await createRunTopics('it-eos-stop');
    const admin = await connectTopicAdmin(brokers);
    // A long session timeout: an instance that did not leave the group would hold up the next for 60 s.
    const options = {
      brokers,
      groupId,
      inputTopic: stopIn,
      changelogTopic: stopLog,
      transactionalIdPrefix: groupId,
      sessionTimeoutMs: 60_000,
    };
    const { seen, reader, drained } = await readAll(stopOut, 'it-eos-stop-reader');
    try {
      await produce(stopIn, 0, 100);
      const one = await startTransactionalProcessor({ ...options, task: countingTask(stopOut, stopLog) });
      await eventually(() => Promise.resolve(seen.length >= 100 ? true : undefined), 60_000, '100 outputs');
      await one.stop();

      // Asked to stop before it started: it never joins, and its start still resolves.
      const never = new AbortController();
      never.abort();
      const unstarted = await startTransactionalProcessor({
        ...options,
        task: countingTask(stopOut, stopLog),
        signal: never.signal,
      });
      expect(unstarted.ownedPartitions()).toEqual([]);
      await unstarted.stop();

      // Stopped right after its start: its partitions are being fenced and restored as it stops.
      await produce(stopIn, 100, 150);
      const stopping = countingTask(stopOut, stopLog);
      const two = await startTransactionalProcessor({ ...options, task: stopping });
      const stopStarted = Date.now();
      await two.stop();
      expect(Date.now() - stopStarted).toBeLessThan(5000);
      expect(two.ownedPartitions()).toEqual([]);
      await two.stop(); // idempotent

      const started = Date.now();
      const three = await startTransactionalProcessor({ ...options, task: countingTask(stopOut, stopLog) });
      await eventually(() => Promise.resolve(seen.length >= 150 ? true : undefined), 30_000, '150 outputs');
      expect(Date.now() - started).toBeLessThan(30_000); // not held up by a member that never left
      expect(three.ownedPartitions()).toEqual([0, 1]);
      await drained(groupId, stopIn);
      await three.stop();

      const values = seen.map((m) => m.value!.toString());
      expect(values).toHaveLength(150);
      expect(new Set(values.map((v) => v.split('#')[0])).size).toBe(150);
      const lastCount = (key: string): number =>
        Math.max(...values.filter((_, i) => seen[i]!.key === key).map((v) => Number(v.split('#')[1])));
      for (const key of ['k0', 'k1', 'k2', 'k3', 'k4']) expect(lastCount(key)).toBe(30);
    } finally {
      await reader.stop();
      await admin.deleteTopics([stopIn, stopOut, stopLog]);
      await admin.close();
    }
  });

  it('stays in the group through a restore longer than its session timeout, and opens each partition once', async () => {
    // A restore (reading a large changelog, folding it into state) can take longer than the session timeout.
    // Unless the instance heartbeats meanwhile, the coordinator drops it, the group rebalances, and the
    // partition is restored again, and again: with a large enough state, never done. The runner keeps
    // heartbeating while a task's open lets the event loop run (the processor's does: changelog/restore.ts).
    const groupId = uniqueName('it-eos-slow');
    const [slowIn, slowOut, slowLog] = ['in', 'out', 'log'].map((t) => uniqueName(`it-eos-slow-${t}`)) as [
      string,
      string,
      string,
    ];
    const admin = await connectTopicAdmin(brokers);
    // More partitions than the runner restores at once (4): every one of kafkajs's workers is busy.
    await admin.ensureTopics([
      { name: slowIn, partitions: 6 },
      { name: slowOut, partitions: 6 },
      { name: slowLog, partitions: 6, config: { 'cleanup.policy': 'compact' } },
    ]);
    const sessionTimeoutMs = 6000; // the broker's least (group.min.session.timeout.ms)
    const { seen, reader, drained } = await readAll(slowOut, 'it-eos-slow-reader');
    const counting = countingTask(slowOut, slowLog);
    const slow: StreamTask = {
      ...counting,
      async open(partition, changelog) {
        await new Promise((resolve) => setTimeout(resolve, sessionTimeoutMs * 1.5));
        await counting.open(partition, changelog);
      },
    };
    const running = await startTransactionalProcessor({
      brokers,
      groupId,
      inputTopic: slowIn,
      changelogTopic: slowLog,
      transactionalIdPrefix: groupId,
      sessionTimeoutMs,
      task: slow,
    });
    try {
      const producer = await connectProducer({ brokers, clientId: 'it-eos-slow-input' });
      await producer.send(
        slowIn,
        Array.from({ length: 60 }, (_, i) => ({
          key: `k${i}`,
          value: Buffer.from(`m${i}`),
          partition: i % 6,
        })),
      );
      await producer.close();
      await eventually(() => Promise.resolve(seen.length >= 60 ? true : undefined), 90_000, '60 outputs');
      await drained(groupId, slowIn);
      expect([...counting.opened].sort()).toEqual([0, 1, 2, 3, 4, 5]);
      expect(seen).toHaveLength(60);
    } finally {
      await running.stop();
      await reader.stop();
      await admin.deleteTopics([slowIn, slowOut, slowLog]);
      await admin.close();
    }
  });

  it('commits a backlog whose outputs exceed the largest message the broker takes', async () => {
    // 6,000 inputs read as a few large batches, each input writing 1 KB to the output and the changelog:
    // several MB per transaction to one partition, over the broker's 1 MiB message.max.bytes.
    const groupId = uniqueName('it-eos-big');
    const bigIn = uniqueName('it-eos-big-in');
    const bigOut = uniqueName('it-eos-big-out');
    const bigLog = uniqueName('it-eos-big-log');
    const admin = await connectTopicAdmin(brokers);
    await admin.ensureTopics([
      { name: bigIn, partitions: 1 },
      { name: bigOut, partitions: 1 },
      { name: bigLog, partitions: 1, config: { 'cleanup.policy': 'compact' } },
    ]);
    const producer = await connectProducer({ brokers, clientId: 'it-eos-big-input' });
    for (let i = 0; i < 6000; i += 1000)
      await producer.send(
        bigIn,
        Array.from({ length: 1000 }, (_, k) => ({ key: `k${i + k}`, value: Buffer.alloc(300, 1) })),
      );
    await producer.close();
    const padded: StreamTask = {
      open: () => undefined,
      close: () => undefined,
      process: (partition, messages) =>
        Promise.resolve(
          messages.flatMap((m) => [
            { topic: bigOut, key: m.key, value: Buffer.alloc(1024, 2) },
            { topic: bigLog, partition, key: m.key, value: Buffer.alloc(1024, 3) },
          ]),
        ),
    };
    const running = await startTransactionalProcessor({
      brokers,
      groupId,
      inputTopic: bigIn,
      changelogTopic: bigLog,
      transactionalIdPrefix: groupId,
      task: padded,
    });
    let crash: Error | undefined;
    void running.crashed.then((err) => (crash = err));
    const reader = await connectConsumer({
      brokers,
      groupId: uniqueName('it-eos-big-reader'),
      topics: [bigOut],
      fromBeginning: true,
    });
    let outputs = 0;
    await reader.run((batch) => {
      outputs += batch.length;
      return Promise.resolve();
    });
    try {
      await eventually(
        () => {
          if (crash) throw new Error(`processor crashed: ${crash.message}`);
          return Promise.resolve(outputs >= 6000 ? true : undefined);
        },
        90_000,
        '6000 outputs',
      );
    } finally {
      await reader.stop();
      await running.stop();
      await admin.deleteTopics([bigIn, bigOut, bigLog]);
      await admin.close();
    }
    expect(crash).toBeUndefined();
    expect(outputs).toBe(6000);
  });
});

describe('reading a changelog partition for a restore', () => {
  it('ends at the end as of its start, moved past a tail of aborted records and markers no batch delivers', async () => {
    const [, , log] = await createRunTopics('it-restore-read');
    const kafka = createKafka({ brokers, clientId: 'it-restore-read' });
    const producer = await transactionalWriter('it-restore-read');
    const write = async (partition: number, keys: string[], outcome: 'commit' | 'abort'): Promise<void> => {
      const tx = await producer.transaction();
      await tx.send({
        topic: log,
        messages: keys.map((key) => ({ key, value: Buffer.from(key), partition })),
      });
      await (outcome === 'commit' ? tx.commit() : tx.abort());
    };
    try {
      await write(0, ['c1', 'c2'], 'commit');
      await write(0, ['x'], 'abort');
      // Nothing but an aborted record and its marker: the one fetch is empty once filtered.
      await write(1, ['y'], 'abort');
      const never = new AbortController().signal;
      const keys = async (partition: number): Promise<(string | null)[]> =>
        (await readChangelogPartition(kafka, log, partition, never)).map((r) => r.key);
      expect(await keys(0)).toEqual(['c1', 'c2']);
      expect(await keys(1)).toEqual([]);
    } finally {
      await producer.disconnect();
      const admin = await connectTopicAdmin(brokers);
      await admin.deleteTopics([log]).finally(() => admin.close());
    }
  });
});
