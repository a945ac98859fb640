// patches/kafkajs+2.2.4.patch changes how kafkajs encodes records (varints written in place, small varlongs
// without Long arithmetic, unzeroed buffers), groups a send's messages by partition (linear, not
// quadratic), and retries a transaction's first request (AddPartitionsToTxn, AddOffsetsToTxn) quickly while
// the coordinator completes the previous transaction, keeps each transaction coordinator from one
// transaction to the next, sends the commits of resolved offsets that meet one in flight as one request
// after it, finds a moved group coordinator again for the next offset commit, and sets no timer on a
// connection whose request queue has nothing to check. These tests hold the patched code to the Kafka
// protocol and to kafkajs's own behaviour: the bytes must be exactly those the protocol defines, grouping
// must keep every message, in order, and any other error must reach the caller as before.
/* eslint-disable @typescript-eslint/no-require-imports -- kafkajs internals have no typings */

interface KafkajsEncoder {
  writeVarInt(value: number): KafkajsEncoder;
  writeVarLong(value: number): KafkajsEncoder;
  writeInt32(value: number): KafkajsEncoder;
  writeBytes(value: Buffer): KafkajsEncoder;
  writeEncoder(value: KafkajsEncoder): KafkajsEncoder;
  readonly buffer: Buffer;
}
const Encoder = require('kafkajs/src/protocol/encoder') as {
  new (initialSize?: number): KafkajsEncoder;
  sizeOfVarInt(value: number): number;
  sizeOfVarLong(value: number): number;
};
const groupMessagesPerPartition = require('kafkajs/src/producer/groupMessagesPerPartition') as (args: {
  topic: string;
  partitionMetadata: { partitionId: number }[];
  messages: { key: string }[];
  partitioner: (args: { message: { key: string } }) => number;
}) => Record<string, { key: string }[]>;

/** Unsigned LEB128 of the 64-bit zigzag of `value`: Kafka's varlong (and varint, for int32 values). */
function zigzagVarint(value: bigint, bits: 32 | 64): Buffer {
  let z = BigInt.asUintN(bits, (value << 1n) ^ (value >> BigInt(bits - 1)));
  const out: number[] = [];
  while (z >= 128n) {
    out.push(Number(z & 127n) | 128);
    z >>= 7n;
  }
  out.push(Number(z));
  return Buffer.from(out);
}

/** Integers around every varint length boundary and the int32/2^30 edges, both signs, and timestamps. */
function boundaryValues(max: number): number[] {
  const values = new Set<number>([0, 1_796_149_565_103, Number.MAX_SAFE_INTEGER]);
  for (let bits = 0; 2 ** bits <= max; bits++)
    for (const v of [2 ** bits - 1, 2 ** bits, 2 ** bits + 1]) if (v <= max) values.add(v);
  return [...values].flatMap((v) => [v, -v]).filter((v) => Math.abs(v) <= max);
}

describe('patched kafkajs record encoding', () => {
  it('writes varlongs exactly as the protocol defines, on both sides of the fast path', () => {
    for (const v of boundaryValues(Number.MAX_SAFE_INTEGER)) {
      const expected = zigzagVarint(BigInt(v), 64);
      expect([v, new Encoder().writeVarLong(v).buffer]).toEqual([v, expected]);
      expect([v, Encoder.sizeOfVarLong(v)]).toEqual([v, expected.length]);
    }
  });

  it('writes varints exactly as the protocol defines', () => {
    for (const v of boundaryValues(2 ** 31 - 1)) {
      const expected = zigzagVarint(BigInt(v), 32);
      expect([v, new Encoder().writeVarInt(v).buffer]).toEqual([v, expected]);
      expect([v, Encoder.sizeOfVarInt(v)]).toEqual([v, expected.length]);
    }
  });

  it('grows past its first buffer without losing what was written (unzeroed buffers)', () => {
    const encoder = new Encoder(8);
    const expected: Buffer[] = [];
    for (let i = 0; i < 1000; i++) {
      encoder.writeInt32(i).writeVarLong(i * 1_000_003);
      const int32 = Buffer.alloc(4);
      int32.writeInt32BE(i);
      expected.push(int32, zigzagVarint(BigInt(i * 1_000_003), 64));
    }
    expect(encoder.buffer.equals(Buffer.concat(expected))).toBe(true);
  });

  it('copies buffers, views into larger ones included, and encoders, across growth', () => {
    // A view whose bytes start inside a larger buffer, as kafkajs's own `buffer` getter returns: a copy
    // that ignored the view's offset would write the larger buffer's first bytes.
    const backing = Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 251));
    const encoder = new Encoder(4);
    const expected: Buffer[] = [];
    for (let i = 0; i < 300; i++) {
      const view = backing.subarray(i * 7, i * 7 + (i % 40));
      const inner = new Encoder(1).writeInt32(i).writeBytes(view);
      encoder.writeBytes(view).writeEncoder(inner);
      const length = Buffer.alloc(4);
      length.writeInt32BE(view.length);
      const int32 = Buffer.alloc(4);
      int32.writeInt32BE(i);
      expected.push(length, view, int32, length, view);
    }
    expect(encoder.buffer.equals(Buffer.concat(expected))).toBe(true);
  });
});

