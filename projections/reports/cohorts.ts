/**
 * Acquisition-cohort retention: cohort month (first purchase) x months since acquisition, with cohort size,
 * customers active (purchasing) in that month, and net revenue (refunds restated to their order's month).
 */
import type { ClickHouseEngine } from '../../infra/clickhouse/engine';
import { dateLiteral, identifier } from '../sql';

export interface CohortCell {
  readonly cohort: string; // YYYY-MM
  readonly monthsSince: number;
  readonly customers: number;
  readonly activeCustomers: number;
  /** Net revenue in major units of the currency (e.g. dollars), rounded to cents. */
  readonly revenue: number;
}

export interface ReportRange {
  /** Cohorts starting on or after this month (yyyy-mm-dd). */
  readonly from?: string;
  /** Cohorts starting before this date (yyyy-mm-dd, exclusive). */
  readonly to?: string;
}

export function cohortQuery(database: string, range: ReportRange = {}): string {
  const db = identifier(database);
  const where = [
    range.from ? `cohort_month >= toStartOfMonth(${dateLiteral(range.from, '--from')})` : '',
    range.to ? `cohort_month < ${dateLiteral(range.to, '--to')}` : '',
  ].filter(Boolean);
  return `SELECT formatDateTime(cohort_month, '%Y-%m') AS cohort, months_since, customers, active_customers, revenue_minor
FROM ${db}.cohort_retention
${where.length ? `WHERE ${where.join(' AND ')}` : ''}
ORDER BY cohort, months_since`;
}

export async function cohortReport(
  engine: ClickHouseEngine,
  database: string,
  range: ReportRange = {},
): Promise<CohortCell[]> {
  const rows = await engine.query<{
    cohort: string;
    months_since: string | number;
    customers: string | number;
    active_customers: string | number;
    revenue_minor: string | number;
  }>(cohortQuery(database, range));
  return rows.map((r) => ({
    cohort: r.cohort,
    monthsSince: Number(r.months_since),
    customers: Number(r.customers),
    activeCustomers: Number(r.active_customers),
    revenue: Number(r.revenue_minor) / 100,
  }));
}

/** A retention table: one row per cohort, one column per month since acquisition (% active). */
export function formatCohortTable(cells: readonly CohortCell[]): string {
  const cohorts = [...new Set(cells.map((c) => c.cohort))];
  const maxMonth = Math.max(0, ...cells.map((c) => c.monthsSince));
  const header = ['cohort', 'customers', ...Array.from({ length: maxMonth + 1 }, (_, m) => `m${m}`)];
  const lines = cohorts.map((cohort) => {
    const row = cells.filter((c) => c.cohort === cohort);
    const size = row[0]?.customers ?? 0;
    const pct = Array.from({ length: maxMonth + 1 }, (_, m) => {
      const cell = row.find((c) => c.monthsSince === m);
      return cell && size ? `${((100 * cell.activeCustomers) / size).toFixed(1)}%` : '';
    });
    return [cohort, String(size), ...pct];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  return [header, ...lines].map((l) => l.map((c, i) => c.padStart(widths[i]!)).join('  ')).join('\n');
}
