/**
 * The analyst reports besides cohorts: NPS/CSAT per month, purchase churn per month, CAC and ROI per
 * acquisition channel, the stage funnel and flows, and the CLV distribution. Each is one or two portable
 * queries (18.16 and 26.x) over the deduplicated tables, and, where a ratio needs data from two tables,
 * a pure function that combines them (unit-tested without ClickHouse).
 */
import type { ClickHouseEngine } from '../../infra/clickhouse/engine';
import { dateLiteral, identifier, stringLiteral } from '../sql';
import type { ReportRange } from './cohorts';

const num = (v: unknown): number => Number(v ?? 0);

function range(column: string, r: ReportRange): string {
  const parts = [
    r.from ? `${column} >= ${dateLiteral(r.from, '--from')}` : '',
    r.to ? `${column} < ${dateLiteral(r.to, '--to')}` : '',
  ].filter(Boolean);
  return parts.length ? ` AND ${parts.join(' AND ')}` : '';
}

export interface NpsRow {
  readonly month: string;
  readonly responses: number;
  readonly promoters: number;
  readonly passives: number;
  readonly detractors: number;
  /** % promoters - % detractors, -100..100. */
  readonly nps: number;
  readonly csatResponses: number;
  readonly csatAverage: number | null;
}

export async function npsReport(
  engine: ClickHouseEngine,
  database: string,
  r: ReportRange = {},
): Promise<NpsRow[]> {
  const db = identifier(database);
  const rows = await engine.query<Record<string, unknown>>(
    `SELECT formatDateTime(toStartOfMonth(occurred_at), '%Y-%m') AS month,
            countIf(nps >= 0) AS responses, countIf(nps >= 9) AS promoters, countIf(nps >= 7 AND nps <= 8) AS passives,
            countIf(nps >= 0 AND nps <= 6) AS detractors, countIf(csat >= 1) AS csat_responses, sumIf(csat, csat >= 1) AS csat_sum
     FROM ${db}.touchpoints FINAL
     WHERE type IN ('SurveyAnswered', 'SupportTicketResolved')${range('toDate(occurred_at)', r)}
     GROUP BY month ORDER BY month`,
  );
  return rows.map((row) => {
    const responses = num(row.responses);
    const csat = num(row.csat_responses);
    return {
      month: String(row.month),
      responses,
      promoters: num(row.promoters),
      passives: num(row.passives),
      detractors: num(row.detractors),
      nps: responses ? Math.round((1000 * (num(row.promoters) - num(row.detractors))) / responses) / 10 : 0,
      csatResponses: csat,
      csatAverage: csat ? Math.round((100 * num(row.csat_sum)) / csat) / 100 : null,
    };
  });
}

export interface ChurnRow {
  readonly month: string;
  /** Customers who purchased in the previous month. */
  readonly activeLastMonth: number;
  /** Of those, how many purchased again this month. */
  readonly retained: number;
  readonly churnRate: number;
  /** Customers the processor moved to a lapsed stage this month (its cadence-aware view of churn). */
  readonly lapsed: number;
}

export async function churnReport(
  engine: ClickHouseEngine,
  database: string,
  r: ReportRange = {},
): Promise<ChurnRow[]> {
  const db = identifier(database);
  const activity = await engine.query<Record<string, unknown>>(
    `SELECT formatDateTime(addMonths(m, 1), '%Y-%m') AS month, uniqExact(customer_id) AS active_last_month,
            uniqExactIf(customer_id, has(months, addMonths(m, 1))) AS retained
     FROM (
       SELECT customer_id, groupUniqArray(toStartOfMonth(revenue_at)) AS months
       FROM ${db}.revenue_events WHERE kind = 'purchase' AND customer_id != '' GROUP BY customer_id
     ) ARRAY JOIN months AS m
     WHERE 1${range('addMonths(m, 1)', r)}
     GROUP BY m ORDER BY m`,
  );
  const lapsed = await engine.query<Record<string, unknown>>(
    `SELECT formatDateTime(toStartOfMonth(occurred_at), '%Y-%m') AS month, uniqExact(customer_id) AS lapsed
     FROM ${db}.stage_changes FINAL WHERE to_stage = 'lapsed'${range('toDate(occurred_at)', r)} GROUP BY month`,
  );
  const lapsedByMonth = new Map(lapsed.map((l) => [String(l.month), num(l.lapsed)]));
  return activity.map((a) => {
    const active = num(a.active_last_month);
    const retained = num(a.retained);
    return {
      month: String(a.month),
      activeLastMonth: active,
      retained,
      churnRate: active ? Math.round((10000 * (active - retained)) / active) / 10000 : 0,
      lapsed: lapsedByMonth.get(String(a.month)) ?? 0,
    };
  });
}

