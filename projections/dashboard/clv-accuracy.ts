/**
 * The CLV panel's accuracy view: how well the BG/NBD forecast a holdout period of the purchases in
 * ClickHouse (projections/clv/holdout.ts), as `ciclo clv validate` reports it. Without a window named, the
 * holdout is the last 39 weeks of purchases, or their last half when they span less than 78 weeks.
 */
import type { ClickHouseEngine } from '../../infra/clickhouse/engine';
import { formatIsoDay, parseIsoDay } from '../clv/dates';
import {
  defaultHoldoutWindow,
  toValidationReport,
  validateHoldout,
  type ClvValidationReport,
} from '../clv/holdout';
import { queryPurchaseDays, toHistories } from '../clv/refit';

export type ClvAccuracy =
  | ({ readonly available: true } & ClvValidationReport)
  | { readonly available: false; readonly reason: string };

export async function clvAccuracy(
  engine: ClickHouseEngine,
  database: string,
  window: { readonly calibrationEnd?: string; readonly holdoutEnd?: string } = {},
): Promise<ClvAccuracy> {
  const rows = await queryPurchaseDays(engine, database);
  if (rows.length === 0) return { available: false, reason: 'no purchases yet' };
  const days = rows.map((r) => Number(r.day));
  const fallback = defaultHoldoutWindow(Math.min(...days), Math.max(...days));
  const calibrationEnd = window.calibrationEnd
    ? parseIsoDay(window.calibrationEnd)
    : fallback?.calibrationEnd;
  const holdoutEnd = window.holdoutEnd ? parseIsoDay(window.holdoutEnd) : fallback?.holdoutEnd;
  if (calibrationEnd === undefined || holdoutEnd === undefined)
    return { available: false, reason: 'the purchases span too few days to hold any out' };
  const result = validateHoldout(toHistories(rows), calibrationEnd, holdoutEnd);
  if (!result.ok) return { available: false, reason: result.reason };
  return {
    available: true,
    ...toValidationReport(result.validation, formatIsoDay(calibrationEnd), formatIsoDay(holdoutEnd)),
  };
}
