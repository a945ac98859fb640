/**
 * Report rows as a plain aligned table for the terminal (`ciclo report`, the demo's summary). Cells are
 * printable() text: a table shows values visitors sent (UTM channels, customer ids), which must not act on
 * the terminal, and each cell must keep to its column.
 */
import { printable } from './terminal-text';

function cell(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'string') return printable(v);
  if (typeof v === 'number' || typeof v === 'boolean') return `${v}`;
  return printable(JSON.stringify(v));
}

/** A plain aligned table of objects' fields, the first row's keys as the header. */
export function formatTable(rows: readonly Record<string, unknown>[]): string {
  if (rows.length === 0) return '(no data)';
  const header = Object.keys(rows[0]!).map(printable);
  const cells = rows.map((r) => Object.keys(rows[0]!).map((h) => cell(r[h])));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  return [header, ...cells].map((c) => c.map((v, i) => v.padStart(widths[i]!)).join('  ')).join('\n');
}
