/**
 * A customer's changelog record stays well under Kafka's 1 MiB message limit whatever a client sends. One id
 * with purchases on 200,000 distinct days goes through the lifecycle task, its outputs in the contracts' real
 * Avro encoding (infra/registry/serde.ts, with a registry that only hands out the schema), and every record
 * the task writes is measured as the exactly-once runner would send it. (Its input is JSON: decoding Avro
 * has no bearing on the state, and took half the test's time.) Unbounded, the
 * customer's distinct purchase days passed the limit at about 150,000 and the transaction, so the processor,
 * failed. Then the partition is restored from what its changelog holds and keeps going.
 */
import avro from 'avsc';
import type { OutputRecord } from '../../infra/kafka/transactional-processor';
import type { IncomingMessage } from '../../infra/kafka/types';
import type { AvroRegistry } from '../../infra/registry/schema-registry';
import { createSerde } from '../../infra/registry/serde';
import { jsonSerde } from './fakes';
import { CONTRACTS, type Contract } from '../../schemas/contracts';
import type { CustomerSnapshot } from '../../schemas/outputs';
import type { Touchpoint } from '../../schemas/touchpoint';
import { purchaseDayCount, PURCHASE_DAYS_LIMIT } from '../domain/customer';
import { loadModel } from './model-file';
import { changelogKey, createLifecycleTask } from './lifecycle-task';

const DAY = 86_400_000;
/** The earliest event time a touchpoint may have (schemas/fields.ts). */
const FIRST = Date.UTC(1990, 0, 1);
/** When the records were written: after every event time here, so that none is taken as ahead of its record. */
const RECORD_TIME = Date.UTC(2999, 0, 1);
const KAFKA_MESSAGE_LIMIT = 1024 * 1024;

/** A registry that registers one schema and encodes and decodes with it, as the real one's client does. */
function schemaOnlyRegistry(): AvroRegistry {
  let type: avro.Type | undefined;
  return {
    url: 'none',
    register: (_subject, schema) => {
      type = avro.Type.forSchema(schema as avro.Schema);
      return Promise.resolve(1);
    },
    encode: () => Promise.reject(new Error('encodeAll only')),
    decode: <T>(message: Buffer) => Promise.resolve(type!.fromBuffer(message.subarray(5)) as T),
    decodeKnown: <T>(message: Buffer) => type!.fromBuffer(message.subarray(5)) as T,
    setCompatibility: () => Promise.resolve(),
    getCompatibility: () => Promise.resolve(undefined),
    listSubjects: () => Promise.resolve([]),
    listVersions: () => Promise.resolve([]),
  };
}

const serdeOf = <T>(contract: Contract<T>) => createSerde(schemaOnlyRegistry(), contract, contract.name);

/** What one record weighs on the wire, as the runner counts it (transactional-processor.ts chunkBySize). */
const recordBytes = (r: OutputRecord): number =>
  Buffer.byteLength(r.key ?? '') + (r.value?.length ?? 0) + Object.keys(r.headers ?? {}).length * 64;

const buy = (day: number): Touchpoint => ({
  eventId: `buy-${day}`,
  type: 'PurchaseCompleted',
  customerId: 'whale',
  occurredAt: FIRST + day * DAY,
  receivedAt: FIRST + day * DAY,
  source: { kind: 'api', name: 'shop' },
  payload: { orderId: `o${day}`, lineItems: [], amountMinor: 100, currency: 'EUR' },
});

describe("a customer's changelog record", () => {
  it('stays well under 1 MiB with purchases on 200,000 distinct days, and the partition restores and goes on', async () => {
    const DAYS = 200_000;
    const BATCH = 5_000;
    const serdes = {
      touchpoint: jsonSerde<Touchpoint>(),
      stageChanged: await serdeOf(CONTRACTS.stageChanged),
      customerSnapshot: await serdeOf(CONTRACTS.customerSnapshot),
      lifecycleState: await serdeOf(CONTRACTS.lifecycleState),
      identity: await serdeOf(CONTRACTS.lifecycleState),
    };
    const topics = {
      touchpoints: 't',
      identity: 'i',
      stageChanges: 'sc',
      customerSnapshots: 'snap',
      changelog: 'state',
      deadLetter: 'dlq',
    };
    const model = loadModel('five-stage');
    const newTask = () =>
      createLifecycleTask({ model, gracePeriodMs: 0, partitions: 1, topics, serdes, now: () => 0 });
    /** The compacted changelog: the latest record per key, in the order of their last writes. */
    const changelog = new Map<string, IncomingMessage>();
    let offset = 0;
    let largest = { bytes: 0, topic: '', key: '' };
    const written = (records: readonly OutputRecord[]): void => {
      for (const r of records) {
        const bytes = recordBytes(r);
        if (bytes > largest.bytes) largest = { bytes, topic: r.topic, key: r.key ?? '' };
        if (r.topic === topics.deadLetter) throw new Error(`dead-lettered: ${JSON.stringify(r.headers)}`);
        if (r.topic !== topics.changelog) continue;
        const key = r.key!;
        changelog.delete(key);
        changelog.set(key, {
          topic: r.topic,
          partition: 0,
          offset: String(offset++),
          key,
          value: r.value,
          headers: {},
          timestamp: RECORD_TIME,
        });
      }
    };
    const input = (touchpoints: Touchpoint[]): IncomingMessage[] =>
      touchpoints.map((tp, i) => ({
        topic: topics.touchpoints,
        partition: 0,
        offset: String(i),
        key: tp.customerId!,
        value: Buffer.from(JSON.stringify(tp)),
        headers: {},
        timestamp: RECORD_TIME,
      }));

    const task = newTask();
    await task.open(0, []);
    for (let from = 0; from < DAYS; from += BATCH) {
      const batch = Array.from({ length: Math.min(BATCH, DAYS - from) }, (_, i) => buy(from + i));
      written(await task.process(0, input(batch)));
    }
    const whale = task.partitions.get(0)!.customers.get('whale')!;
    expect(whale.orders).toBe(DAYS);
    expect(purchaseDayCount(whale)).toBe(DAYS);
    expect(whale.purchaseDays).toHaveLength(PURCHASE_DAYS_LIMIT);

    // Every record of every batch fits, with room to spare; the customer's own is the largest.
    const record = changelog.get(changelogKey(model.id, 'whale'))!;
    expect(largest.bytes).toBeLessThan(KAFKA_MESSAGE_LIMIT / 16);
    expect(recordBytes(record)).toBeLessThan(KAFKA_MESSAGE_LIMIT / 16);

    // A new owner of the partition restores it from the changelog, and the next purchase counts as ever.
    const next = newTask();
    await next.open(0, [...changelog.values()]);
    const out = await next.process(0, input([buy(DAYS)]));
    written(out);
    const restored = next.partitions.get(0)!.customers.get('whale')!;
    expect(restored.orders).toBe(DAYS + 1);
    expect(purchaseDayCount(restored)).toBe(DAYS + 1);
    const snapshotRecord = out.find((r) => r.topic === topics.customerSnapshots)!;
    const snapshot = (await serdes.customerSnapshot.decode(snapshotRecord.value!)) as {
      ok: true;
      value: CustomerSnapshot;
    };
    expect(snapshot.value).toMatchObject({ orders: DAYS + 1, purchaseCadenceDays: 1 });
    expect(largest.bytes).toBeLessThan(KAFKA_MESSAGE_LIMIT / 16);
    // Seconds of work, not a stuck test: more than the unit tests' usual limit on a busy machine.
  }, 60_000);
});