describe('patched kafkajs grouping by partition', () => {
  it('keeps every message, in order, under its partition', () => {
    const messages = Array.from({ length: 10_000 }, (_, i) => ({ key: `k${i}` }));
    const partitionOf = (key: string): number => Number(key.slice(1)) % 7;
    const grouped = groupMessagesPerPartition({
      topic: 't',
      partitionMetadata: [{ partitionId: 0 }],
      messages,
      partitioner: ({ message }) => partitionOf(message.key),
    });
    for (let p = 0; p < 7; p++) expect(grouped[p]).toEqual(messages.filter((m) => partitionOf(m.key) === p));
    expect(Object.keys(grouped)).toHaveLength(7);
  });

  it('gives nothing when the topic has no partitions known, as kafkajs does', () => {
    expect(
      groupMessagesPerPartition({
        topic: 't',
        partitionMetadata: [],
        messages: [{ key: 'a' }],
        partitioner: () => 0,
      }),
    ).toEqual({});
  });
});

interface KafkajsError extends Error {
  type: string;
}
const createEosManager = require('kafkajs/src/producer/eosManager') as (args: {
  logger: unknown;
  cluster: unknown;
  transactional: boolean;
  transactionalId: string;
}) => {
  initProducerId(): Promise<void>;
  beginTransaction(): void;
  addPartitionsToTransaction(
    topicData: { topic: string; partitions: { partition: number }[] }[],
  ): Promise<void>;
  sendOffsets(args: {
    consumerGroupId: string;
    topics: { topic: string; partitions: { partition: number; offset: string }[] }[];
  }): Promise<void>;
};

/**
 * A transactional eosManager whose coordinator fails the transaction's first request (AddPartitionsToTxn,
 * or AddOffsetsToTxn for a transaction that sends no records) with the given errors first.
 */
async function transactionWith(errors: string[]): Promise<{
  calls: () => number;
  add: () => Promise<void>;
  addOffsets: () => Promise<void>;
}> {
  let calls = 0;
  const failures = [...errors];
  const firstRequest = (): Promise<object> => {
    calls += 1;
    const type = failures.shift();
    if (type === undefined) return Promise.resolve({});
    const error: KafkajsError = Object.assign(new Error(type), { type });
    return Promise.reject(error);
  };
  const broker = {
    initProducerId: () => Promise.resolve({ producerId: 1, producerEpoch: 0 }),
    addPartitionsToTxn: firstRequest,
    addOffsetsToTxn: firstRequest,
    txnOffsetCommit: () => Promise.resolve({}),
  };
  const silent = { debug() {}, info() {}, warn() {}, error() {}, namespace: () => silent };
  const eos = createEosManager({
    logger: silent,
    cluster: {
      retry: { retries: 0 },
      refreshMetadataIfNecessary: () => Promise.resolve(),
      findGroupCoordinator: () => Promise.resolve(broker),
    },
    transactional: true,
    transactionalId: 'tx',
  });
  await eos.initProducerId();
  eos.beginTransaction();
  return {
    calls: () => calls,
    add: () => eos.addPartitionsToTransaction([{ topic: 't', partitions: [{ partition: 0 }] }]),
    addOffsets: () =>
      eos.sendOffsets({
        consumerGroupId: 'g',
        topics: [{ topic: 't', partitions: [{ partition: 0, offset: '1' }] }],
      }),
  };
}

describe('patched kafkajs AddOffsetsToTxn', () => {
  // Seen in CI: a transaction with no records met the coordinator still completing the previous one, failed,
  // and the processor restored its partition from the changelog.
  it('retries CONCURRENT_TRANSACTIONS itself, and passes any other error on at once', async () => {
    const tx = await transactionWith(['CONCURRENT_TRANSACTIONS', 'CONCURRENT_TRANSACTIONS']);
    await tx.addOffsets();
    expect(tx.calls()).toBe(3);
    const busy = await transactionWith(Array.from({ length: 10 }, () => 'CONCURRENT_TRANSACTIONS'));
    await expect(busy.addOffsets()).rejects.toMatchObject({ type: 'CONCURRENT_TRANSACTIONS' });
    expect(busy.calls()).toBe(10);
    const fenced = await transactionWith(['INVALID_PRODUCER_EPOCH']);
    await expect(fenced.addOffsets()).rejects.toMatchObject({ type: 'INVALID_PRODUCER_EPOCH' });
    expect(fenced.calls()).toBe(1);
  });
});

