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
import { PRESET_IDS, type StageModel, presetModel } from './model';
import { PartitionLifecycle, type PartitionCheckpoint } from './partition';
import { canonicalOrder } from './replay';
import type { StageChanged } from '../../schemas/outputs';

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
  // Hashed per customer, in sequence: the order across customers is not defined (replay.ts canonicalOrder).
  const emitted: StageChanged[] = [];
  const drainOutput = (): void => {
    const out = p.takeOutput();
    stageChanges += out.stageChanges.length;
    for (const c of out.stageChanges) emitted.push(c);
    write(log, {
      changed: [...out.changed],
      removed: [...out.removed.keys()],
      redirected: [...out.redirected],
      messages: out.messages,
    });
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
  for (const c of canonicalOrder(emitted)) write(changes, c);
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

describe('lifecycle fold golden output', () => {
  const events = journeys();
  for (const id of PRESET_IDS) {
    it(`${id}: byte-identical stage changes, snapshots and state`, () => {
      const model = presetModel(id);
      const got = SCENARIOS.map((s) => run(model, s, arrivals(events, s)));
      if (process.env.CICLO_PRINT_GOLDEN) process.stdout.write(`${JSON.stringify({ [id]: got })}\n`);
      expect(got).toEqual(GOLDEN[id]);
    });
  }
});
