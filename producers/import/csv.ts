/**
 * CSV rows as touchpoints, by a mapping file (`ciclo import csv <file> --mapping m.json`). Pure: a parsed
 * row and the mapping in, a touchpoint or a rejection (with a reason naming the column) out. URLs mapped
 * into the touchpoint (`context.pageUrl`, `context.referrer`, a PageViewed's `path`, an email's `url`) are
 * cut to what a touchpoint keeps before the contract's check (rows.ts `withKeptUrls`); ids come from the
 * row as written, so they stay what they were.
 *
 * Event ids come from the rows: from the mapping's `eventId.columns` when the file has an identifying
 * column (an order id), else from a hash of the row's content and its number among identical rows, so
 * importing the same file twice, or the same rows in another order, gives the same ids. Such a row is a
 * draft (rows.ts) whose group is the id it has as the first of its kind: identical rows meet in the sort
 * and are numbered there.
 */
import type { Options as CsvParseOptions } from 'csv-parse';
import { parse } from 'csv-parse/sync';
import { z } from 'zod';
import { CicloError } from '../../infra/errors';
import { Context, TOUCHPOINT_TYPES, type Touchpoint } from '../../schemas/touchpoint';
import { formatProblems, problemsOf } from '../../schemas/validation';
import { contentEventId, providerEventId } from '../../schemas/event-id';
import { toMinorUnits } from '../edge/money';
import type { QueryAllowlist } from '../edge/url-minimization';
import {
  checkedTouchpoint,
  mapAll,
  type DraftIds,
  type MappedRow,
  type RejectedRow,
  type SourceRow,
} from './rows';

const Column = z.string().min(1, 'a column name must not be empty');
const TouchpointTypeName = z.enum(TOUCHPOINT_TYPES as [string, ...string[]]);

/** Where a field's value comes from: a column (converted as said) or a constant. */
const FieldSource = z.union([
  z.strictObject({
    column: Column,
    /**
     * string: as written; integer: whole number; money: decimal major units ("19.99") to integer minor
     * units of the row's currency; timestamp: by `format`.
     */
    as: z.enum(['string', 'integer', 'money', 'timestamp']).default('string'),
    format: z.enum(['iso', 'yyyymmdd', 'epoch-ms', 'epoch-s']).default('iso'),
    /** An empty cell leaves the field out instead of failing. */
    optional: z.boolean().default(false),
  }),
  z.strictObject({ value: z.union([z.string(), z.number()]) }),
]);

export const CsvMappingSchema = z.strictObject({
  /** The touchpoints' source name (e.g. "shopify-export"): also part of content-derived event ids. */
  source: z
    .string()
    .regex(/^[A-Za-z0-9._:-]{1,64}$/, 'source must be 1-64 letters, digits or . _ : -')
    .default('csv'),
  delimiter: z.string().length(1, 'delimiter must be one character').default(','),
  /** One type for every row, or a column whose values name the type. */
  type: z.union(
    [
      TouchpointTypeName,
      z.strictObject({ column: Column, values: z.record(z.string(), TouchpointTypeName) }),
    ],
    { error: `must be a touchpoint type (${TOUCHPOINT_TYPES.join(', ')}) or {"column", "values"}` },
  ),
  eventId: z.strictObject({ columns: z.array(Column).min(1) }).optional(),
  customerId: Column.optional(),
  anonymousId: Column.optional(),
  occurredAt: z.strictObject({
    column: Column,
    format: z.enum(['iso', 'yyyymmdd', 'epoch-ms', 'epoch-s']).default('iso'),
  }),
  /** ISO 4217 currency of money columns: a constant or a column. */
  currency: z
    .union([
      z.string().regex(/^[A-Z]{3}$/, 'currency must be an ISO 4217 code'),
      z.strictObject({ column: Column }),
    ])
    .default('USD'),
  payload: z.record(z.string(), FieldSource).default({}),
  context: z
    .partialRecord(z.enum(Object.keys(Context.shape) as [string, ...string[]]), FieldSource)
    .optional(),
});
export type CsvMapping = z.infer<typeof CsvMappingSchema>;

/** Reads and checks a mapping file's JSON; every problem is named by its path in the file. */
export function parseCsvMapping(json: unknown, file: string): CsvMapping {
  const parsed = CsvMappingSchema.safeParse(json);
  if (!parsed.success)
    throw new CicloError(
      'CONFIG_INVALID',
      `mapping ${file} is invalid: ${formatProblems(problemsOf(parsed.error))}`,
    );
  return parsed.data;
}

type Row = Record<string, string>;