describe('patched kafkajs AddPartitionsToTxn', () => {
  it('retries CONCURRENT_TRANSACTIONS itself, and adds the partitions once', async () => {
    const tx = await transactionWith(['CONCURRENT_TRANSACTIONS', 'CONCURRENT_TRANSACTIONS']);
    await tx.add();
    expect(tx.calls()).toBe(3);
    await tx.add(); // already in the transaction: no request
    expect(tx.calls()).toBe(3);
  });

  it('gives up after ten attempts, and passes any other error on at once', async () => {
    const busy = await transactionWith(Array.from({ length: 10 }, () => 'CONCURRENT_TRANSACTIONS'));
    await expect(busy.add()).rejects.toMatchObject({ type: 'CONCURRENT_TRANSACTIONS' });
    expect(busy.calls()).toBe(10);
    const fenced = await transactionWith(['INVALID_PRODUCER_EPOCH']);
    await expect(fenced.add()).rejects.toMatchObject({ type: 'INVALID_PRODUCER_EPOCH' });
    expect(fenced.calls()).toBe(1);
  });
});

/**
 * A transactional eosManager on a cluster of two brokers whose coordinators start on node 1. `requests`
 * records each request the brokers got, FindCoordinator included; `fail(request, type, movedTo)` makes the
 * next such request fail with that error, and every FindCoordinator after it answer node `movedTo`.
 */
async function transactionsOnTwoBrokers(): Promise<{
  requests: string[];
  fail(request: string, type: string, movedTo: number): void;
  transaction(): Promise<void>;
  abort(): Promise<void>;
}> {
  const requests: string[] = [];
  let coordinator = 1;
  let failure: { request: string; type: string } | undefined;
  const brokerOf = (nodeId: number) => {
    const request = (name: string) => (): Promise<object> => {
      requests.push(`${name}@${nodeId}`);
      if (failure?.request !== name) return Promise.resolve({});
      const { type } = failure;
      failure = undefined;
      return Promise.reject(Object.assign(new Error(type), { type }));
    };
    return {
      nodeId,
      initProducerId: () => Promise.resolve({ producerId: 1, producerEpoch: 0 }),
      addPartitionsToTxn: request('AddPartitionsToTxn'),
      addOffsetsToTxn: request('AddOffsetsToTxn'),
      txnOffsetCommit: request('TxnOffsetCommit'),
      endTxn: request('EndTxn'),
    };
  };
  const brokers = new Map([1, 2].map((id) => [id, brokerOf(id)]));
  const silent = { debug() {}, info() {}, warn() {}, error() {}, namespace: () => silent };
  const eos = createEosManager({
    logger: silent,
    cluster: {
      retry: { retries: 2, initialRetryTime: 1, maxRetryTime: 1 },
      refreshMetadataIfNecessary: () => Promise.resolve(),
      findBroker: ({ nodeId }: { nodeId: number }) => Promise.resolve(brokers.get(nodeId)),
      findGroupCoordinator: ({ groupId }: { groupId: string }) => {
        requests.push(`FindCoordinator(${groupId})`);
        return Promise.resolve(brokers.get(coordinator));
      },
    },
    transactional: true,
    transactionalId: 'tx',
  }) as ReturnType<typeof createEosManager> & { commit(): Promise<void>; abort(): Promise<void> };
  await eos.initProducerId();
  requests.length = 0;
  return {
    requests,
    fail(request, type, movedTo) {
      failure = { request, type };
      coordinator = movedTo;
    },
    async transaction() {
      eos.beginTransaction();
      await eos.addPartitionsToTransaction([{ topic: 't', partitions: [{ partition: 0 }] }]);
      await eos.sendOffsets({
        consumerGroupId: 'g',
        topics: [{ topic: 't', partitions: [{ partition: 0, offset: '1' }] }],
      });
      await eos.commit();
    },
    abort: () => eos.abort(),
  };
}

/** Two brokers after a first transaction has found its coordinators; its requests are not recorded. */
async function afterOneTransaction(): ReturnType<typeof transactionsOnTwoBrokers> {
  const tx = await transactionsOnTwoBrokers();
  await tx.transaction();
  tx.requests.length = 0;
  return tx;
}