export interface ChannelSpend {
  readonly channel: string;
  readonly spendMinor: number;
}
export interface ChannelCustomers {
  readonly channel: string;
  readonly customers: number;
  readonly revenueMinor: number;
  /** Sum of predicted 12-month CLV of those customers (0 before `ciclo clv refit`). */
  readonly predictedClvMinor: number;
  /** Sum over customers of the months since their first purchase (at least 1). */
  readonly customerMonths: number;
}
export interface CacRow {
  readonly channel: string;
  readonly spend: number;
  readonly customers: number;
  /** Spend per customer acquired. */
  readonly cac: number | null;
  readonly revenue: number;
  /** (revenue - spend) / spend. */
  readonly roi: number | null;
  /** Mean CLV (predicted where fitted, else revenue to date) over CAC. */
  readonly clvToCac: number | null;
  /** Months of a customer's average monthly revenue needed to earn back the CAC. */
  readonly paybackMonths: number | null;
}

const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;

/** Combines spend and acquired customers per channel (pure). Amounts in minor units in, major units out. */
export function combineCac(spend: readonly ChannelSpend[], customers: readonly ChannelCustomers[]): CacRow[] {
  const channels = [...new Set([...spend.map((s) => s.channel), ...customers.map((c) => c.channel)])].sort();
  return channels.map((channel) => {
    const s = (spend.find((x) => x.channel === channel)?.spendMinor ?? 0) / 100;
    const c = customers.find((x) => x.channel === channel);
    const n = c?.customers ?? 0;
    const revenue = (c?.revenueMinor ?? 0) / 100;
    const cac = s > 0 && n > 0 ? s / n : null;
    const clvPerCustomer =
      n > 0 ? (c!.predictedClvMinor > 0 ? c!.predictedClvMinor : c!.revenueMinor) / 100 / n : 0;
    const monthlyRevenuePerCustomer = n > 0 && c!.customerMonths > 0 ? revenue / c!.customerMonths : 0;
    return {
      channel,
      spend: round(s),
      customers: n,
      cac: cac === null ? null : round(cac),
      revenue: round(revenue),
      roi: s > 0 ? round((revenue - s) / s, 4) : null,
      clvToCac: cac ? round(clvPerCustomer / cac) : null,
      paybackMonths: cac && monthlyRevenuePerCustomer > 0 ? round(cac / monthlyRevenuePerCustomer, 1) : null,
    };
  });
}

export async function cacReport(
  engine: ClickHouseEngine,
  database: string,
  modelId: string,
  r: ReportRange = {},
): Promise<CacRow[]> {
  const db = identifier(database);
  const spend = await engine.query<Record<string, unknown>>(
    `SELECT channel, sum(amount_minor) AS spend_minor FROM ${db}.touchpoints FINAL
     WHERE type = 'MarketingSpendRecorded'${range('toDate(period_start)', r)} GROUP BY channel`,
  );
  const customers = await engine.query<Record<string, unknown>>(
    `SELECT s.acquisition_channel AS channel, count() AS customers, sum(s.net_revenue_minor) AS revenue_minor,
            sum(c.predicted_clv_minor) AS predicted_clv_minor,
            sum(greatest(1, dateDiff('month', toDate(s.first_purchase_at), toDate(s.last_seen_at)) + 1)) AS customer_months
     FROM (SELECT * FROM ${db}.customer_state FINAL WHERE model_id = ${stringLiteral(modelId)} AND merged_into = '' AND orders > 0${range('toDate(first_purchase_at)', r)}) AS s
     ANY LEFT JOIN (SELECT customer_id, predicted_clv_minor FROM ${db}.customer_clv FINAL) AS c USING customer_id
     GROUP BY channel`,
  );
  return combineCac(
    spend.map((s) => ({ channel: String(s.channel), spendMinor: num(s.spend_minor) })),
    customers.map((c) => ({
      channel: String(c.channel),
      customers: num(c.customers),
      revenueMinor: num(c.revenue_minor),
      predictedClvMinor: num(c.predicted_clv_minor),
      customerMonths: num(c.customer_months),
    })),
  );
}

