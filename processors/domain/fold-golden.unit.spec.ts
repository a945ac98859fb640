/**
 * Golden output of the lifecycle fold. The fold is tuned for speed, and the exactly-once integration tests
 * compare the runtime's output with `lifecycle replay`, so any drift in what it emits is a bug. Each scenario
 * folds simulated journeys (plus injected aliases, duplicates, CLV P(alive) updates, a checkpoint/restore
 * round trip, and for some shuffled, late input) and hashes everything observable: every ingest outcome,
 * every stage change in emitted order, the changed/removed sets in order, the checkpoint, the counters, each
 * customer's snapshot and full state. The expected digests were generated from the fold before it was
 * optimized; a mismatch means the fold's behaviour changed. Only for an intended change of behaviour,
 * print new digests with `CICLO_PRINT_GOLDEN=1 npx jest --selectProjects unit --testPathPatterns fold-golden`.
 */
import { createHash } from 'node:crypto';
import { DEFAULT_START, seededRandom, simulate } from '../../producers/simulate/simulate';
import type { Touchpoint } from '../../schemas/touchpoint';
import { toSnapshot, type CustomerState } from './customer';
import { loadModel, PRESET_IDS, type StageModel } from './model';
import { PartitionLifecycle, type PartitionCheckpoint } from './partition';

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

function run(model: StageModel, scenario: Scenario, input: readonly Touchpoint[]): Record<string, string> {
  const log = createHash('sha256');
  const changes = createHash('sha256');
  const states = createHash('sha256');
  const write = (h: ReturnType<typeof createHash>, v: unknown): void => {
    h.update(JSON.stringify(v));
    h.update('\n');
  };
  const rand = seededRandom(31);
  let p = new PartitionLifecycle(model, { gracePeriodMs: scenario.gracePeriodMs });
  let stageChanges = 0;
  const drainOutput = (): void => {
    const out = p.takeOutput();
    stageChanges += out.stageChanges.length;
    for (const c of out.stageChanges) write(changes, c);
    write(log, { changed: [...out.changed], removed: [...out.removed] });
  };
  input.forEach((tp, i) => {
    write(log, p.ingest(tp));
    if (i % 997 === 0 && tp.customerId !== undefined)
      p.setProbabilityAlive(tp.customerId, rand() < 0.5 ? 0.1 : 0.8);
    if (i % 13 === 0) drainOutput();
    if (i === Math.floor(input.length / 2)) {
      // What the runtime does on a rebalance: persist, then restore from the JSON changelog.
      drainOutput();
      const checkpoint = JSON.parse(JSON.stringify(p.checkpoint())) as PartitionCheckpoint;
      write(log, checkpoint);
      const customers = [...p.customers.values()].map((s) => JSON.parse(JSON.stringify(s)) as CustomerState);
      p = new PartitionLifecycle(model, p.options, { checkpoint, customers });
    }
  });
  drainOutput();
  p.flush();
  drainOutput();
  write(log, { watermark: p.watermark, checkpoint: p.checkpoint(), counters: p.counters });
  for (const id of [...p.customers.keys()].sort()) {
    const s = p.customers.get(id)!;
    write(states, toSnapshot(s, model));
    write(states, canonical(s));
  }
  return {
    scenario: scenario.name,
    stageChanges: String(stageChanges),
    counters: JSON.stringify(p.counters),
    log: log.digest('hex').slice(0, 16),
    changes: changes.digest('hex').slice(0, 16),
    states: states.digest('hex').slice(0, 16),
  };
}