describe('patched kafkajs transaction coordinators', () => {
  it('finds each coordinator once, not before each request of every transaction', async () => {
    const tx = await transactionsOnTwoBrokers();
    await tx.transaction();
    await tx.transaction();
    expect(tx.requests).toEqual([
      'FindCoordinator(tx)',
      'AddPartitionsToTxn@1',
      'AddOffsetsToTxn@1',
      'FindCoordinator(g)',
      'TxnOffsetCommit@1',
      'EndTxn@1',
      'AddPartitionsToTxn@1',
      'AddOffsetsToTxn@1',
      'TxnOffsetCommit@1',
      'EndTxn@1',
    ]);
  });

  it('passes a failed request on, and finds that coordinator again for the next', async () => {
    const tx = await afterOneTransaction();
    tx.fail('AddPartitionsToTxn', 'NOT_COORDINATOR', 2);
    await expect(tx.transaction()).rejects.toMatchObject({ type: 'NOT_COORDINATOR' });
    await tx.abort(); // nothing was added: no EndTxn
    await tx.transaction();
    expect(tx.requests).toEqual([
      'AddPartitionsToTxn@1',
      'FindCoordinator(tx)',
      'AddPartitionsToTxn@2',
      'AddOffsetsToTxn@2',
      'TxnOffsetCommit@1', // the group's coordinator did not fail: kept
      'EndTxn@2',
    ]);
  });

  it('finds a moved group coordinator within the offset commit, as kafkajs did', async () => {
    const tx = await afterOneTransaction();
    tx.fail('TxnOffsetCommit', 'NOT_COORDINATOR', 2);
    await tx.transaction();
    expect(tx.requests).toEqual([
      'AddPartitionsToTxn@1',
      'AddOffsetsToTxn@1',
      'TxnOffsetCommit@1',
      'FindCoordinator(g)',
      'TxnOffsetCommit@2',
      'EndTxn@1',
    ]);
  });

  it('keeps the coordinator through CONCURRENT_TRANSACTIONS, an answer about its own work', async () => {
    const tx = await afterOneTransaction();
    tx.fail('AddPartitionsToTxn', 'CONCURRENT_TRANSACTIONS', 2);
    await tx.transaction();
    expect(tx.requests.slice(0, 2)).toEqual(['AddPartitionsToTxn@1', 'AddPartitionsToTxn@1']);
    expect(tx.requests).not.toContain('FindCoordinator(tx)');
  });
});

const batchChecksum = require('kafkajs/src/protocol/recordBatch/crc32C') as (buffer: Buffer) => number;
const javascriptCrc32C = require('kafkajs/src/protocol/recordBatch/crc32C/crc32C') as (
  buffer: Buffer,
) => number;

describe('patched kafkajs record batch checksum', () => {
  it('is CRC-32C, as the JavaScript one computes it, on any bytes', () => {
    expect(batchChecksum(Buffer.from('123456789'))).toBe(0xe3069283); // the CRC-32C check value
    let x = 1;
    for (const size of [0, 1, 7, 8, 9, 63, 64, 65, 1000, 65_537]) {
      const bytes = Buffer.alloc(size);
      for (let i = 0; i < size; i++) bytes[i] = (x = (Math.imul(x, 1664525) + 1013904223) >>> 0) >>> 24;
      expect([size, batchChecksum(bytes)]).toEqual([size, javascriptCrc32C(bytes) >>> 0]);
    }
  });

  it('runs in native code on this platform', () => {
    // The patch falls back to the JavaScript one silently where no prebuilt binary exists; not here.
    expect(() => require('@node-rs/crc32') as unknown).not.toThrow();
    expect(String(batchChecksum)).toContain('native(');
  });
});

interface RecordFields {
  key: Buffer | string | null;
  value: Buffer | string | null;
  headers?: Record<string, string | Buffer | (string | Buffer)[]>;
  offsetDelta: number;
  timestampDelta: number;
}
const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as ((
  fields: RecordFields,
) => KafkajsEncoder) & {
  writeRecord(encoder: KafkajsEncoder, fields: RecordFields): KafkajsEncoder;
};
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as {
  RecordBatch(args: {
    records: unknown[];
    firstOffset?: unknown;
    firstTimestamp: number;
    maxTimestamp: number;
    lastOffsetDelta: number;
  }): Promise<KafkajsEncoder>;
};
const KafkajsDecoder = require('kafkajs/src/protocol/decoder') as new (buffer: Buffer) => unknown;
const decodeRecordBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (
  decoder: unknown,
) => Promise<{
  records: {
    key: Buffer | null;
    value: Buffer | null;
    headers: Record<string, Buffer | Buffer[]>;
    offset: string;
    timestamp: string;
  }[];
}>;

/** Records of every shape a send can hold: string, Buffer and null keys and values, none to many headers. */
function variedRecords(count: number): RecordFields[] {
  let x = 11;
  const next = (n: number): number => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) % n;
  const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => next(256)));
  const text = (n: number): string => Array.from({ length: n }, () => 'aé😀z'[next(4)]).join('');
  return Array.from({ length: count }, (_, i) => {
    const kind = next(3);
    const headers: RecordFields['headers'] = {};
    for (let h = next(4); h > 0; h--) headers[`h${h}`] = next(2) ? text(next(9)) : [bytes(next(5)), text(3)];
    return {
      key: kind === 0 ? null : kind === 1 ? text(next(40)) : bytes(next(40)),
      value: next(5) === 0 ? null : next(2) ? bytes(next(900)) : text(next(300)),
      ...(next(3) ? { headers } : {}),
      offsetDelta: i,
      timestampDelta: next(3) === 0 ? 0 : next(2 ** 31) * 1000,
    };
  });
}

