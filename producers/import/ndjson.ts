/**
 * NDJSON touchpoints (one JSON object per line, as `ciclo simulate --out` writes them) as touchpoints:
 * each line keeps its own event id and times, its URLs are cut to what a touchpoint keeps (rows.ts
 * `withKeptUrls`), and it is validated against the contract. Pure.
 */
import type { Touchpoint } from '../../schemas/touchpoint';
import { formatProblems } from '../../schemas/validation';
import type { QueryAllowlist } from '../edge/url-minimization';
import { checkedTouchpoint, mapAll, type MappedRow, type RejectedRow, type SourceRow } from './rows';

/** One line; `allowlist`: the query parameters its URLs keep besides `utm_*` (CICLO_URL_QUERY_ALLOWLIST). */
export function ndjsonRow(raw: string, allowlist: QueryAllowlist): MappedRow<never> {
  if (!raw.trim()) return { kind: 'skipped' };
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { kind: 'rejected', reason: 'not valid JSON' };
  }
  const checked = checkedTouchpoint(json, allowlist);
  return checked.ok
    ? { kind: 'touchpoint', touchpoint: checked.value, validated: true }
    : { kind: 'rejected', reason: formatProblems(checked.problems) };
}

/** A whole NDJSON text at once (tests, small files): touchpoints in the import's order, rejected rows. */
export function ndjsonTouchpoints(
  text: string,
  receivedAt: number,
  allowlist: QueryAllowlist = [],
): { touchpoints: Touchpoint[]; rejected: RejectedRow[]; rows: number } {
  const rows: SourceRow[] = text
    .split('\n')
    .map((line, i) => ({ line: i + 1, text: line.replace(/\r$/, '') }));
  return mapAll(rows, (row) => ndjsonRow(row.text, allowlist), receivedAt);
}
