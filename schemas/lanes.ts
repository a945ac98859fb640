/**
 * Lanes: how the touchpoint topic tells the processor which source a record comes from, so that sources with
 * different progress in event time do not move each other's clocks (docs/event-time.md).
 *
 * Live traffic (collector, webhooks, simulate) is the live lane: records without LANE_HEADER. Each import run
 * is a lane of its own: every record it writes carries LANE_HEADER with the run's id, and the run writes
 * one control record to every partition of the topic before its first touchpoint (`open`, with the earliest
 * event time it will write) and one after its last (`close`). An import produces in event-time order, so a
 * lane's watermark is the newest event time it has written; the processor applies touchpoints up to the
 * lowest watermark of the lanes that are open, as Apache Flink does with a watermark per source split
 * ("Watermarks in Parallel Streams", Flink docs: the operator's event time is the minimum over its inputs).
 *
 * A control record has the key LANE_CONTROL_KEY, no value and the headers below; readers of touchpoints
 * skip it by `isLaneControl` before decoding anything.
 */
/** A record's headers, as the Kafka adapter gives them (infra/kafka/types.ts `MessageHeaders`). */
type MessageHeaders = Readonly<Record<string, string>>;

/** On every record of an import run, and on its control records: the run's id. */
export const LANE_HEADER = 'ciclo-lane';
/** On a control record: 'open' or 'close'. */
export const LANE_CONTROL_HEADER = 'ciclo-lane-control';
/** On an 'open' control record: the earliest event time the run writes, in milliseconds since the epoch. */
export const LANE_START_HEADER = 'ciclo-lane-start';
/** The key of control records (no touchpoint has it: its customer id would be empty of meaning). */
export const LANE_CONTROL_KEY = '__ciclo-lane__';

/** A run id: what `ciclo import` prints and `ciclo import --abort` takes. */
const LANE_ID = /^[A-Za-z0-9._:-]{1,64}$/;

export type LaneControl =
  | { readonly kind: 'open'; readonly lane: string; readonly startsAt: number }
  | { readonly kind: 'close'; readonly lane: string };

/** Whether `id` is a well-formed lane (run) id. */
export function isLaneId(id: string): boolean {
  return LANE_ID.test(id);
}

/** A new run id: the time it started and a random suffix, so that two runs started together differ. */
export function newLaneId(now: number, random: () => number = Math.random): string {
  const stamp = new Date(now)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const suffix = Math.floor(random() * 36 ** 6)
    .toString(36)
    .padStart(6, '0');
  return `import-${stamp}-${suffix}`;
}

/** The headers of a control record. */
export function laneControlHeaders(control: LaneControl): Record<string, string> {
  return control.kind === 'open'
    ? {
        [LANE_HEADER]: control.lane,
        [LANE_CONTROL_HEADER]: 'open',
        [LANE_START_HEADER]: String(control.startsAt),
      }
    : { [LANE_HEADER]: control.lane, [LANE_CONTROL_HEADER]: 'close' };
}

/** Whether a record is a lane's control record (skip it before decoding its value). */
export function isLaneControl(headers: MessageHeaders): boolean {
  return headers[LANE_CONTROL_HEADER] !== undefined;
}

/**
 * The control a record's headers carry, or a reason it is malformed (a string), or undefined for a record
 * that is not a control record.
 */
export function laneControlOf(headers: MessageHeaders): LaneControl | string | undefined {
  const kind = headers[LANE_CONTROL_HEADER];
  if (kind === undefined) return undefined;
  const lane = headers[LANE_HEADER];
  if (lane === undefined || !isLaneId(lane))
    return `${LANE_HEADER} must be a run id (letters, digits, . _ : -; at most 64), got ${JSON.stringify(lane)}`;
  if (kind === 'close') return { kind, lane };
  if (kind !== 'open') return `${LANE_CONTROL_HEADER} must be open or close, got ${JSON.stringify(kind)}`;
  const startsAt = Number(headers[LANE_START_HEADER]);
  if (!Number.isSafeInteger(startsAt))
    return `${LANE_START_HEADER} must be milliseconds since the epoch, got ${JSON.stringify(headers[LANE_START_HEADER])}`;
  return { kind, lane, startsAt };
}

/** The lane of a touchpoint record: its run id, or undefined for the live lane. */
export function laneOf(headers: MessageHeaders): string | undefined {
  const lane = headers[LANE_HEADER];
  return lane !== undefined && isLaneId(lane) ? lane : undefined;
}

/**
 * The order of an import lane, and of the truth (`ciclo lifecycle replay` over a set): event time, then
 * event id, so that touchpoints of the same millisecond have one order wherever they are sorted.
 */
export function byEventTime(
  a: { readonly occurredAt: number; readonly eventId: string },
  b: { readonly occurredAt: number; readonly eventId: string },
): number {
  return a.occurredAt - b.occurredAt || (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0);
}
