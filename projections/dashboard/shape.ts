/**
 * Pure shaping from the report functions' rows to what the dashboard draws: the cohort heatmap matrix, the
 * CLV histogram bins, the funnel in stage-model order, and the error a panel shows. No I/O, no clock: the
 * page only renders what these return, and they are unit-tested without ClickHouse or a browser.
 */
import type { CacRow, ChurnRow, ClvReport, FunnelReport } from '../reports/analytics';
import type { CohortCell } from '../reports/cohorts';

/** Index of a YYYY-MM month on a continuous month axis. */
export function monthIndex(month: string): number {
  return Number(month.slice(0, 4)) * 12 + Number(month.slice(5, 7)) - 1;
}

export interface HeatmapCell {
  readonly monthsSince: number;
  readonly activeCustomers: number;
  /** Share of the cohort that purchased in this month, 0..1. */
  readonly share: number;
}
export interface HeatmapRow {
  readonly cohort: string;
  readonly customers: number;
  /** One entry per month since acquisition up to the last month with data; null past that horizon. */
  readonly cells: readonly (HeatmapCell | null)[];
}
export interface Heatmap {
  /** Columns: months since acquisition, 0..months-1. */
  readonly months: number;
  readonly rows: readonly HeatmapRow[];
}

/**
 * The retention triangle. The report only has cells where a cohort had revenue events, so a month inside
 * the observed period with no purchase is 0% (a real zero), while a month after the last observed month
 * is null (not yet known): the heatmap draws the first as a pale cell and leaves the second blank.
 */
export function cohortHeatmap(cells: readonly CohortCell[], maxMonths = 24): Heatmap {
  if (cells.length === 0) return { months: 0, rows: [] };
  const lastMonth = Math.max(...cells.map((c) => monthIndex(c.cohort) + c.monthsSince));
  const cohorts = [...new Set(cells.map((c) => c.cohort))].sort();
  const months = Math.min(maxMonths, lastMonth - monthIndex(cohorts[0]!) + 1);
  const rows = cohorts.map((cohort) => {
    const own = cells.filter((c) => c.cohort === cohort);
    const customers = own[0]?.customers ?? 0;
    const horizon = lastMonth - monthIndex(cohort);
    return {
      cohort,
      customers,
      cells: Array.from({ length: months }, (_, m): HeatmapCell | null => {
        if (m > horizon) return null;
        const active = own.find((c) => c.monthsSince === m)?.activeCustomers ?? 0;
        return { monthsSince: m, activeCustomers: active, share: customers ? active / customers : 0 };
      }),
    };
  });
  return { months, rows };
}

export interface HistogramBin {
  readonly from: number;
  /** null for the open-ended last bin. */
  readonly to: number | null;
  readonly label: string;
  readonly customers: number;
}

const money = (x: number): string =>
  x.toLocaleString('en-US', { maximumFractionDigits: x < 10 && x % 1 ? 2 : 0 });

/**
 * clvReport returns only non-empty buckets of equal width (the last, from ten widths up, is open-ended).
 * The histogram needs every bucket in between, so empty ones are filled in with zero customers.
 */
export function clvHistogram(histogram: ClvReport['histogram']): HistogramBin[] {
  if (histogram.length === 0) return [];
  const finite = histogram.find((b) => Number.isFinite(b.to));
  const width = finite ? finite.to - finite.from : histogram[0]!.from / 10;
  if (!(width > 0)) return [];
  const index = (from: number): number => Math.round(from / width);
  const last = Math.max(...histogram.map((b) => index(b.from)));
  return Array.from({ length: last + 1 }, (_, i) => {
    const found = histogram.find((b) => index(b.from) === i);
    const from = Math.round(i * width * 100) / 100;
    const open = found ? !Number.isFinite(found.to) : false;
    const to = open ? null : Math.round((i + 1) * width * 100) / 100;
    return {
      from,
      to,
      label: to === null ? `${money(from)}+` : `${money(from)}–${money(to)}`,
      customers: found?.customers ?? 0,
    };
  });
}

export interface FunnelStage {
  readonly stage: string;
  readonly name: string;
  /** The model's kind of stage (prospect, active, loyal, at-risk, lapsed), which the page colours by. */
  readonly kind: string;
  readonly customers: number;
  /** Share of all customers in the model, 0..1. */
  readonly share: number;
}
export interface FunnelFlow {
  readonly from: string;
  readonly to: string;
  readonly fromName: string;
  readonly toName: string;
  readonly changes: number;
}
export interface FunnelView {
  readonly customers: number;
  readonly stages: readonly FunnelStage[];
  readonly flows: readonly FunnelFlow[];
}

/**
 * Stages in the order the stage model lists them (the lifecycle's own order), each with its display name;
 * a stage the model does not know (a model changed since) follows, by count. Flows: the largest first.
 */
export function funnelView(
  report: FunnelReport,
  model: readonly { id: string; name: string; kind?: string }[] = [],
  maxFlows = 12,
): FunnelView {
  const order = new Map(model.map((s, i) => [s.id, i]));
  const nameOf = (id: string): string => model.find((s) => s.id === id)?.name ?? id;
  const customers = report.stages.reduce((n, s) => n + s.customers, 0);
  const counted = new Map(report.stages.map((s) => [s.stage, s.customers]));
  const known = model.map((s) => s.id);
  const unknown = report.stages
    .filter((s) => !order.has(s.stage))
    .sort((a, b) => b.customers - a.customers)
    .map((s) => s.stage);
  const stages = customers === 0 ? [] : [...known, ...unknown];
  return {
    customers,
    stages: stages.map((stage) => {
      const n = counted.get(stage) ?? 0;
      const kind = model.find((s) => s.id === stage)?.kind ?? 'unknown';
      return { stage, name: nameOf(stage), kind, customers: n, share: customers ? n / customers : 0 };
    }),
    flows: [...report.flows]
      .sort((a, b) => b.changes - a.changes || a.from.localeCompare(b.from) || a.to.localeCompare(b.to))
      .slice(0, maxFlows)
      .map((f) => ({ ...f, fromName: f.from === '(new)' ? 'New' : nameOf(f.from), toName: nameOf(f.to) })),
  };
}

/**
 * churnReport has a row for month m+1 of every month m with a purchase, so its last row is always a month
 * after the last purchase, where nobody can have bought again yet: its 100% churn is an artefact, not news.
 * The dashboard asks the report without an upper bound, drops that row, and applies `to` (exclusive) here.
 */
export function observedChurn(rows: readonly ChurnRow[], to?: string): ChurnRow[] {
  const observed = rows.slice(0, -1);
  return to ? observed.filter((r) => `${r.month}-01` < to) : observed;
}

export interface BlendedCac {
  readonly spend: number;
  /** Customers acquired through channels with recorded spend (organic channels cost nothing here). */
  readonly customers: number;
  readonly cac: number | null;
}

/** Total spend over the customers of the paid channels: what one acquired customer costs on average. */
export function blendedCac(rows: readonly CacRow[]): BlendedCac {
  const paid = rows.filter((r) => r.spend > 0);
  const spend = Math.round(100 * paid.reduce((n, r) => n + r.spend, 0)) / 100;
  const customers = paid.reduce((n, r) => n + r.customers, 0);
  return { spend, customers, cac: customers > 0 ? Math.round((100 * spend) / customers) / 100 : null };
}