describe('patched kafkajs record batch writing', () => {
  it('writes each record in place byte for byte as the record encoder does', () => {
    const records = variedRecords(500);
    const inPlace = new Encoder(1);
    for (const r of records) Record.writeRecord(inPlace, r);
    expect(inPlace.buffer.equals(Buffer.concat(records.map((r) => Record(r).buffer)))).toBe(true);
  });

  it('gives the same batch for records as fields or as encoders, and kafkajs reads every record back', async () => {
    const records = variedRecords(300);
    const batch = {
      firstTimestamp: 1_700_000_000_000,
      maxTimestamp: 1_700_000_000_000,
      lastOffsetDelta: 299,
    };
    const fromFields = (await RecordBatch({ ...batch, records })).buffer;
    const fromEncoders = (await RecordBatch({ ...batch, records: records.map((r) => Record(r)) })).buffer;
    expect(fromFields.equals(fromEncoders)).toBe(true);
    const decoded = await decodeRecordBatch(new KafkajsDecoder(fromFields));
    const asBuffer = (v: Buffer | string | null): Buffer | null => (v === null ? null : Buffer.from(v));
    expect(decoded.records.map((r) => [r.key, r.value, Number(r.offset)])).toEqual(
      records.map((r, i) => [asBuffer(r.key), asBuffer(r.value), i]),
    );
    expect(decoded.records.map((r) => Object.keys(r.headers).sort())).toEqual(
      records.map((r) => Object.keys(r.headers ?? {}).sort()),
    );
  });
});

const KafkajsLong = require('kafkajs/src/utils/long') as { fromValue(v: string | number): unknown };

describe('patched kafkajs record reading', () => {
  // Deltas on both sides of the 7-byte fast path (zigzag of ±2^47 and beyond), negative ones included,
  // and first offsets and timestamps below and above 2^53, where the Long path takes over.
  const deltas = [
    0,
    1,
    -1,
    63,
    -64,
    2 ** 20,
    -(2 ** 20),
    2 ** 47 - 1,
    -(2 ** 47),
    2 ** 47,
    2 ** 52,
    -(2 ** 52),
  ];
  const cases: [string, bigint][] = [
    ['0', 1_700_000_000_000n],
    ['123456789', 1_700_000_000_000n],
    ['9007199254740990', 1_700_000_000_000n],
    ['9007199254740993', 9_007_199_254_740_000n],
    ['9223372036854770000', 1n],
  ];

  it.each(cases)(
    'reads offsets after %s and timestamps after %s exactly, as Long arithmetic does',
    async (first, firstTs) => {
      const records = deltas.map((timestampDelta, i) => ({
        key: `k${i}`,
        value: Buffer.from([i]),
        offsetDelta: i * 1000,
        timestampDelta,
      }));
      const encoded = await RecordBatch({
        records,
        firstOffset: KafkajsLong.fromValue(first),
        firstTimestamp: Number(firstTs),
        maxTimestamp: Number(firstTs),
        lastOffsetDelta: records.length - 1,
      });
      const decoded = await decodeRecordBatch(new KafkajsDecoder(encoded.buffer));
      expect(decoded.records.map((r) => [r.offset, r.timestamp])).toEqual(
        records.map((r) => [
          String(BigInt(first) + BigInt(r.offsetDelta)),
          String(firstTs + BigInt(r.timestampDelta)),
        ]),
      );
    },
  );
});

const createSendMessages = require('kafkajs/src/producer/sendMessages') as (args: {
  logger: unknown;
  cluster: unknown;
  partitioner: unknown;
  eosManager: unknown;
  retrier: unknown;
}) => (args: {
  acks: number;
  timeout?: number;
  topicMessages: { topic: string; messages: { key: string; value: string; partition: number }[] }[];
}) => Promise<{ topicName: string; partition: number; errorCode: number }[]>;
const createRetrier = require('kafkajs/src/retry') as (options: object) => unknown;

/**
 * Two partitions led by brokers 1 and 2; broker 2 is lost during the first send, and its partition's
 * leadership moves to broker 1, which has already answered for its own partition of the same send.
 */