/** Generated from the fold at commit "fold golden test" (before the speed work); see the header. */
const GOLDEN: Record<string, Record<string, string>[]> = {
  'five-stage': [
    {
      scenario: 'in order, grace 0',
      stageChanges: '12846',
      counters:
        '{"accepted":13580,"applied":13580,"duplicates":294,"ignored":57,"late":0,"merges":866,"stageChanges":5832}',
      log: '5584d548181b9468',
      changes: '1461f1fb00f9991f',
      states: '7f565b895b683647',
    },
    {
      scenario: 'shuffled within grace',
      stageChanges: '12848',
      counters:
        '{"accepted":13591,"applied":13695,"duplicates":255,"ignored":59,"late":0,"merges":877,"stageChanges":5889}',
      log: 'c58b950e0a012815',
      changes: 'fbe6642e88456ff8',
      states: 'ce806438e7eed2d8',
    },
    {
      scenario: 'shuffled beyond grace, late events',
      stageChanges: '12799',
      counters:
        '{"accepted":13594,"applied":13652,"duplicates":272,"ignored":57,"late":297,"merges":863,"stageChanges":5841}',
      log: '02cf6de0401124bb',
      changes: 'f02e3092e5505083',
      states: '48822d7419776df5',
    },
    {
      scenario: 'shuffled, grace 0',
      stageChanges: '12170',
      counters:
        '{"accepted":13591,"applied":13591,"duplicates":255,"ignored":59,"late":3142,"merges":613,"stageChanges":5543}',
      log: '799b042592dfdac7',
      changes: 'bd5cef8dd8de9f9b',
      states: 'e749ed105bddad71',
    },
  ],
  'six-stage': [
    {
      scenario: 'in order, grace 0',
      stageChanges: '15777',
      counters:
        '{"accepted":13580,"applied":13580,"duplicates":294,"ignored":57,"late":0,"merges":866,"stageChanges":6964}',
      log: '7c30e369ea00f91b',
      changes: 'ebc143d4c2fa114e',
      states: '0630c64e5fa36f09',
    },
    {
      scenario: 'shuffled within grace',
      stageChanges: '15781',
      counters:
        '{"accepted":13591,"applied":13695,"duplicates":255,"ignored":59,"late":0,"merges":877,"stageChanges":7038}',
      log: '6a504f38321c9c6f',
      changes: '7b4bf13f96d3aee8',
      states: '521168a1efab6cce',
    },
    {
      scenario: 'shuffled beyond grace, late events',
      stageChanges: '15663',
      counters:
        '{"accepted":13594,"applied":13652,"duplicates":272,"ignored":57,"late":297,"merges":863,"stageChanges":6956}',
      log: 'ff447deeac880aa6',
      changes: '3b95f0474f4c3088',
      states: 'f02d3961e8c54f86',
    },
    {
      scenario: 'shuffled, grace 0',
      stageChanges: '14330',
      counters:
        '{"accepted":13591,"applied":13591,"duplicates":255,"ignored":59,"late":3142,"merges":613,"stageChanges":6377}',
      log: '16e3aa0012c9c5ef',
      changes: 'b1e299007cfefdd2',
      states: 'b005ce248dd5ed11',
    },
  ],
  'four-stage': [
    {
      scenario: 'in order, grace 0',
      stageChanges: '11169',
      counters:
        '{"accepted":13580,"applied":13580,"duplicates":294,"ignored":57,"late":0,"merges":866,"stageChanges":5257}',
      log: 'b300605837d754aa',
      changes: '4004d97e2e725c2e',
      states: '6527df2ec8873b29',
    },
    {
      scenario: 'shuffled within grace',
      stageChanges: '11169',
      counters:
        '{"accepted":13591,"applied":13695,"duplicates":255,"ignored":59,"late":0,"merges":877,"stageChanges":5304}',
      log: '53b7da9072edafb4',
      changes: '3fe347cb8c1dfaad',
      states: 'aa37639542a861d8',
    },
    {
      scenario: 'shuffled beyond grace, late events',
      stageChanges: '11161',
      counters:
        '{"accepted":13594,"applied":13652,"duplicates":272,"ignored":57,"late":297,"merges":863,"stageChanges":5283}',
      log: '4bb29ee05d6e8004',
      changes: 'd84ca92fe642eff5',
      states: '7d04b08e68e32066',
    },
    {
      scenario: 'shuffled, grace 0',
      stageChanges: '10554',
      counters:
        '{"accepted":13591,"applied":13591,"duplicates":255,"ignored":59,"late":3142,"merges":613,"stageChanges":4998}',
      log: '14eb45de12a55107',
      changes: '6cd662c87c66b0f2',
      states: '51bdeb8ef915591e',
    },
  ],
};

describe('lifecycle fold golden output', () => {
  const events = journeys();
  for (const id of PRESET_IDS) {
    it(`${id}: byte-identical stage changes, snapshots and state`, () => {
      const model = loadModel(id);
      const got = SCENARIOS.map((s) => run(model, s, arrivals(events, s)));
      if (process.env.CICLO_PRINT_GOLDEN) process.stdout.write(`${JSON.stringify({ [id]: got })}\n`);
      expect(got).toEqual(GOLDEN[id]);
    });
  }
});
