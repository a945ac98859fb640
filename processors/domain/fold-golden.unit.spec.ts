/**
 * Golden output of the lifecycle fold. The fold is tuned for speed, and the exactly-once integration tests
 * compare the runtime's output with `lifecycle replay`, so any drift in what it emits is a bug. Each scenario
 * folds simulated journeys (plus injected aliases, duplicates, CLV P(alive) updates, a checkpoint/restore
 * round trip, and for some shuffled, late input) and hashes everything observable: every ingest outcome,
 * every stage change in emitted order, the changed/removed sets in order, the checkpoint, the counters, each
 * customer's snapshot and full state. The expected digests were generated from the fold before it was
 * optimized; a mismatch means the fold's behaviour changed. Only for an intended change of behaviour,
 * print new digests with `CICLO_PRINT_GOLDEN=1 npx jest --selectProjects unit --testPathPatterns fold-golden`.
 *
 * The output behind the digests is some 9 MB a scenario, too much to commit; a passing run keeps it on this
 * machine (test/support/golden-cache.ts), so that a failing one prints the first record that differs in
 * each output, expected against actual (test/support/fold-golden-report.ts).
 */
import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { DEFAULT_START, seededRandom, simulate } from '../../producers/simulate/simulate';
import type { Touchpoint } from '../../schemas/touchpoint';
import { keepGoldenOutput, storedGoldenOutput } from '../../test/support/golden-cache';
import { digestDifferences, foldDifferences, type FoldOutput } from '../../test/support/fold-golden-report';
import { toSnapshot, type CustomerState } from './customer';
import { PRESET_IDS, type StageModel, presetModel } from './model';
import { PartitionLifecycle, type PartitionCheckpoint } from './partition';
import { canonicalOrder } from './replay';
import { CONTRACTS } from '../../schemas/contracts';
import type { CustomerSnapshot, StageChanged } from '../../schemas/outputs';

const DAY = 86_400_000;

interface Scenario {
  readonly name: string;
  readonly gracePeriodMs: number;
  /** Arrival jitter in event time: 0 keeps the simulator's sorted order. */
  readonly jitterMs: number;
  /** Share of touchpoints jittered much further than the grace period (late arrivals). */
  readonly lateShare: number;
  /** Share of touchpoints delivered twice (the copy arrives later). */
  readonly duplicateShare: number;
}

const SCENARIOS: readonly Scenario[] = [
  { name: 'in order, grace 0', gracePeriodMs: 0, jitterMs: 0, lateShare: 0, duplicateShare: 0.02 },
  {
    name: 'shuffled within grace',
    gracePeriodMs: 2 * DAY,
    jitterMs: 2 * DAY,
    lateShare: 0,
    duplicateShare: 0.02,
  },
  {
    name: 'shuffled beyond grace, late events',
    gracePeriodMs: DAY,
    jitterMs: DAY,
    lateShare: 0.03,
    duplicateShare: 0.02,
  },
  { name: 'shuffled, grace 0', gracePeriodMs: 0, jitterMs: 3 * DAY, lateShare: 0, duplicateShare: 0.02 },
];

/** Simulated journeys plus identity merges between known customers (the simulator only links anonymous ids). */
function journeys(): Touchpoint[] {
  const events = simulate({ customers: 5000, seed: 7, days: 365, start: DEFAULT_START });
  const rand = seededRandom(11);
  const extra: Touchpoint[] = [];
  for (let i = 0; i + 1 < 5000; i += 37) {
    const at = DEFAULT_START + Math.floor(rand() * 365 * DAY);
    extra.push({
      eventId: `alias-${i}`,
      type: 'Aliased',
      customerId: `cust-7-${i}`,
      occurredAt: at,
      receivedAt: at,
      source: { kind: 'api', name: 'golden' },
      payload: { previousId: `cust-7-${i + 1}` },
    });
  }
  return [...events, ...extra].sort(
    (a, b) => a.occurredAt - b.occurredAt || (a.eventId < b.eventId ? -1 : 1),
  );
}

/** The arrival order for a scenario: jittered, some late, some delivered twice. Deterministic. */
function arrivals(events: readonly Touchpoint[], scenario: Scenario): Touchpoint[] {
  const rand = seededRandom(23);
  const keyed: { key: number; n: number; tp: Touchpoint }[] = [];
  events.forEach((tp, n) => {
    let key = tp.occurredAt;
    if (scenario.jitterMs > 0) key += rand() * scenario.jitterMs;
    if (rand() < scenario.lateShare) key += 10 * DAY * (1 + rand());
    keyed.push({ key, n, tp });
    if (rand() < scenario.duplicateShare) keyed.push({ key: key + rand() * 5 * DAY, n, tp });
  });
  keyed.sort((a, b) => a.key - b.key || a.n - b.n);
  return keyed.map((k) => k.tp);
}