function sendThroughLeaderChange(): {
  send: ReturnType<typeof createSendMessages>;
  produced: { broker: number; partitions: number[] }[];
} {
  const leaders = new Map([
    [0, 1],
    [1, 2],
  ]);
  const produced: { broker: number; partitions: number[] }[] = [];
  const brokerOf = (nodeId: number) => ({
    nodeId,
    produce: (request: { topicData: { topic: string; partitions: { partition: number }[] }[] }) => {
      const partitions = request.topicData.flatMap((t) => t.partitions.map((p) => p.partition));
      if (nodeId === 2) {
        leaders.set(1, 1); // the controller moves the partition while the connection breaks
        return Promise.reject(
          Object.assign(new Error('Connection error: read ECONNRESET'), {
            name: 'KafkaJSConnectionError',
            retriable: true,
          }),
        );
      }
      produced.push({ broker: nodeId, partitions });
      return Promise.resolve({
        topics: request.topicData.map((t) => ({
          topicName: t.topic,
          partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode: 0, baseOffset: '0' })),
        })),
      });
    },
  });
  const brokers = new Map([
    [1, brokerOf(1)],
    [2, brokerOf(2)],
  ]);
  const silent = { debug() {}, info() {}, warn() {}, error() {}, namespace: () => silent };
  const cluster = {
    refreshMetadataIfNecessary: () => Promise.resolve(),
    refreshMetadata: () => Promise.resolve(),
    isConnected: () => true,
    addMultipleTargetTopics: () => Promise.resolve(),
    removeBroker: () => undefined,
    targetTopics: new Set(['t']),
    findTopicPartitionMetadata: () => [
      { partitionId: 0, leader: leaders.get(0) },
      { partitionId: 1, leader: leaders.get(1) },
    ],
    findLeaderForPartitions: (_topic: string, partitions: string[]) => {
      const byLeader: Record<number, number[]> = {};
      for (const p of partitions) (byLeader[leaders.get(Number(p))!] ??= []).push(Number(p));
      return byLeader;
    },
    findBroker: ({ nodeId }: { nodeId: number }) => Promise.resolve(brokers.get(Number(nodeId))),
  };
  const eosManager = {
    isTransactional: () => false,
    acquireBrokerLock: () => Promise.resolve(),
    releaseBrokerLock: () => Promise.resolve(),
    getSequence: () => 0,
    updateSequence: () => undefined,
    getTransactionalId: () => undefined,
    getProducerId: () => -1,
    getProducerEpoch: () => 0,
  };
  const send = createSendMessages({
    logger: silent,
    cluster,
    partitioner: ({ message }: { message: { partition: number } }) => message.partition,
    eosManager,
    retrier: createRetrier({ retries: 3, initialRetryTime: 1, maxRetryTime: 5 }),
  });
  return { send, produced };
}

describe('patched kafkajs send through a leader change', () => {
  it('sends a partition again to its new leader, even one that answered for other partitions of the send', async () => {
    const { send, produced } = sendThroughLeaderChange();
    const answers = await send({
      acks: -1,
      topicMessages: [
        {
          topic: 't',
          messages: [
            { key: 'a', value: 'on partition 0', partition: 0 },
            { key: 'b', value: 'on partition 1', partition: 1 },
          ],
        },
      ],
    });
    // Partition 0 once (acknowledged on the first attempt), partition 1 once, by its new leader.
    expect(produced).toEqual([
      { broker: 1, partitions: [0] },
      { broker: 1, partitions: [1] },
    ]);
    expect(answers.map((a) => a.partition).sort()).toEqual([0, 1]);
  });
});

interface OffsetCommitPayload {
  topics: { topic: string; partitions: { partition: number; offset: string }[] }[];
}
const OffsetManager = require('kafkajs/src/consumer/offsetManager') as new (options: object) => {
  resolveOffset(args: { topic: string; partition: number; offset: string }): void;
  commitOffsets(offsets?: OffsetCommitPayload): Promise<void>;
  committedOffsets(): Record<string, Record<number, string>>;
};

/** The offset manager of member m of group g, generation 1, assigned `partitions` of topic t. */
function offsetManagerOf(cluster: object, coordinator: object, partitions: number[]) {
  return new OffsetManager({
    cluster,
    coordinator,
    memberAssignment: { t: partitions },
    autoCommit: true,
    autoCommitInterval: null,
    autoCommitThreshold: null,
    topicConfigurations: {},
    instrumentationEmitter: { emit() {} },
    groupId: 'g',
    generationId: 1,
    memberId: 'm',
  });
}

