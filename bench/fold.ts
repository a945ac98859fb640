/**
 * `npm run bench:fold`: the pure figures of `npm run bench` alone (lifecycle fold throughput and state size
 * per customer), needing no services, so the fold can be tuned in a quick loop. Each figure is the median of
 * several runs.
 */
import { performance } from 'node:perf_hooks';
import avro from 'avsc';
import { evolve, initialState, type CustomerState } from '../processors/domain/customer';
import { changelogJson } from '../processors/domain/customer-record';
import { loadModel } from '../processors/runtime/model-file';
import { PartitionLifecycle } from '../processors/domain/partition';
import { DEFAULT_START, simulate } from '../producers/simulate/simulate';
import { CONTRACTS } from '../schemas/contracts';
import { contractValueOf } from '../infra/registry/serde';
import type { Touchpoint } from '../schemas/touchpoint';
import { formatProblems } from '../schemas/validation';

export const RUNS = 3;
export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The touchpoints the fold figure is measured on: about 108k, sorted by event time as the simulator emits. */
export function foldBenchEvents(): Touchpoint[] {
  return simulate({ customers: 20_000, seed: 1, days: 365, start: DEFAULT_START });
}

/**
 * The same touchpoints as the processor's decoder hands them to the fold: written in Avro and read back
 * one after another, through the contract's own mapping and checks, as `schemas/serde.ts` decodes them
 * (less the registry's 5-byte header). So each is a fresh object with fresh strings, in log order and in
 * the reader schema's shape. (A zod parse, used before, returned the simulator's own strings, which the
 * fold then read scattered across the heap.)
 */
export function asDecoded(events: readonly Touchpoint[]): Touchpoint[] {
  const contract = CONTRACTS.touchpoint;
  const writer = avro.Type.forSchema(contract.avro as avro.Schema);
  const reader = avro.Type.forSchema(contract.avro as avro.Schema, { omitRecordMethods: true });
  const bodies = events.map((tp) => writer.toBuffer(contract.toAvro(tp)));
  return bodies.map((body, i) => {
    const checked = contractValueOf(contract, reader.fromBuffer(body) as Record<string, unknown>);
    if (!checked.ok) throw new Error(`touchpoint ${events[i]!.eventId}: ${formatProblems(checked.problems)}`);
    return checked.value;
  });
}

/**
 * How many touchpoints the fold takes between two `takeOutput` calls: the processor takes a partition's
 * output once per consumed batch (lifecycle-task.ts), and its batches hold a few hundred to a few thousand
 * touchpoints. Taking it only once at the end of 108k would keep ~50k stage changes alive through the whole
 * run, a cost (garbage collection copying them) that no processor has.
 */
export const FOLD_BATCH = 1000;

/**
 * Touchpoints per second through one partition's `ingest`, five-stage model, grace 0, the output taken
 * every FOLD_BATCH touchpoints as the processor takes it per batch, then flush and take the rest. One
 * untimed run first, so that the timed runs measure the optimized fold, as a processor that has been running
 * a while does, not the JIT compiling it.
 */
export function foldEventsPerSec(events: readonly Touchpoint[], runs = RUNS): number {
  const model = loadModel('five-stage');
  const rates: number[] = [];
  for (let r = -1; r < runs; r++) {
    const p = new PartitionLifecycle(model, { gracePeriodMs: 0 });
    const t = performance.now();
    for (let i = 0; i < events.length; i++) {
      p.ingest(events[i]!);
      if ((i + 1) % FOLD_BATCH === 0) p.takeOutput();
    }
    p.flush();
    p.takeOutput();
    if (r >= 0) rates.push(events.length / ((performance.now() - t) / 1000));
  }
  return median(rates);
}

/** The garbage collector, which the heap figures run before they read the heap. */
function exposedGc(): () => void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  return gc;
}

/** A page view of the heap figures' customers. */
function pageView(eventId: string, customerId: string, at: number, utmSource?: string): Touchpoint {
  return {
    eventId,
    type: 'PageViewed',
    customerId,
    occurredAt: at,
    receivedAt: at,
    source: { kind: 'api', name: 'b' },
    ...(utmSource !== undefined ? { context: { utmSource } } : {}),
    payload: {},
  };
}