/** Object keys sorted: a state's JSON key order is not part of its meaning. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object')
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  return value;
}

const SNAPSHOT_FIELDS = (CONTRACTS.customerSnapshot.avro.fields as readonly { name: string }[]).map(
  (f) => f.name,
);

/**
 * A snapshot's fields in the contract's order, as its topic holds them (Avro writes by the schema): the
 * digest is of what the snapshot says, not of the order toSnapshot happens to set its keys in. A key the
 * contract does not have fails the run rather than dropping out of the digest.
 */
function inContractOrder(snapshot: CustomerSnapshot): Record<string, unknown> {
  const fields = snapshot as unknown as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((k) => !SNAPSHOT_FIELDS.includes(k));
  if (unknown.length > 0)
    throw new Error(`snapshot fields the contract does not have: ${unknown.join(', ')}`);
  return Object.fromEntries(
    SNAPSHOT_FIELDS.filter((k) => fields[k] !== undefined).map((k) => [k, fields[k]]),
  );
}

/** One output of a run: its records as JSON text, and the digest over them. */
class Stream {
  readonly records: string[] = [];
  private readonly hash = createHash('sha256');
  write(value: unknown): void {
    const json = JSON.stringify(value);
    this.records.push(json);
    this.hash.update(json);
    this.hash.update('\n');
  }
  digest(): string {
    return this.hash.digest('hex').slice(0, 16);
  }
}

interface Run {
  readonly digests: Record<string, string>;
  readonly output: FoldOutput;
  /** For each record of the log, the index in the input of the touchpoint ingested last before it. */
  readonly logAfter: number[];
}

function run(model: StageModel, scenario: Scenario, input: readonly Touchpoint[]): Run {
  const log = new Stream();
  const changes = new Stream();
  const states = new Stream();
  const logAfter: number[] = [];
  let ingested = -1;
  const writeLog = (value: unknown): void => {
    log.write(value);
    logAfter.push(ingested);
  };
  const rand = seededRandom(31);
  let p = new PartitionLifecycle(model, { gracePeriodMs: scenario.gracePeriodMs });
  let stageChanges = 0;
  // Hashed per customer, in sequence: the order across customers is not defined (replay.ts canonicalOrder).
  const emitted: StageChanged[] = [];
  const drainOutput = (): void => {
    const out = p.takeOutput();
    stageChanges += out.stageChanges.length;
    for (const c of out.stageChanges) emitted.push(c);
    writeLog({
      changed: [...out.changed],
      removed: [...out.removed.keys()],
      redirected: [...out.redirected],
      messages: out.messages,
    });
  };
  input.forEach((tp, i) => {
    ingested = i;
    writeLog(p.ingest(tp));
    if (i % 997 === 0 && tp.customerId !== undefined)
      p.setProbabilityAlive(tp.customerId, rand() < 0.5 ? 0.1 : 0.8);
    if (i % 13 === 0) drainOutput();
    if (i === Math.floor(input.length / 2)) {
      // What the runtime does on a rebalance: persist, then restore from the JSON changelog.
      drainOutput();
      const checkpoint = JSON.parse(JSON.stringify(p.checkpoint())) as PartitionCheckpoint;
      writeLog(checkpoint);
      const customers = [...p.customers.values()].map((s) => JSON.parse(JSON.stringify(s)) as CustomerState);
      p = new PartitionLifecycle(model, p.options, { checkpoint, customers });
    }
  });
  drainOutput();
  p.flush();
  drainOutput();
  writeLog({ watermark: p.watermark, checkpoint: p.checkpoint(), counters: p.counters });
  for (const c of canonicalOrder(emitted)) changes.write(c);
  for (const id of [...p.customers.keys()].sort()) {
    const s = p.customers.get(id)!;
    states.write(inContractOrder(toSnapshot(s, model)));
    states.write(canonical(s));
  }
  return {
    digests: {
      scenario: scenario.name,
      stageChanges: String(stageChanges),
      counters: JSON.stringify(p.counters),
      log: log.digest(),
      changes: changes.digest(),
      states: states.digest(),
    },
    output: { log: log.records, changes: changes.records, states: states.records },
    logAfter,
  };
}