/** An offset manager of partitions 0-2 of topic t whose coordinator answers each OffsetCommit when told. */
function offsetsWithHeldCommits() {
  const requests: { offsets: string; answer(error?: string): void }[] = [];
  const coordinator = {
    isConnected: () => true,
    offsetCommit: (payload: OffsetCommitPayload) =>
      new Promise<void>((resolve, reject) =>
        requests.push({
          offsets: payload.topics
            .flatMap((t) => t.partitions.map((p) => `${t.topic}/${p.partition}=${p.offset}`))
            .join(' '),
          answer: (error) =>
            error === undefined ? resolve() : reject(Object.assign(new Error(error), { type: error })),
        }),
      ),
  };
  const committed = {};
  const manager = offsetManagerOf({ committedOffsets: () => committed }, coordinator, [0, 1, 2]);
  /** What each commit call came to, as it stands now. */
  const outcomes: string[] = [];
  const commit = (label: string): Promise<void> =>
    manager.commitOffsets().then(
      () => void outcomes.push(`${label} ok`),
      (e: Error) => void outcomes.push(`${label} ${e.message}`),
    );
  const resolved = (partition: number, offset: number): void =>
    manager.resolveOffset({ topic: 't', partition, offset: String(offset) });
  return { manager, requests, outcomes, commit, resolved };
}
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('patched kafkajs commits of resolved offsets', () => {
  it('sends the offsets resolved while a commit is in flight in one request after it', async () => {
    const o = offsetsWithHeldCommits();
    o.resolved(0, 9);
    const first = o.commit('first');
    await settle();
    o.resolved(1, 19);
    const second = o.commit('second');
    o.resolved(2, 29);
    const third = o.commit('third');
    await settle();
    expect(o.requests.map((r) => r.offsets)).toEqual(['t/0=10']);
    o.requests[0]!.answer();
    await settle();
    expect(o.outcomes).toEqual(['first ok']); // the others wait for the request holding their offsets
    expect(o.requests.map((r) => r.offsets)).toEqual(['t/0=10', 't/1=20 t/2=30']);
    o.requests[1]!.answer();
    await Promise.all([first, second, third]);
    expect(o.outcomes).toEqual(['first ok', 'second ok', 'third ok']);
    expect(o.manager.committedOffsets()).toEqual({ t: { 0: '10', 1: '20', 2: '30' } });
  });

  it('gives a failed request its callers, and still sends what waited behind it', async () => {
    const o = offsetsWithHeldCommits();
    o.resolved(0, 9);
    const first = o.commit('first');
    await settle();
    o.resolved(1, 19);
    const second = o.commit('second');
    await settle();
    o.requests[0]!.answer('REBALANCE_IN_PROGRESS');
    await settle();
    // Partition 0's offset was not committed, so it goes again with partition 1's.
    expect(o.requests.map((r) => r.offsets)).toEqual(['t/0=10', 't/0=10 t/1=20']);
    o.requests[1]!.answer();
    await Promise.all([first, second]);
    expect(o.outcomes).toEqual(['first REBALANCE_IN_PROGRESS', 'second ok']);
  });

  it('sends given offsets at once, as kafkajs does, and nothing when nothing is resolved', async () => {
    const o = offsetsWithHeldCommits();
    await o.commit('nothing');
    expect(o.requests).toEqual([]);
    o.resolved(0, 9);
    void o.commit('resolved');
    await settle();
    const given = o.manager.commitOffsets({
      topics: [{ topic: 't', partitions: [{ partition: 2, offset: '5' }] }],
    });
    await settle();
    expect(o.requests.map((r) => r.offsets)).toEqual(['t/0=10', 't/2=5']);
    o.requests[1]!.answer();
    await given;
    o.requests[0]!.answer();
  });
});

describe('patched kafkajs offset commits after the group coordinator moved', () => {
  /** An offset manager whose coordinator is broker `old`; FindCoordinator names `now`. */
  function managerOn(old: { isConnected(): boolean; offsetCommit(): Promise<void> }) {
    const sentTo: string[] = [];
    const now = {
      isConnected: () => true,
      offsetCommit: () => {
        sentTo.push('now');
        return Promise.resolve();
      },
    };
    const lookups: string[] = [];
    const cluster = {
      committedOffsets: () => ({}),
      refreshMetadata: () => Promise.resolve(),
      findGroupCoordinator: ({ groupId }: { groupId: string }) => {
        lookups.push(groupId);
        return Promise.resolve(now);
      },
      findBroker: () => Promise.resolve(old),
    };
    const manager = offsetManagerOf(cluster, old, [0]);
    const commit = (offset: string) =>
      manager.commitOffsets({ topics: [{ topic: 't', partitions: [{ partition: 0, offset }] }] });
    return { manager, commit, sentTo, lookups };
  }

  it('finds the coordinator again after NOT_COORDINATOR_FOR_GROUP, not the broker that refused', async () => {
    const m = managerOn({
      isConnected: () => true,
      offsetCommit: () =>
        Promise.reject(
          Object.assign(new Error('not the coordinator'), { type: 'NOT_COORDINATOR_FOR_GROUP' }),
        ),
    });
    await expect(m.commit('5')).rejects.toThrow('not the coordinator');
    expect(m.lookups).toEqual([]);
    await m.commit('5');
    expect([m.lookups, m.sentTo]).toEqual([['g'], ['now']]);
    expect(m.manager.committedOffsets()).toEqual({ t: { 0: '5' } });
    await m.commit('6'); // found once, kept while it answers
    expect([m.lookups, m.sentTo]).toEqual([['g'], ['now', 'now']]);
  });

  it('finds the coordinator again when its connection closed', async () => {
    const m = managerOn({
      isConnected: () => false,
      offsetCommit: () => Promise.reject(new Error('unused')),
    });
    await m.commit('3');
    expect([m.lookups, m.sentTo]).toEqual([['g'], ['now']]);
  });

  it('keeps the coordinator through any other error', async () => {
    let answers = 0;
    const m = managerOn({
      isConnected: () => true,
      offsetCommit: () =>
        answers++ === 0
          ? Promise.reject(Object.assign(new Error('rebalancing'), { type: 'REBALANCE_IN_PROGRESS' }))
          : Promise.resolve(),
    });
    await expect(m.commit('5')).rejects.toThrow('rebalancing');
    await m.commit('5');
    expect([m.lookups, m.sentTo, answers]).toEqual([[], [], 2]);
  });
});

