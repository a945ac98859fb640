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
import {
  EVENT_TIME_AHEAD_TOLERANCE_MS,
  EmailEngagement,
  PAYLOADS,
  TOUCHPOINT_TYPES,
  TouchpointSchema,
  type Touchpoint,
} from '../../schemas/touchpoint';
import { validateWith, type Validated } from '../../schemas/validation';
import { minimizeReferrer, minimizeUrl, type QueryAllowlist } from '../edge/url-minimization';

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
 * The touchpoint a row became, as a touchpoint keeps it and checked: its URLs cut first (`withKeptUrls`),
 * then the contract's check, where the contract's fast check vouches for a candidate the parse would return
 * unchanged (schemas/fast-check.ts), and zod parses the rest and words what is wrong. Most rows pass the
 * fast check, which saves the parse's copy of each (a large part of a row's cost). Every format whose rows
 * can carry a URL (CSV, NDJSON) makes its touchpoints here; cdnow's carry none.
 */
export function checkedTouchpoint(candidate: unknown, allowlist: QueryAllowlist): Validated<Touchpoint> {
  const kept = withKeptUrls(candidate, allowlist);
  if (CONTRACTS.touchpoint.isCheckedForm(kept)) return { ok: true, value: kept as Touchpoint };
  return validateWith(TouchpointSchema, kept);
}

/** The payload field that holds a URL, by touchpoint type: a PageViewed's path, an email's link. */
const URL_IN_PAYLOAD: ReadonlyMap<string, string> = new Map([
  ['PageViewed', 'path'],
  ...TOUCHPOINT_TYPES.filter((t) => PAYLOADS[t] === EmailEngagement).map((t) => [t, 'url'] as const),
]);

type Fields = Readonly<Record<string, unknown>>;

const isFields = (value: unknown): value is Fields =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * A candidate touchpoint with its URLs cut to what a touchpoint keeps, by the rule the collector, the
 * webhooks and the snippet apply (../edge/url-minimization.ts): `context.pageUrl`, a PageViewed's `path`
 * and an email's `url` keep scheme, host, port, path and the `utm_*` and allowed query parameters;
 * `context.referrer` keeps its origin. A file's rows carry what its exporter put in its URLs (emails, order
 * and session ids, tokens), and no later step can drop it once it is on the topic. Where a URL goes but the
 * value is not a string, it is left for the contract to judge. Pure; copies only what it changes.
 */
export function withKeptUrls(candidate: unknown, allowlist: QueryAllowlist): unknown {
  if (!isFields(candidate)) return candidate;
  let out = candidate;
  const { context, payload, type } = candidate;
  if (isFields(context)) {
    const kept = withField(
      withField(context, 'pageUrl', (url) => minimizeUrl(url, allowlist)),
      'referrer',
      minimizeReferrer,
    );
    if (kept !== context) out = { ...out, context: kept };
  }
  const urlField = typeof type === 'string' ? URL_IN_PAYLOAD.get(type) : undefined;
  if (urlField !== undefined && isFields(payload)) {
    const kept = withField(payload, urlField, (url) => minimizeUrl(url, allowlist));
    if (kept !== payload) out = { ...out, payload: kept };
  }
  return out;
}

/** `fields` with the string at `name` as `keep` makes it; the same object when nothing changes. */
function withField(fields: Fields, name: string, keep: (value: string) => string): Fields {
  const value = fields[name];
  if (typeof value !== 'string') return fields;
  const kept = keep(value);
  return kept === value ? fields : { ...fields, [name]: kept };
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