/** The digests; each regeneration says in its commit what changed and why (git log -p of this file). */
const GOLDEN: Record<string, Record<string, string>[]> = {
  'five-stage': [
    {
      scenario: 'in order, grace 0',
      stageChanges: '12816',
      counters:
        '{"accepted":13580,"applied":13580,"duplicates":294,"ignored":57,"late":0,"lateBehindCustomer":0,"lateBehindInactivity":0,"clamped":0,"unopenedLane":0,"lanesExpired":0,"merges":866,"stageChanges":5802,"identityConflicts":0,"forwarded":0,"handoffsMissing":0}',
      log: '4f55d07920fff998',
      changes: 'b2ed989bb3041f9a',
      states: '17b98f30b187b4fb',
    },
    {
      scenario: 'shuffled within grace',
      stageChanges: '12818',
      counters:
        '{"accepted":13591,"applied":13695,"duplicates":255,"ignored":59,"late":0,"lateBehindCustomer":0,"lateBehindInactivity":0,"clamped":0,"unopenedLane":0,"lanesExpired":0,"merges":877,"stageChanges":5859,"identityConflicts":0,"forwarded":0,"handoffsMissing":0}',
      log: '95a608bae63a7ad7',
      changes: 'e5ed811f2b230ba0',
      states: '2bb7f5bb259e3437',
    },
    {
      scenario: 'shuffled beyond grace, late events',
      stageChanges: '12768',
      counters:
        '{"accepted":13594,"applied":13652,"duplicates":272,"ignored":57,"late":300,"lateBehindCustomer":298,"lateBehindInactivity":2,"clamped":0,"unopenedLane":0,"lanesExpired":0,"merges":863,"stageChanges":5810,"identityConflicts":0,"forwarded":0,"handoffsMissing":0}',
      log: 'a4cae8f7255efdb3',
      changes: '0bc701fa79e45ce5',
      states: '27ac7ccaa5d60de1',
    },
    {
      scenario: 'shuffled, grace 0',
      stageChanges: '12135',
      counters:
        '{"accepted":13591,"applied":13591,"duplicates":255,"ignored":59,"late":3155,"lateBehindCustomer":3151,"lateBehindInactivity":4,"clamped":0,"unopenedLane":0,"lanesExpired":0,"merges":613,"stageChanges":5508,"identityConflicts":0,"forwarded":0,"handoffsMissing":0}',
      log: '2e17d4ede00a2756',
      changes: '1110ed1b00c5cae5',
      states: '7ac00b2dcb75b2d5',
    },
  ],
  'six-stage': [
    {
      scenario: 'in order, grace 0',
      stageChanges: '15742',
      counters:
        '{"accepted":13580,"applied":13580,"duplicates":294,"ignored":57,"late":0,"lateBehindCustomer":0,"lateBehindInactivity":0,"clamped":0,"unopenedLane":0,"lanesExpired":0,"merges":866,"stageChanges":6929,"identityConflicts":0,"forwarded":0,"handoffsMissing":0}',
      log: 'b035ed4f0cdc6894',
      changes: '8200640d7919b1ec',
      states: 'a39acfa53768e20f',
    },
    {
      scenario: 'shuffled within grace',
      stageChanges: '15746',
      counters:
        '{"accepted":13591,"applied":13695,"duplicates":255,"ignored":59,"late":0,"lateBehindCustomer":0,"lateBehindInactivity":0,"clamped":0,"unopenedLane":0,"lanesExpired":0,"merges":877,"stageChanges":7003,"identityConflicts":0,"forwarded":0,"handoffsMissing":0}',
      log: '3248935c31955139',
      changes: 'bda6765be1951752',
      states: '046ec5fc68191c78',
    },
    {
      scenario: 'shuffled beyond grace, late events',
      stageChanges: '15627',
      counters:
        '{"accepted":13594,"applied":13652,"duplicates":272,"ignored":57,"late":300,"lateBehindCustomer":298,"lateBehindInactivity":2,"clamped":0,"unopenedLane":0,"lanesExpired":0,"merges":863,"stageChanges":6920,"identityConflicts":0,"forwarded":0,"handoffsMissing":0}',
      log: 'b0ad8c3c24989010',
      changes: '70a178114e3dae3b',
      states: '7886267fdd58e33d',
    },
    {
      scenario: 'shuffled, grace 0',
      stageChanges: '14289',
      counters:
        '{"accepted":13591,"applied":13591,"duplicates":255,"ignored":59,"late":3155,"lateBehindCustomer":3151,"lateBehindInactivity":4,"clamped":0,"unopenedLane":0,"lanesExpired":0,"merges":613,"stageChanges":6336,"identityConflicts":0,"forwarded":0,"handoffsMissing":0}',
      log: 'ef1abc69e6f95d6a',
      changes: '90ed2aa2d6e422b3',
      states: 'fcb0ee864ae1b60d',
    },
  ],
  'four-stage': [
    {
      scenario: 'in order, grace 0',
      stageChanges: '11136',
      counters:
        '{"accepted":13580,"applied":13580,"duplicates":294,"ignored":57,"late":0,"lateBehindCustomer":0,"lateBehindInactivity":0,"clamped":0,"unopenedLane":0,"lanesExpired":0,"merges":866,"stageChanges":5224,"identityConflicts":0,"forwarded":0,"handoffsMissing":0}',
      log: 'caebd790db674365',
      changes: 'd5f6b1b1d84e6d9e',
      states: '78b3db9b06381fee',
    },
    {
      scenario: 'shuffled within grace',
      stageChanges: '11136',
      counters:
        '{"accepted":13591,"applied":13695,"duplicates":255,"ignored":59,"late":0,"lateBehindCustomer":0,"lateBehindInactivity":0,"clamped":0,"unopenedLane":0,"lanesExpired":0,"merges":877,"stageChanges":5271,"identityConflicts":0,"forwarded":0,"handoffsMissing":0}',
      log: '8b1d73e7ad4aaff8',
      changes: 'd5f6b1b1d84e6d9e',
      states: 'e4789aea5d10ecc8',
    },
    {
      scenario: 'shuffled beyond grace, late events',
      stageChanges: '11127',
      counters:
        '{"accepted":13594,"applied":13652,"duplicates":272,"ignored":57,"late":300,"lateBehindCustomer":298,"lateBehindInactivity":2,"clamped":0,"unopenedLane":0,"lanesExpired":0,"merges":863,"stageChanges":5249,"identityConflicts":0,"forwarded":0,"handoffsMissing":0}',
      log: 'f8acdffda50a7d37',
      changes: '4e9ce6a6c64ba9b4',
      states: 'e74a7deefee43f40',
    },
    {
      scenario: 'shuffled, grace 0',
      stageChanges: '10516',
      counters:
        '{"accepted":13591,"applied":13591,"duplicates":255,"ignored":59,"late":3160,"lateBehindCustomer":3151,"lateBehindInactivity":9,"clamped":0,"unopenedLane":0,"lanesExpired":0,"merges":613,"stageChanges":4960,"identityConflicts":0,"forwarded":0,"handoffsMissing":0}',
      log: 'e700327b79f44cde',
      changes: '99dbf429b8aa71a4',
      states: '0640839117e834b5',
    },
  ],
};

