/**
 * Calibration/holdout on the CDNOW master file (23,570 customers, 39 weeks to 1997-09-30, holdout to
 * 1998-06-30), against an independent implementation: Python lifetimes 0.11.3 (pandas 1.5.3, scipy 1.11.4),
 * `calibration_and_holdout_data(..., freq='D')` with recency and T in weeks, `BetaGeoFitter().fit`, then
 * `conditional_expected_number_of_purchases_up_to_time(39)`. It gave: predicted 16,873.737, actual 19,684,
 * mean absolute error 0.818742, and per calibration frequency (0..6, 7+) the means below.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseCdnow } from './cdnow';
import { parseIsoDay } from './dates';
import { defaultHoldoutWindow, validateHoldout } from './holdout';

const MASTER = path.resolve(__dirname, '..', '..', 'test', 'data', 'cdnow', 'CDNOW_master.txt');

// lifetimes: [frequency, customers, mean actual holdout purchases, mean predicted]
const LIFETIMES_BY_FREQUENCY: readonly [string, number, number, number][] = [
  ['0', 14119, 0.250726, 0.230857],
  ['1', 4442, 0.784106, 0.519803],
  ['2', 2064, 1.402616, 1.037246],
  ['3', 1084, 1.836716, 1.579116],
  ['4', 605, 2.45124, 2.266942],
  ['5', 348, 3.063218, 2.891591],
  ['6', 272, 3.801471, 3.532734],
  ['7+', 636, 6.591195, 6.468526],
];

describe('validateHoldout on CDNOW master', () => {
  const parsed = parseCdnow(readFileSync(MASTER, 'utf8'));
  if (!parsed.ok) throw new Error(`${MASTER}:${parsed.line}: ${parsed.reason}`);
  const outcome = validateHoldout(parsed.customers, parseIsoDay('1997-09-30')!, parseIsoDay('1998-06-30')!);
  if (!outcome.ok) throw new Error(outcome.reason);
  const result = outcome.validation;

  it('predicts and counts the holdout repeat purchases as lifetimes does', () => {
    expect(result.customers).toBe(23570);
    expect(result.holdoutWeeks).toBe(39);
    expect(result.actualRepeatPurchases).toBe(19684);
    expect(result.predictedRepeatPurchases).toBeCloseTo(16873.737, 1);
    expect(result.meanAbsoluteError).toBeCloseTo(0.818742, 4);
    expect(result.relativeError).toBeCloseTo(-0.1428, 3);
  });

  it('gives the per-frequency view of the calibration/holdout plot', () => {
    expect(result.byFrequency.map((r) => [r.frequency, r.customers])).toEqual(
      LIFETIMES_BY_FREQUENCY.map(([f, n]) => [f, n]),
    );
    result.byFrequency.forEach((r, i) => {
      const [, , actual, predicted] = LIFETIMES_BY_FREQUENCY[i]!;
      expect(r.actualMean).toBeCloseTo(actual, 5);
      expect(r.predictedMean).toBeCloseTo(predicted, 4);
    });
  });
});

describe('validateHoldout', () => {
  const day = (iso: string): number => parseIsoDay(iso)!;
  const customer = (customerId: string, ...days: string[]) => ({
    customerId,
    days: days.map((d) => ({ day: day(d), transactions: 1, cds: 1, dollars: 10 })),
  });

  it('counts distinct purchase days after the calibration end up to the holdout end, inclusive', () => {
    const outcome = validateHoldout(
      [
        customer('a', '2020-01-01', '2020-02-01', '2020-03-02', '2020-03-31', '2020-04-01'),
        customer('b', '2020-01-05', '2020-01-20'),
        customer('late', '2020-03-05', '2020-03-06'), // first bought in the holdout: not a calibration customer
      ],
      day('2020-03-01'),
      day('2020-03-31'),
    );
    if (!outcome.ok) throw new Error(outcome.reason);
    expect(outcome.validation.customers).toBe(2);
    expect(outcome.validation.actualRepeatPurchases).toBe(2); // a: 03-02 and 03-31; 04-01 is past the holdout
  });

  it('refuses a holdout that does not follow the calibration period, and data without repeat purchases', () => {
    expect(
      validateHoldout([customer('a', '2020-01-01', '2020-02-01')], day('2020-03-01'), day('2020-03-01')),
    ).toEqual({
      ok: false,
      reason: 'the holdout must end after the calibration period',
    });
    expect(validateHoldout([customer('a', '2020-01-01')], day('2020-03-01'), day('2020-04-01'))).toEqual({
      ok: false,
      reason: 'no customer made a repeat purchase by the calibration end',
    });
  });
});

describe('defaultHoldoutWindow', () => {
  it('ends on the last purchase day and holds out the shorter of 39 weeks and half the span', () => {
    expect(defaultHoldoutWindow(0, 1000)).toEqual({ calibrationEnd: 1000 - 273, holdoutEnd: 1000 });
    expect(defaultHoldoutWindow(0, 100)).toEqual({ calibrationEnd: 50, holdoutEnd: 100 });
    expect(defaultHoldoutWindow(5, 6)).toBeUndefined();
  });
});
