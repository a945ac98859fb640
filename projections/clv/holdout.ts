/**
 * How well the BG/NBD forecasts, on data it has not seen: fit on a calibration period, predict each
 * customer's repeat purchases in the holdout period that follows, and compare with what they bought
 * (Fader, Hardie & Lee 2005, §4 and Figure 4; lifetimes' `calibration_and_holdout_data` and
 * `plot_calibration_purchases_vs_holdout_purchases` show the same view).
 *
 * Customers are those whose first purchase is in the calibration period; a holdout purchase is a distinct
 * purchase day after the calibration end, up to the holdout end inclusive, as repeat purchases are counted
 * in the calibration period (rfm.ts).
 */
import { expectedPurchases, fitBgNbd, type BgNbdFit } from './bgnbd';
import type { CustomerPurchases } from './cdnow';
import { DAYS_PER_WEEK } from './dates';
import { summarizeRfm } from './rfm';

/** Calibration frequencies shown one by one; higher ones share the last row ("7+"). */
const FREQUENCY_ROWS = 7;

export interface HoldoutByFrequency {
  /** Repeat purchases in the calibration period: "0" ... "6", then "7+". */
  readonly frequency: string;
  readonly customers: number;
  /** Mean repeat purchases in the holdout, actual and predicted. */
  readonly actualMean: number;
  readonly predictedMean: number;
}

export interface HoldoutValidation {
  readonly fit: BgNbdFit;
  readonly holdoutWeeks: number;
  readonly customers: number;
  readonly predictedRepeatPurchases: number;
  readonly actualRepeatPurchases: number;
  /** (predicted - actual) / actual: negative when the model under-forecasts. */
  readonly relativeError: number | null;
  /** Mean over customers of |predicted - actual| holdout repeat purchases. */
  readonly meanAbsoluteError: number;
  readonly byFrequency: readonly HoldoutByFrequency[];
}

export type HoldoutResult =
  | { readonly ok: true; readonly validation: HoldoutValidation }
  | { readonly ok: false; readonly reason: string };

/** calibrationEnd and holdoutEnd are day numbers (dates.ts), both inclusive. */
export function validateHoldout(
  histories: readonly CustomerPurchases[],
  calibrationEnd: number,
  holdoutEnd: number,
): HoldoutResult {
  if (!(holdoutEnd > calibrationEnd))
    return { ok: false, reason: 'the holdout must end after the calibration period' };
  const summary = summarizeRfm(histories, calibrationEnd);
  if (!summary.some((s) => s.x > 0))
    return { ok: false, reason: 'no customer made a repeat purchase by the calibration end' };
  const fit = fitBgNbd(summary);
  const holdoutWeeks = (holdoutEnd - calibrationEnd) / DAYS_PER_WEEK;
  const holdoutDays = new Map<string, number>();
  for (const { customerId, days } of histories)
    holdoutDays.set(customerId, days.filter((d) => d.day > calibrationEnd && d.day <= holdoutEnd).length);

  const rows = Array.from({ length: FREQUENCY_ROWS + 1 }, () => ({ customers: 0, actual: 0, predicted: 0 }));
  let predictedTotal = 0;
  let actualTotal = 0;
  let absoluteErrors = 0;
  for (const s of summary) {
    const predicted = expectedPurchases(fit.params, s, holdoutWeeks);
    const actual = holdoutDays.get(s.customerId) ?? 0;
    predictedTotal += predicted;
    actualTotal += actual;
    absoluteErrors += Math.abs(predicted - actual);
    const row = rows[Math.min(s.x, FREQUENCY_ROWS)]!;
    row.customers++;
    row.actual += actual;
    row.predicted += predicted;
  }
  const validation: HoldoutValidation = {
    fit,
    holdoutWeeks,
    customers: summary.length,
    predictedRepeatPurchases: predictedTotal,
    actualRepeatPurchases: actualTotal,
    relativeError: actualTotal > 0 ? (predictedTotal - actualTotal) / actualTotal : null,
    meanAbsoluteError: absoluteErrors / summary.length,
    byFrequency: rows
      .map((row, x) => ({
        frequency: x === FREQUENCY_ROWS ? `${FREQUENCY_ROWS}+` : String(x),
        customers: row.customers,
        actualMean: row.customers > 0 ? row.actual / row.customers : 0,
        predictedMean: row.customers > 0 ? row.predicted / row.customers : 0,
      }))
      .filter((row) => row.customers > 0),
  };
  return { ok: true, validation };
}

/** The longest holdout a default window takes: 39 weeks, the published CDNOW analyses' holdout. */
const DEFAULT_HOLDOUT_DAYS = 39 * DAYS_PER_WEEK;

/**
 * A window for data whose purchases span firstDay..lastDay when the user names none: the holdout ends on
 * the last purchase day and is the shorter of 39 weeks and half the span, so the calibration period is at
 * least as long as the holdout. Undefined when the span is under two days (no holdout fits).
 */
export function defaultHoldoutWindow(
  firstDay: number,
  lastDay: number,
): { readonly calibrationEnd: number; readonly holdoutEnd: number } | undefined {
  const holdoutDays = Math.min(DEFAULT_HOLDOUT_DAYS, Math.floor((lastDay - firstDay) / 2));
  if (holdoutDays < 1) return undefined;
  return { calibrationEnd: lastDay - holdoutDays, holdoutEnd: lastDay };
}

/** A validation as `ciclo clv validate --json` prints it and the dashboard serves it: plain JSON. */
export interface ClvValidationReport extends Omit<HoldoutValidation, 'fit'> {
  readonly calibrationEnd: string;
  readonly holdoutEnd: string;
  readonly bgnbd: { r: number; alpha: number; a: number; b: number; logLikelihood: number };
}

export function toValidationReport(
  { fit, ...validation }: HoldoutValidation,
  calibrationEnd: string,
  holdoutEnd: string,
): ClvValidationReport {
  return {
    calibrationEnd,
    holdoutEnd,
    ...validation,
    bgnbd: { ...fit.params, logLikelihood: fit.logLikelihood },
  };
}