/** A parsed CSV record with its line (where it ends) and its text as written. */
export interface CsvRow extends SourceRow {
  readonly record: Row;
}

/** A row of a file without an id column, before it is numbered among identical rows. */
export interface CsvDraft {
  /** The touchpoint, its id that of the first of identical rows (n = 1). */
  readonly touchpoint: Touchpoint;
  readonly row: Row;
}

/** How csv-parse reads a file for a mapping, streaming or not (the same records either way). */
export function csvParseOptions(mapping: CsvMapping): CsvParseOptions {
  return {
    columns: true,
    delimiter: mapping.delimiter,
    skip_empty_lines: true,
    trim: false,
    bom: true,
    info: true,
    raw: true,
    relax_column_count: true,
  };
}

/** A csv-parse record with `info` and `raw` as a row: its line and its text without the line break. */
export function csvRowOf(parsed: unknown): CsvRow {
  const { record, info } = parsed as { record: Row; info: { lines: number; raw?: string } };
  return { record, line: info.lines, text: (info.raw ?? '').replace(/\r?\n$/, '') };
}

const contentId = (mapping: CsvMapping, row: Row, n: number): string =>
  contentEventId('csv', { source: mapping.source, row, n });

function timestamp(text: string, format: 'iso' | 'yyyymmdd' | 'epoch-ms' | 'epoch-s'): number | string {
  const t = text.trim();
  switch (format) {
    case 'iso': {
      // A date without a time is midnight UTC; a time without a zone is refused rather than guessed.
      if (/^\d{4}-\d{2}-\d{2}$/.test(t)) return Date.parse(`${t}T00:00:00Z`);
      if (!/^\d{4}-\d{2}-\d{2}T.*(Z|[+-]\d{2}:?\d{2})$/.test(t))
        return `"${t}" is not an ISO 8601 time with a zone`;
      const ms = Date.parse(t);
      return Number.isNaN(ms) ? `"${t}" is not an ISO 8601 time` : ms;
    }
    case 'yyyymmdd': {
      const m = /^(\d{4})(\d{2})(\d{2})$/.exec(t);
      const ms = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
      return m && new Date(ms).getUTCDate() === Number(m[3]) ? ms : `"${t}" is not a yyyymmdd date`;
    }
    case 'epoch-ms':
    case 'epoch-s': {
      if (!/^\d{1,16}$/.test(t))
        return `"${t}" is not a whole number of ${format === 'epoch-ms' ? 'milliseconds' : 'seconds'}`;
      return Number(t) * (format === 'epoch-s' ? 1000 : 1);
    }
    default: {
      const never: never = format;
      return never;
    }
  }
}

/** One field's value from a row, or a reason naming the column. `undefined` leaves the field out. */
function fieldValue(
  source: z.infer<typeof FieldSource>,
  row: Row,
  currency: string,
): { ok: true; value: unknown } | { ok: false; reason: string } {
  if ('value' in source) return { ok: true, value: source.value };
  const cell = row[source.column];
  if (cell === undefined) return { ok: false, reason: `column "${source.column}" is missing` };
  if (cell.trim() === '') {
    return source.optional
      ? { ok: true, value: undefined }
      : { ok: false, reason: `column "${source.column}" is empty` };
  }
  switch (source.as) {
    case 'string':
      return { ok: true, value: cell };
    case 'integer':
      return /^-?\d{1,15}$/.test(cell.trim())
        ? { ok: true, value: Number(cell.trim()) }
        : { ok: false, reason: `column "${source.column}": "${cell}" is not a whole number` };
    case 'money': {
      const m = toMinorUnits(cell.trim(), currency);
      return m.ok
        ? { ok: true, value: m.minor }
        : { ok: false, reason: `column "${source.column}": ${m.message}` };
    }
    case 'timestamp': {
      const t = timestamp(cell, source.format);
      return typeof t === 'number'
        ? { ok: true, value: t }
        : { ok: false, reason: `column "${source.column}": ${t}` };
    }
    default: {
      const never: never = source.as;
      return never;
    }
  }
}

/**
 * The mapping of one row, by `mapping`; `receivedAt` is the import's, `allowlist` the query parameters its
 * URLs keep besides `utm_*` (CICLO_URL_QUERY_ALLOWLIST).
 */