/**
 * Why the runs no longer match GOLDEN[id]: the digests that changed in each scenario, then the first record
 * that differs in each output of the first scenario that changed, when this machine kept its output.
 */
function mismatchReport(id: string, runs: readonly (Run & { input: readonly Touchpoint[] })[]): string {
  const expected = GOLDEN[id]!;
  const changed = runs.flatMap((r, i) => (isDeepStrictEqual(r.digests, expected[i]) ? [] : [i]));
  const sections = [
    `${id}: the fold's output no longer matches its golden digests.`,
    ...changed.map((i) => digestDifferences(expected[i]!, runs[i]!.digests)),
  ];
  const first = changed[0]!;
  const stored = storedGoldenOutput<FoldOutput[]>(`fold-golden-${id}`, expected)?.[first];
  sections.push(
    stored
      ? foldDifferences({
          label: `${id}, ${expected[first]!.scenario}`,
          expected: stored,
          actual: runs[first]!.output,
          logAfter: runs[first]!.logAfter,
          input: runs[first]!.input,
        })
      : 'This machine has not kept the output the digests were made from, so the records that differ cannot ' +
          'be shown: run this test once where it passes (before your change), then here again.',
  );
  sections.push(
    'Only for an intended change of behaviour: `CICLO_PRINT_GOLDEN=1 npx jest --selectProjects unit ' +
      '--testPathPatterns fold-golden` prints the new digests.',
  );
  return sections.join('\n\n');
}

describe('lifecycle fold golden output', () => {
  const events = journeys();
  for (const id of PRESET_IDS) {
    it(`${id}: byte-identical stage changes, snapshots and state`, () => {
      const model = presetModel(id);
      const runs = SCENARIOS.map((s) => {
        const input = arrivals(events, s);
        return { ...run(model, s, input), input };
      });
      const got = runs.map((r) => r.digests);
      if (process.env.CICLO_PRINT_GOLDEN) process.stdout.write(`${JSON.stringify({ [id]: got })}\n`);
      if (!isDeepStrictEqual(got, GOLDEN[id])) throw new Error(mismatchReport(id, runs));
      keepGoldenOutput(
        `fold-golden-${id}`,
        GOLDEN[id],
        runs.map((r) => r.output),
      );
    });
  }
});
