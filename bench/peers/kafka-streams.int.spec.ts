/**
 * The Kafka Streams peer (bench/peers/kafka-streams) built as the bench builds it (jars from Maven Central into
 * CICLO_HOME, `javac --release 17`), and its topology run in Kafka Streams' TopologyTestDriver: no broker and
 * no registry, but touchpoints in ciclo's own Confluent wire format (the contract's Avro schema under a fixed
 * id). An integration test because the first run downloads the jars; it needs Java 17, javac and Maven.
 *
 * The peer's stage changes are compared with ciclo's replay of the same touchpoints on one partition, grace 0
 * (what the live processor gives for them): change for change, except the rule of a customer's first change
 * where ciclo merged an anonymous profile into it (`identity-merge`), which the peer, with no identity merges,
 * calls `first-touch`.
 */
import avro from 'avsc';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { replay } from '../../processors/domain/replay';
import { loadModel } from '../../processors/runtime/model-file';
import { DEFAULT_START, simulate } from '../../producers/simulate/simulate';
import { CONTRACTS } from '../../schemas/contracts';
import { LINK_COPY_HEADER, touchpointRecords } from '../../schemas/topics';
import type { Touchpoint } from '../../schemas/touchpoint';
import { testConfig } from '../../test/support/services';
import {
  assembleKafkaStreamsSelfCheck,
  runKafkaStreamsSelfCheck,
  type PeerLayout,
  type PeerStageChange,
} from './kafka-streams';

const SCHEMA_ID = 42;
const DAY = 86_400_000;
const T0 = DEFAULT_START;

interface InputRecord {
  readonly key: string;
  readonly value: Buffer;
  readonly headers?: Readonly<Record<string, string>>;
}

const avroType = avro.Type.forSchema(CONTRACTS.touchpoint.avro as avro.Schema);

/** The Confluent wire format, as infra/registry/serde.ts writes it: 0, the schema id (int32 BE), Avro. */
function wireFormat(tp: Touchpoint): Buffer {
  const header = Buffer.alloc(5);
  header.writeInt32BE(SCHEMA_ID, 1);
  return Buffer.concat([header, avroType.toBuffer(CONTRACTS.touchpoint.toAvro(tp))]);
}

/** Every record ciclo's producers write for the touchpoints on a topic of `partitions` (link copies too). */
function recordsOf(touchpoints: readonly Touchpoint[], partitions: number): InputRecord[] {
  return touchpoints.flatMap((tp) => touchpointRecords(tp, wireFormat(tp), partitions));
}

let layout: PeerLayout;
let dir: string;

beforeAll(async () => {
  layout = await assembleKafkaStreamsSelfCheck(testConfig().home, (m) => process.stderr.write(`${m}\n`));
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ciclo-peer-'));
  fs.writeFileSync(path.join(dir, 'touchpoint.avsc'), JSON.stringify(CONTRACTS.touchpoint.avro));
}, 600_000);

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

async function peerChanges(
  name: string,
  records: readonly InputRecord[],
  store: 'rocksdb' | 'in-memory' = 'rocksdb',
): Promise<PeerStageChange[]> {
  const file = path.join(dir, `${name}.jsonl`);
  fs.writeFileSync(
    file,
    records
      .map((r) => JSON.stringify({ key: r.key, value: r.value.toString('base64'), headers: r.headers ?? {} }))
      .join('\n'),
  );
  const { changes } = await runKafkaStreamsSelfCheck(layout, {
    schemaFile: path.join(dir, 'touchpoint.avsc'),
    schemaId: SCHEMA_ID,
    recordsFile: file,
    store,
  });
  return changes;
}

/** ciclo's stage changes for the touchpoints, in the peer's terms (no merges: `first-touch`). */
function cicloChanges(touchpoints: readonly Touchpoint[]): PeerStageChange[] {
  return replay(touchpoints, loadModel('five-stage'), { partitions: 1, gracePeriodMs: 0 }).stageChanges.map(
    (c) => ({
      customerId: c.customerId,
      fromStage: c.fromStage ?? null,
      toStage: c.toStage,
      ruleId: c.ruleId === 'identity-merge' ? 'first-touch' : c.ruleId,
      occurredAt: c.occurredAt,
    }),
  );
}

/** Each customer's changes in the order written: the order across customers is not the same in both. */
function byCustomer(changes: readonly PeerStageChange[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const c of changes) {
    const list = out.get(c.customerId) ?? [];
    list.push(`${c.fromStage ?? '-'}>${c.toStage} ${c.ruleId} @${new Date(c.occurredAt).toISOString()}`);
    out.set(c.customerId, list);
  }
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : 1)));
}