export function csvRow(
  mapping: CsvMapping,
  receivedAt: number,
  allowlist: QueryAllowlist,
): (row: CsvRow) => MappedRow<CsvDraft> {
  return ({ record: row }) => {
    const rejected = (reason: string): MappedRow<CsvDraft> => ({ kind: 'rejected', reason });
    const type =
      typeof mapping.type === 'string' ? mapping.type : mapping.type.values[row[mapping.type.column] ?? ''];
    if (type === undefined) {
      const column = typeof mapping.type === 'string' ? '' : mapping.type.column;
      return rejected(`column "${column}": "${row[column] ?? ''}" is not one of the mapped values`);
    }
    const currency =
      typeof mapping.currency === 'string'
        ? mapping.currency
        : (row[mapping.currency.column] ?? '').trim().toUpperCase();

    const reasons: string[] = [];
    const take = (
      fields: Record<string, z.infer<typeof FieldSource>> | undefined,
      at: string,
    ): Record<string, unknown> => {
      const out: Record<string, unknown> = {};
      for (const [field, source] of Object.entries(fields ?? {})) {
        if (source === undefined) continue;
        const v = fieldValue(source, row, currency);
        if (!v.ok) reasons.push(`${at}${field}: ${v.reason}`);
        else if (v.value !== undefined) out[field] = v.value;
      }
      return out;
    };
    const payload = take(mapping.payload, 'payload.');
    if (type === 'PurchaseCompleted' && payload.lineItems === undefined) payload.lineItems = [];
    // Money fields are in the row's currency unless the mapping sets payload.currency itself.
    if (payload.currency === undefined && Object.keys(payload).some((k) => k.endsWith('Minor')))
      payload.currency = currency;
    const context = mapping.context
      ? take(mapping.context as Record<string, z.infer<typeof FieldSource>>, 'context.')
      : undefined;
    const occurred = fieldValue(
      {
        column: mapping.occurredAt.column,
        as: 'timestamp',
        format: mapping.occurredAt.format,
        optional: false,
      },
      row,
      currency,
    );
    if (!occurred.ok) reasons.push(`occurredAt: ${occurred.reason}`);
    const who = (column: string | undefined): string | undefined => {
      const v = column === undefined ? undefined : row[column]?.trim();
      return v === '' ? undefined : v;
    };
    if (reasons.length > 0) return rejected(reasons.join('; '));

    let eventId: string;
    if (mapping.eventId) {
      const parts = mapping.eventId.columns.map((c) => row[c]?.trim() ?? '');
      if (parts.some((p) => p === ''))
        return rejected(
          `eventId: column(s) ${mapping.eventId.columns.map((c) => `"${c}"`).join(', ')} must not be empty`,
        );
      eventId = providerEventId(`csv:${mapping.source}`, type, ...parts);
    } else {
      eventId = contentId(mapping, row, 1);
    }
    const candidate = {
      eventId,
      type,
      ...(who(mapping.customerId) ? { customerId: who(mapping.customerId) } : {}),
      ...(who(mapping.anonymousId) ? { anonymousId: who(mapping.anonymousId) } : {}),
      occurredAt: occurred.ok ? occurred.value : 0,
      receivedAt,
      source: { kind: 'import', name: mapping.source },
      ...(context && Object.keys(context).length > 0 ? { context } : {}),
      payload,
    };
    const checked = checkedTouchpoint(candidate, allowlist);
    if (!checked.ok) return rejected(formatProblems(checked.problems));
    if (mapping.eventId) return { kind: 'touchpoint', touchpoint: checked.value, validated: true };
    return {
      kind: 'draft',
      at: checked.value.occurredAt,
      group: eventId,
      draft: { touchpoint: checked.value, row },
    };
  };
}

/** Identical rows (one group) numbered 1, 2, ...: two identical rows are two events, not one. */
export function csvIds(mapping: CsvMapping): DraftIds<CsvDraft> {
  return {
    idsFollowGroups: false,
    touchpoints: (_group, drafts) =>
      drafts.map((d, i) =>
        i === 0 ? d.touchpoint : { ...d.touchpoint, eventId: contentId(mapping, d.row, i + 1) },
      ),
  };
}

/** A whole CSV text at once (tests, small files): touchpoints in the import's order, rejected rows. */
export function csvTouchpoints(
  text: string,
  mapping: CsvMapping,
  receivedAt: number,
  allowlist: QueryAllowlist = [],
): { touchpoints: Touchpoint[]; rejected: RejectedRow[]; rows: number } {
  let records: unknown[];
  try {
    records = parse(text, csvParseOptions(mapping));
  } catch (err) {
    throw csvUnreadable(err);
  }
  return mapAll(records.map(csvRowOf), csvRow(mapping, receivedAt, allowlist), receivedAt, csvIds(mapping));
}

export function csvUnreadable(err: unknown): CicloError {
  return new CicloError('EVENT_INVALID', `the CSV file cannot be read: ${(err as Error).message}`, {
    cause: err,
  });
}