export interface FunnelReport {
  readonly stages: { stage: string; customers: number }[];
  readonly flows: { from: string; to: string; changes: number }[];
}

export async function funnelReport(
  engine: ClickHouseEngine,
  database: string,
  modelId: string,
  r: ReportRange = {},
): Promise<FunnelReport> {
  const db = identifier(database);
  const model = stringLiteral(modelId);
  // A profile merged into another customer (a browser that identified, an aliased id) is part of that
  // customer, not a person of its own: its last row names the survivor (merged_into), and its stage changes
  // are left out of the flows, as they are the survivor's history now.
  const stages = await engine.query<Record<string, unknown>>(
    `SELECT stage, count() AS customers FROM ${db}.customer_state FINAL
     WHERE model_id = ${model} AND merged_into = ''
     GROUP BY stage ORDER BY customers DESC`,
  );
  const merged = `(SELECT customer_id FROM ${db}.customer_state FINAL WHERE model_id = ${model} AND merged_into != '')`;
  const flows = await engine.query<Record<string, unknown>>(
    `SELECT from_stage, to_stage, count() AS changes FROM ${db}.stage_changes FINAL
     WHERE model_id = ${model}${range('toDate(occurred_at)', r)} AND customer_id NOT IN ${merged}
     GROUP BY from_stage, to_stage ORDER BY changes DESC`,
  );
  return {
    stages: stages.map((s) => ({ stage: String(s.stage), customers: num(s.customers) })),
    flows: flows.map((f) => ({
      from: String(f.from_stage) || '(new)',
      to: String(f.to_stage),
      changes: num(f.changes),
    })),
  };
}

export interface ClvReport {
  readonly customers: number;
  readonly meanPredicted: number;
  readonly p50Predicted: number;
  readonly p90Predicted: number;
  readonly likelyGone: number;
  readonly histogram: { from: number; to: number; customers: number }[];
  readonly topAtRisk: {
    customerId: string;
    predictedClv: number;
    probabilityAlive: number;
    historicClv: number;
  }[];
}

export async function clvReport(engine: ClickHouseEngine, database: string): Promise<ClvReport> {
  const db = identifier(database);
  const [summary] = await engine.query<Record<string, unknown>>(
    `SELECT count() AS customers, avg(predicted_clv_minor) AS mean, quantileExact(0.5)(predicted_clv_minor) AS p50,
            quantileExact(0.9)(predicted_clv_minor) AS p90, countIf(probability_alive < 0.3) AS likely_gone
     FROM ${db}.customer_clv FINAL`,
  );
  const p90 = num(summary?.p90);
  const width = Math.max(1, Math.ceil(p90 / 10 / 100) * 100); // ten buckets up to the 90th percentile
  const buckets = await engine.query<Record<string, unknown>>(
    `SELECT least(toUInt32(floor(predicted_clv_minor / ${width})), 10) AS bucket, count() AS customers
     FROM ${db}.customer_clv FINAL GROUP BY bucket ORDER BY bucket`,
  );
  const atRisk = await engine.query<Record<string, unknown>>(
    `SELECT customer_id, predicted_clv_minor, probability_alive, historic_clv_minor FROM ${db}.customer_clv FINAL
     WHERE probability_alive < 0.5 ORDER BY historic_clv_minor DESC, customer_id LIMIT 10`,
  );
  return {
    customers: num(summary?.customers),
    meanPredicted: round(num(summary?.mean) / 100),
    p50Predicted: round(num(summary?.p50) / 100),
    p90Predicted: round(p90 / 100),
    likelyGone: num(summary?.likely_gone),
    histogram: buckets.map((b) => ({
      from: (num(b.bucket) * width) / 100,
      to: num(b.bucket) >= 10 ? Infinity : ((num(b.bucket) + 1) * width) / 100,
      customers: num(b.customers),
    })),
    topAtRisk: atRisk.map((a) => ({
      customerId: String(a.customer_id),
      predictedClv: round(num(a.predicted_clv_minor) / 100),
      probabilityAlive: round(num(a.probability_alive), 3),
      historicClv: num(a.historic_clv_minor) / 100,
    })),
  };
}
