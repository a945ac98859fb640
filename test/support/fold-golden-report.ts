/**
 * What the lifecycle fold's golden test (processors/domain/fold-golden.unit.spec.ts) prints when its output
 * no longer matches: the first record that differs in each of its three outputs, readable. A stage change
 * or a customer's state is shown for the whole customer, expected against actual, with the customer's
 * journey (the touchpoints that came in for it); a log record with the touchpoint ingested last before it.
 */
import type { StageChanged } from '../../schemas/outputs';
import type { Touchpoint } from '../../schemas/touchpoint';

/** A golden run's output: one JSON text per record, in the order the digests hash them. */
export interface FoldOutput {
  /** Every ingest outcome, the output drained in between, the checkpoint, the final counters: in arrival order. */
  readonly log: readonly string[];
  /** Every stage change, by customer and sequence. */
  readonly changes: readonly string[];
  /** Each customer's snapshot, then its full state, by customer id. */
  readonly states: readonly string[];
}

export interface FoldRun {
  readonly label: string;
  readonly expected: FoldOutput;
  readonly actual: FoldOutput;
  /** For each log record, the index in `input` of the touchpoint ingested last before it (-1: none). */
  readonly logAfter: readonly number[];
  /** The touchpoints in arrival order. */
  readonly input: readonly Touchpoint[];
}

/** Lines shown of a customer's stage changes, state differences or journey; the rest are counted. */
const SHOWN_LINES = 24;
/** Lines kept around each difference; longer runs of lines both sides share are folded. */
const CONTEXT = 3;

const iso = (ms: number): string => new Date(ms).toISOString();

function firstDifferentIndex(expected: readonly string[], actual: readonly string[]): number | undefined {
  const n = Math.max(expected.length, actual.length);
  for (let i = 0; i < n; i++) if (expected[i] !== actual[i]) return i;
  return undefined;
}

/**
 * A line diff (longest common subsequence): lines both sides have are shown once, the others as expected
 * (-) and actual (+), with runs of shared lines folded to CONTEXT lines around each difference.
 */
function lineDiff(expected: readonly string[], actual: readonly string[]): string[] {
  const common: number[][] = Array.from({ length: expected.length + 1 }, () =>
    new Array<number>(actual.length + 1).fill(0),
  );
  for (let i = expected.length - 1; i >= 0; i--)
    for (let j = actual.length - 1; j >= 0; j--)
      common[i]![j] =
        expected[i] === actual[j]
          ? common[i + 1]![j + 1]! + 1
          : Math.max(common[i + 1]![j]!, common[i]![j + 1]!);
  const ops: { kind: ' ' | '-' | '+'; line: string }[] = [];
  let i = 0;
  let j = 0;
  while (i < expected.length || j < actual.length) {
    if (i < expected.length && j < actual.length && expected[i] === actual[j]) {
      ops.push({ kind: ' ', line: expected[i++]! });
      j++;
    } else if (j >= actual.length || (i < expected.length && common[i + 1]![j]! >= common[i]![j + 1]!)) {
      ops.push({ kind: '-', line: expected[i++]! });
    } else {
      ops.push({ kind: '+', line: actual[j++]! });
    }
  }
  const near = (k: number): boolean =>
    ops.slice(Math.max(0, k - CONTEXT), k + CONTEXT + 1).some((o) => o.kind !== ' ');
  const lines: string[] = [];
  let folded = 0;
  ops.forEach((o, k) => {
    if (o.kind === ' ' && !near(k)) {
      folded++;
      return;
    }
    if (folded > 0) lines.push(`    ... ${folded} the same`);
    folded = 0;
    lines.push(`  ${o.kind} ${o.line}`);
  });
  if (folded > 0) lines.push(`    ... ${folded} the same`);
  return lines;
}

function limited(lines: readonly string[]): string[] {
  return lines.length <= SHOWN_LINES
    ? [...lines]
    : [...lines.slice(0, SHOWN_LINES), `    ... ${lines.length - SHOWN_LINES} more`];
}

function stageChangeLine(c: StageChanged): string {
  const triggers = c.triggeringEventIds.length > 0 ? ` by ${c.triggeringEventIds.join(', ')}` : '';
  return `#${c.sequence} ${c.fromStage ?? '(none)'} -> ${c.toStage} (${c.ruleId}) at ${iso(c.occurredAt)}${triggers}${c.reason ? `: ${c.reason}` : ''}`;
}

