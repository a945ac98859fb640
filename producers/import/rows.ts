/**
 * What a row of an import file becomes, whatever the format, and the rules every format shares. Pure.
 *
 * Most rows carry their final event id and become a touchpoint at once. Some formats derive a row's id
 * from other rows too (cdnow numbers a customer's purchases of one day; a CSV without an id column numbers
 * identical rows): such a row is a draft, sorted with its group (the rows its id depends on) and given its
 * id once the whole group is together, after the sort (`DraftIds`). That keeps ids independent of the
 * file's order without holding every row in memory.
 */
import { CONTRACTS } from '../../schemas/contracts';
import { EVENT_TIME_AHEAD_TOLERANCE_MS, TouchpointSchema, type Touchpoint } from '../../schemas/touchpoint';
import { validateWith, type Validated } from '../../schemas/validation';

/** A row of the input: its line number (1-based, where it ends for a multi-line CSV record) and text. */
export interface SourceRow {
  readonly line: number;
  readonly text: string;
}

/** A row that was not imported, as written to <input>.rejected.ndjson. */
export interface RejectedRow {
  readonly line: number;
  readonly text: string;
  readonly reason: string;
}

export type MappedRow<D> =
  /** Not a row: a blank line or a header. */
  | { readonly kind: 'skipped' }
  | { readonly kind: 'rejected'; readonly reason: string }
  /** A touchpoint with its final event id; `validated`: the contract's schema returned it. */
  | { readonly kind: 'touchpoint'; readonly touchpoint: Touchpoint; readonly validated: boolean }
  /**
   * A row whose id waits for its group. `rejected`: the row is rejected, but still takes its place in
   * the group's numbering (cdnow numbered bad rows too; the ids of the others stay as they were).
   */
  | {
      readonly kind: 'draft';
      readonly at: number;
      readonly group: string;
      readonly draft: D;
      readonly rejected?: string;
    };

/** How a format gives a group of drafts their ids. */
export interface DraftIds<D> {
  /**
   * The touchpoints of one group (the drafts of one event time and group key, in any order), leaving out
   * the rejected ones.
   */
  touchpoints(group: string, drafts: readonly D[]): Touchpoint[];
  /**
   * Whether the ids of one group sort between those of groups with smaller and greater keys (cdnow's ids
   * extend their group key), so that each group need only be ordered by itself; otherwise all touchpoints
   * of one event time are ordered together.
   */
  readonly idsFollowGroups: boolean;
}

/**
 * Imports carry history, and a clock a little ahead (EVENT_TIME_AHEAD_TOLERANCE_MS) is no reason to refuse
 * a row, but a touchpoint from the future would move the processor's clock past every customer's deadlines.
 */
export const FUTURE_TOLERANCE_MS = EVENT_TIME_AHEAD_TOLERANCE_MS;

/** Why a row's event time is refused, or undefined when it is not in the future. */
export function futureReason(occurredAt: number, receivedAt: number): string | undefined {
  if (occurredAt <= receivedAt + FUTURE_TOLERANCE_MS) return undefined;
  return (
    `occurredAt is in the future: ${new Date(occurredAt).toISOString()} is more than 5 minutes after ` +
    `this import's receivedAt ${new Date(receivedAt).toISOString()}`
  );
}

/**
 * The contract's check of the touchpoint a row became: the contract's fast check vouches for a candidate
 * the parse would return unchanged (schemas/fast-check.ts), and zod parses the rest and words what is wrong.
 * Most rows pass the fast check, which saves the parse's copy of each (a large part of a row's cost).
 */
export function checkedTouchpoint(candidate: unknown): Validated<Touchpoint> {
  if (CONTRACTS.touchpoint.isCheckedForm(candidate)) return { ok: true, value: candidate as Touchpoint };
  return validateWith(TouchpointSchema, candidate);
}

/** The event time of a mapped row, if it has one. */
export function eventTimeOf(row: MappedRow<unknown>): number | undefined {
  return row.kind === 'touchpoint' ? row.touchpoint.occurredAt : row.kind === 'draft' ? row.at : undefined;
}

/** A mapped row as the import admits it: rejected when its event time is in the future. */
export function admitted<D>(row: MappedRow<D>, receivedAt: number): MappedRow<D> {
  const at = eventTimeOf(row);
  const reason = at === undefined ? undefined : futureReason(at, receivedAt);
  return reason === undefined ? row : { kind: 'rejected', reason };
}

/** The import's order: event time, then event id. */
export function byEventTime(a: Touchpoint, b: Touchpoint): number {
  return a.occurredAt - b.occurredAt || (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0);
}

/**
 * All rows of a small input at once, in memory: touchpoints in the import's order, rejected rows by line.
 * The streaming import (import.ts) gives the same touchpoints in the same order.
 */
export function mapAll<R extends SourceRow, D>(
  rows: Iterable<R>,
  map: (row: R) => MappedRow<D>,
  receivedAt: number,
  ids?: DraftIds<D>,
): { touchpoints: Touchpoint[]; rejected: RejectedRow[]; rows: number } {
  const touchpoints: Touchpoint[] = [];
  const rejected: RejectedRow[] = [];
  const groups = new Map<string, { group: string; drafts: D[] }>();
  let count = 0;
  for (const row of rows) {
    const mapped = admitted(map(row), receivedAt);
    if (mapped.kind === 'skipped') continue;
    count += 1;
    if (mapped.kind === 'rejected') rejected.push({ line: row.line, text: row.text, reason: mapped.reason });
    else if (mapped.kind === 'touchpoint') touchpoints.push(mapped.touchpoint);
    else {
      if (mapped.rejected !== undefined)
        rejected.push({ line: row.line, text: row.text, reason: mapped.rejected });
      const key = `${mapped.at}\t${mapped.group}`;
      const entry = groups.get(key);
      if (entry) entry.drafts.push(mapped.draft);
      else groups.set(key, { group: mapped.group, drafts: [mapped.draft] });
    }
  }
  if (groups.size > 0) {
    if (!ids) throw new Error('mapAll: drafts without DraftIds');
    for (const { group, drafts } of groups.values()) touchpoints.push(...ids.touchpoints(group, drafts));
  }
  touchpoints.sort(byEventTime);
  rejected.sort((a, b) => a.line - b.line);
  return { touchpoints, rejected, rows: count };
}