/** Heap bytes per customer state after folding one purchase and one visit into each of n customers. */
export function stateBytesPerCustomer(n: number): number {
  const gc = exposedGc();
  gc();
  const before = process.memoryUsage().heapUsed;
  const states = new Map<string, ReturnType<typeof initialState>>();
  const at = DEFAULT_START;
  for (let i = 0; i < n; i++) {
    const id = `c${i}`;
    const s = initialState(id, 'reach', at);
    evolve(s, pageView(`v${i}`, id, at, 'ads'));
    evolve(s, {
      eventId: `p${i}`,
      type: 'PurchaseCompleted',
      customerId: id,
      occurredAt: at + 1000,
      receivedAt: at,
      source: { kind: 'api', name: 'b' },
      payload: { orderId: `o${i}`, lineItems: [], amountMinor: 1999, currency: 'USD' },
    });
    states.set(id, s);
  }
  gc();
  const bytes = (process.memoryUsage().heapUsed - before) / n;
  if (states.size !== n) throw new Error('lost states');
  return bytes;
}

/**
 * What a customer with a long history costs: heap bytes per customer once each of `customers` has had
 * `touchpoints` page views, and the changelog bytes the processor writes per touchpoint of such a customer
 * (its customer record, plus its archive of older event ids when that changed: lifecycle-task.ts), averaged
 * over its last 1,000 touchpoints. The headline state figure is of customers with two events.
 */
export function longHistoryFigures(
  customers = 2_000,
  touchpoints = 2_000,
): { stateBytesPerLongHistoryCustomer: number; changelogBytesPerTouchpointLongHistory: number } {
  const gc = exposedGc();
  gc();
  const before = process.memoryUsage().heapUsed;
  const states: CustomerState[] = [];
  let written = 0;
  let measured = 0;
  for (let c = 0; c < customers; c++) {
    const id = `long${c}`;
    const s = initialState(id, 'reach', DEFAULT_START);
    let archive = s.appliedArchive;
    for (let i = 0; i < touchpoints; i++) {
      evolve(s, pageView(`${id}-v${i}`, id, DEFAULT_START + i * 300_000)); // five minutes apart
      if (c === 0 && i >= touchpoints - 1000) {
        written +=
          changelogJson(s).length + (s.appliedArchive !== archive ? (s.appliedArchive?.length ?? 0) : 0);
        measured += 1;
      }
      archive = s.appliedArchive;
    }
    states.push(s);
  }
  gc();
  const bytes = (process.memoryUsage().heapUsed - before) / customers;
  if (states.length !== customers) throw new Error('lost states');
  return {
    stateBytesPerLongHistoryCustomer: bytes,
    changelogBytesPerTouchpointLongHistory: written / measured,
  };
}

/**
 * The two fold figures. The headline is measured on decoded touchpoints, because that is what the
 * processor's fold sees: objects the decoder builds in log order, so the fold reads them in the order they
 * were allocated. The simulator builds its touchpoints customer by customer and then sorts them by time, so
 * the fold reads them scattered across the heap; that costs it about a tenth (the same envelopes allocated
 * again in time order fold as fast as decoded ones), and no consumer of Kafka or of `lifecycle replay`
 * (JSON, read in order too) sees that layout. The headline used to be the simulator-object figure.
 */
export function foldFigures(events: readonly Touchpoint[]): {
  foldEventsPerSecPerCore: number;
  foldEventsPerSecSimulatorTouchpoints: number;
} {
  return {
    foldEventsPerSecPerCore: foldEventsPerSec(asDecoded(events)),
    foldEventsPerSecSimulatorTouchpoints: foldEventsPerSec(events),
  };
}

function main(): void {
  const events = foldBenchEvents();
  const fold = foldFigures(events);
  const rows: [string, number][] = [
    ['foldEventsPerSecPerCore', fold.foldEventsPerSecPerCore],
    ['foldEventsPerSecSimulatorTouchpoints', fold.foldEventsPerSecSimulatorTouchpoints],
    ['foldEvents', events.length],
    ['stateBytesPerCustomer', stateBytesPerCustomer(1_000_000)],
    ...Object.entries(longHistoryFigures()),
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  process.stdout.write(rows.map(([k, v]) => `${k.padEnd(width)}  ${Math.round(v)}\n`).join(''));
}

if (require.main === module) main();