interface KafkajsRequestQueue {
  push(request: {
    entry: {
      correlationId: number;
      apiKey: number;
      apiName: string;
      apiVersion: number;
      resolve: () => void;
      reject: () => void;
    };
    expectResponse: boolean;
    sendRequest: () => void;
  }): void;
  fulfillRequest(response: { correlationId: number; payload: Buffer; size: number }): void;
  maybeThrottle(ms: number): void;
  destroy(): void;
  readonly throttleCheckTimeoutId: unknown;
}
const RequestQueue = require('kafkajs/src/network/requestQueue') as new (options: {
  maxInFlightRequests: number;
  requestTimeout: number;
  enforceRequestTimeout: boolean;
  clientId: string;
  broker: string;
  logger: { debug: () => void; warn: () => void; error: () => void; info: () => void };
}) => KafkajsRequestQueue;

describe('patched kafkajs request queue', () => {
  const quiet = { debug: () => {}, warn: () => {}, error: () => {}, info: () => {} };
  const queues: KafkajsRequestQueue[] = [];
  const queue = (maxInFlightRequests: number): KafkajsRequestQueue => {
    const q = new RequestQueue({
      maxInFlightRequests,
      requestTimeout: 30_000,
      enforceRequestTimeout: false,
      clientId: 'test',
      broker: 'localhost:9092',
      logger: quiet,
    });
    queues.push(q);
    return q;
  };
  const sent: number[] = [];
  const answered: number[] = [];
  const push = (q: KafkajsRequestQueue, correlationId: number): void =>
    q.push({
      entry: {
        correlationId,
        apiKey: 0,
        apiName: 'Produce',
        apiVersion: 3,
        resolve: () => answered.push(correlationId),
        reject: () => {},
      },
      expectResponse: true,
      sendRequest: () => sent.push(correlationId),
    });
  const answer = (q: KafkajsRequestQueue, correlationId: number): void =>
    q.fulfillRequest({ correlationId, payload: Buffer.alloc(0), size: 0 });
  afterEach(() => {
    for (const q of queues.splice(0)) q.destroy();
    sent.length = 0;
    answered.length = 0;
    jest.restoreAllMocks();
  });

  it('sets no timer once a response leaves nothing waiting (kafkajs checked again every millisecond, for good)', () => {
    const timers = jest.spyOn(global, 'setTimeout');
    const q = queue(5);
    push(q, 1);
    answer(q, 1);
    expect(sent).toEqual([1]);
    expect(answered).toEqual([1]);
    expect(q.throttleCheckTimeoutId).toBeNull();
    expect(timers).not.toHaveBeenCalled();
  });

  it('sends a request held back by the in-flight limit when a response frees its place', async () => {
    const q = queue(1);
    push(q, 1);
    push(q, 2);
    expect(sent).toEqual([1]);
    answer(q, 1);
    expect(sent).toEqual([1, 2]);
    answer(q, 2);
    // The check scheduled when request 2 was queued runs once more, finds nothing, and sets no other.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(q.throttleCheckTimeoutId).toBeNull();
  });

  it('sends a request held back by a throttle when the throttle ends, never at a negative delay', async () => {
    const timers = jest.spyOn(global, 'setTimeout');
    const q = queue(5);
    q.maybeThrottle(40);
    push(q, 1);
    expect(sent).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(sent).toEqual([1]);
    answer(q, 1);
    expect(q.throttleCheckTimeoutId).toBeNull();
    for (const [, delay] of timers.mock.calls) expect(delay).toBeGreaterThanOrEqual(0);
  });
});