function touchpoint(
  eventId: string,
  customerId: string,
  day: number,
  rest: Pick<Touchpoint, 'type' | 'payload'>,
): Touchpoint {
  const at = T0 + day * DAY;
  return {
    eventId,
    customerId,
    occurredAt: at,
    receivedAt: at + 250,
    source: { kind: 'simulator', name: 'peer-check' },
    ...rest,
  } as Touchpoint;
}

const purchase = (eventId: string, customerId: string, day: number): Touchpoint =>
  touchpoint(eventId, customerId, day, {
    type: 'PurchaseCompleted',
    payload: { orderId: `o-${eventId}`, lineItems: [], amountMinor: 2500, currency: 'USD' },
  });
const pageView = (eventId: string, customerId: string, day: number): Touchpoint =>
  touchpoint(eventId, customerId, day, { type: 'PageViewed', payload: {} });

describe('the Kafka Streams peer in TopologyTestDriver', () => {
  it('fires first touch, first and second purchase, and inactivity when stream time passes the deadline', async () => {
    const facts = [
      pageView('e1', 'ana', 0),
      purchase('e2', 'ana', 1),
      // Ten days after the first: cadence 10 days, so at risk after max(30, 2 x 10) = 30 days, on day 41.
      purchase('e3', 'ana', 11),
      // Another customer's touchpoint on day 60 moves the partition's stream time past ana's deadline.
      pageView('e4', 'bob', 60),
    ];
    const aliasCopy = touchpoint('e5', 'zed', 5, { type: 'Aliased', payload: { previousId: 'anon-z' } });
    const records: InputRecord[] = [
      ...recordsOf(facts.slice(0, 2), 1),
      // Not a fact: the peer folds a link on its customer's home partition only (it has no identity table).
      { key: 'zed', value: wireFormat(aliasCopy), headers: { [LINK_COPY_HEADER]: '1' } },
      // Undecodable (another magic byte): skipped.
      { key: 'ana', value: Buffer.from([1, 2, 3, 4, 5, 6]) },
      ...recordsOf(facts.slice(2), 1),
    ];
    const changes = await peerChanges('rules', records);
    const at = (day: number): number => T0 + day * DAY;
    expect(changes).toEqual([
      { customerId: 'ana', fromStage: null, toStage: 'reach', ruleId: 'first-touch', occurredAt: at(0) },
      {
        customerId: 'ana',
        fromStage: 'reach',
        toStage: 'conversion',
        ruleId: 'first-purchase',
        occurredAt: at(1),
      },
      {
        customerId: 'ana',
        fromStage: 'conversion',
        toStage: 'retention',
        ruleId: 'second-purchase',
        occurredAt: at(11),
      },
      { customerId: 'bob', fromStage: null, toStage: 'reach', ruleId: 'first-touch', occurredAt: at(60) },
      // From the punctuator, after bob's record: at the deadline's time, not the record's.
      {
        customerId: 'ana',
        fromStage: 'retention',
        toStage: 'at_risk',
        ruleId: 'inactive-at-risk',
        occurredAt: at(41),
      },
    ]);
    expect(byCustomer(changes)).toEqual(byCustomer(cicloChanges(facts)));
  }, 120_000);

  it.each(['rocksdb', 'in-memory'] as const)(
    "gives ciclo's stage changes for the simulator's touchpoints, link copies included (%s stores)",
    async (store) => {
      const touchpoints = simulate({ customers: 400, seed: 24, days: 365, start: DEFAULT_START });
      // As the e2e bench writes them for six partitions, all into the driver's one: each link comes with five
      // copies, which the peer skips.
      const records = recordsOf(touchpoints, 6);
      expect(records.some((r) => r.headers?.[LINK_COPY_HEADER] !== undefined)).toBe(true);
      const peer = await peerChanges(`simulated-${store}`, records, store);
      const ciclo = cicloChanges(touchpoints);
      expect(byCustomer(peer)).toEqual(byCustomer(ciclo));
      expect(peer).toHaveLength(ciclo.length);
      // The comparison covers every kind of rule the simulator's customers reach.
      const rules = new Set(peer.map((c) => c.ruleId));
      for (const rule of [
        'first-purchase',
        'second-purchase',
        'inactive-at-risk',
        'inactive-lapsed',
        'win-back',
      ])
        expect(rules).toContain(rule);
    },
    120_000,
  );
});