/** The records of one customer in a stream ordered by customer. */
function customerRecords(
  records: readonly string[],
  customerId: string,
  idOf: (r: string) => string,
): string[] {
  return records.filter((r) => idOf(r) === customerId);
}

/** Every touchpoint that came in for the customer, under any of its ids. */
function journeyLines(input: readonly Touchpoint[], ids: ReadonlySet<string>): string[] {
  const mine = input.filter(
    (tp) =>
      (tp.customerId !== undefined && ids.has(tp.customerId)) ||
      (tp.anonymousId !== undefined && ids.has(tp.anonymousId)) ||
      (tp.type === 'Aliased' && ids.has(tp.payload.previousId)),
  );
  return mine.map(
    (tp) =>
      `${iso(tp.occurredAt)} ${tp.type} ${tp.eventId} (${[tp.customerId, tp.anonymousId].filter(Boolean).join(', ')})`,
  );
}

function idsOf(customerId: string, states: readonly string[]): Set<string> {
  const ids = new Set([customerId]);
  for (const r of states) {
    const s = JSON.parse(r) as { customerId?: string; id?: string; mergedIds?: string[] };
    if ((s.customerId ?? s.id) === customerId) for (const id of s.mergedIds ?? []) ids.add(id);
  }
  return ids;
}

/** The customer's journey, unless `shown` says it was printed already. */
function journey(run: FoldRun, customerId: string, shown: Set<string>): string[] {
  if (shown.has(customerId)) return [`  journey of ${customerId}: above`];
  shown.add(customerId);
  const ids = idsOf(customerId, [...run.expected.states, ...run.actual.states]);
  return [
    `  journey of ${customerId} (${[...ids].join(', ')}), in arrival order:`,
    ...limited(journeyLines(run.input, ids)).map((l) => `    ${l}`),
  ];
}

const customerOfChange = (r: string): string => (JSON.parse(r) as StageChanged).customerId;
const customerOfState = (r: string): string => {
  const s = JSON.parse(r) as { customerId?: string; id?: string };
  return s.customerId ?? s.id ?? '';
};

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** What two lists of plain values differ in: the values only one side has, or the order. */
function listDifference(expected: readonly unknown[], actual: readonly unknown[]): string {
  const text = (v: unknown): string => JSON.stringify(v);
  const had = new Set(expected.map(text));
  const has = new Set(actual.map(text));
  const missing = [...had].filter((v) => !has.has(v));
  const added = [...has].filter((v) => !had.has(v));
  if (missing.length + added.length === 0) return `the same ${expected.length} values, in another order`;
  return [
    missing.length > 0 ? `without ${missing.join(', ')}` : '',
    added.length > 0 ? `with ${added.join(', ')}` : '',
  ]
    .filter(Boolean)
    .join(', and ');
}

/** Field paths whose values differ, as `path: expected -> actual` (lists: what one side lacks). */
function fieldDifferences(expected: unknown, actual: unknown, at = ''): string[] {
  if (JSON.stringify(expected) === JSON.stringify(actual)) return [];
  const where = at || '(the record)';
  if (isObject(expected) && isObject(actual)) {
    const keys = [...new Set([...Object.keys(expected), ...Object.keys(actual)])].sort();
    return keys.flatMap((k) => fieldDifferences(expected[k], actual[k], at ? `${at}.${k}` : k));
  }
  const plain = (v: unknown): boolean => !isObject(v) && !Array.isArray(v);
  if (Array.isArray(expected) && Array.isArray(actual)) {
    const lists: readonly unknown[][] = [expected, actual];
    if (lists.every((l) => l.every(plain))) return [`${where}: ${listDifference(expected, actual)}`];
  }
  return [`${where}: ${JSON.stringify(expected)} -> ${JSON.stringify(actual)}`];
}

/**
 * The customer whose records differ first: records are ordered by customer, so where the two sides hold
 * different customers at the first difference, the first of the two is the one with records missing.
 */
function differingCustomer(
  index: number,
  expected: readonly string[],
  actual: readonly string[],
  idOf: (r: string) => string,
): string {
  const ids = [expected[index], actual[index]].filter((r) => r !== undefined).map(idOf);
  return ids.sort()[0]!;
}

function changesDifference(run: FoldRun, index: number, shown: Set<string>): string[] {
  const customerId = differingCustomer(index, run.expected.changes, run.actual.changes, customerOfChange);
  const format = (records: readonly string[]): string[] =>
    customerRecords(records, customerId, customerOfChange).map((r) =>
      stageChangeLine(JSON.parse(r) as StageChanged),
    );
  return [
    `${run.label}: the stage changes of ${customerId} differ (record ${index}); expected (-), actual (+):`,
    ...limited(lineDiff(format(run.expected.changes), format(run.actual.changes))),
    ...journey(run, customerId, shown),
  ];
}

function statesDifference(run: FoldRun, index: number, shown: Set<string>): string[] {
  const customerId = differingCustomer(index, run.expected.states, run.actual.states, customerOfState);
  const pick = (records: readonly string[]): unknown[] =>
    customerRecords(records, customerId, customerOfState).map((r) => JSON.parse(r) as unknown);
  const [expectedSnapshot, expectedState] = pick(run.expected.states);
  const [actualSnapshot, actualState] = pick(run.actual.states);
  return [
    `${run.label}: the state of ${customerId} differs (record ${index}); expected -> actual:`,
    ...limited([
      ...fieldDifferences(expectedSnapshot, actualSnapshot).map((d) => `    snapshot ${d}`),
      ...fieldDifferences(expectedState, actualState).map((d) => `    state ${d}`),
    ]),
    ...journey(run, customerId, shown),
  ];
}

/** A touchpoint in a line: its place in the input, id, type, customer and event time. */
function touchpointLine(run: FoldRun, at: number): string {
  const tp = run.input[at];
  if (!tp) return 'before any touchpoint';
  return `#${at} ${tp.eventId} (${tp.type}, ${tp.customerId ?? tp.anonymousId ?? 'no customer'} at ${iso(tp.occurredAt)})`;
}

function logDifference(run: FoldRun, index: number): string[] {
  const parse = (r: string | undefined): unknown =>
    r === undefined ? undefined : (JSON.parse(r) as unknown);
  const record = parse(run.actual.log[index] ?? run.expected.log[index]);
  const after = run.logAfter[index] ?? run.input.length - 1;
  // An ingest's outcome is a plain string; the output drained, the checkpoint and the final counters are objects.
  const what =
    typeof record === 'string'
      ? `the outcome of ingesting ${touchpointLine(run, after)}`
      : `written after ingesting ${touchpointLine(run, after)}`;
  return [
    `${run.label}: the log differs at record ${index}, ${what}; expected -> actual:`,
    ...limited(
      fieldDifferences(parse(run.expected.log[index]), parse(run.actual.log[index])).map((d) => `    ${d}`),
    ),
  ];
}

/** The first difference in each output of the run, readable; empty when the outputs are the same. */
export function foldDifferences(run: FoldRun): string {
  const sections: string[][] = [];
  const shown = new Set<string>();
  const changes = firstDifferentIndex(run.expected.changes, run.actual.changes);
  if (changes !== undefined) sections.push(changesDifference(run, changes, shown));
  const states = firstDifferentIndex(run.expected.states, run.actual.states);
  if (states !== undefined) sections.push(statesDifference(run, states, shown));
  const log = firstDifferentIndex(run.expected.log, run.actual.log);
  if (log !== undefined) sections.push(logDifference(run, log));
  return sections.map((s) => s.join('\n')).join('\n\n');
}

/** A run's digests, expected against actual: the counts, each counter and each output's digest that changed. */
export function digestDifferences(
  expected: Readonly<Record<string, string>>,
  actual: Readonly<Record<string, string>>,
): string {
  const lines = [`${expected.scenario}:`];
  for (const [key, want] of Object.entries(expected)) {
    const got = actual[key];
    if (key === 'scenario' || want === got) continue;
    if (key === 'counters') {
      const wantCounters = JSON.parse(want) as Record<string, number>;
      const gotCounters = JSON.parse(got ?? '{}') as Record<string, number>;
      for (const c of Object.keys({ ...wantCounters, ...gotCounters }))
        if (wantCounters[c] !== gotCounters[c])
          lines.push(`  counters.${c}: ${wantCounters[c]} -> ${gotCounters[c]}`);
    } else {
      lines.push(`  ${key}: ${want} -> ${got}`);
    }
  }
  return lines.join('\n');
}
