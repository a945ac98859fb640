/**
 * The BG/NBD model of repeat buying (Fader, Hardie & Lee 2005, "'Counting your customers' the easy way: an
 * alternative to the Pareto/NBD model", Marketing Science 24(2), 275-284): while alive a customer buys as a
 * Poisson process with rate lambda ~ Gamma(r, alpha); after each purchase they drop out with probability
 * p ~ Beta(a, b). Data per customer: x repeat purchases, the last at tx, observed for T (see rfm.ts).
 *
 * Fitting maximises the log-likelihood (eq. 6) with Nelder-Mead over (ln r, ln alpha, ln a, ln b). For speed
 * (23,570 CDNOW_master customers in well under a second) the data are compiled once: identical (x, tx, T)
 * rows are counted rather than repeated, the terms that depend only on x are evaluated once per distinct x,
 * and ln(alpha + t) once per distinct time value, so a likelihood evaluation is one exp and one log1p per
 * distinct row.
 */
import { lnGamma, hyp2f1 } from './special';
import { minimizeNelderMead, type NelderMeadOptions } from './nelder-mead';
import type { RepeatPurchaseHistory } from './rfm';

export interface BgNbdParams {
  readonly r: number;
  readonly alpha: number;
  readonly a: number;
  readonly b: number;
}

export interface BgNbdFit {
  readonly params: BgNbdParams;
  readonly logLikelihood: number;
  readonly customers: number;
  readonly evaluations: number;
  readonly converged: boolean;
}

/** Histories compiled for fast likelihood evaluation (see the file comment). */
interface CompiledHistories {
  readonly customers: number;
  readonly distinctX: Float64Array;
  /** Customers with each distinct x. */
  readonly customersPerX: Float64Array;
  readonly times: Float64Array;
  /** Per distinct (x, tx, T) row: */
  readonly xIndex: Int32Array;
  readonly x: Float64Array;
  readonly txIndex: Int32Array;
  readonly TIndex: Int32Array;
  readonly weight: Float64Array;
}

function compile(histories: readonly RepeatPurchaseHistory[]): CompiledHistories {
  const xIndexOf = new Map<number, number>();
  const timeIndexOf = new Map<number, number>();
  const rowIndexOf = new Map<string, number>();
  const distinctX: number[] = [];
  const customersPerX: number[] = [];
  const times: number[] = [];
  const rows: { xIndex: number; x: number; txIndex: number; TIndex: number; weight: number }[] = [];
  const timeIndex = (t: number): number => {
    let i = timeIndexOf.get(t);
    if (i === undefined) timeIndexOf.set(t, (i = times.push(t) - 1));
    return i;
  };

  for (const h of histories) {
    const { x, T } = h;
    if (!Number.isInteger(x) || x < 0)
      throw new RangeError(`BG/NBD: x must be a whole number >= 0, got ${x}`);
    if (!(T >= 0 && Number.isFinite(T))) throw new RangeError(`BG/NBD: T must be finite and >= 0, got ${T}`);
    // With no repeat purchase tx plays no part in the likelihood; fold all such rows onto tx = 0.
    const tx = x === 0 ? 0 : h.tx;
    if (!(tx >= 0 && tx <= T))
      throw new RangeError(`BG/NBD: tx must lie in [0, T], got tx = ${tx}, T = ${T}`);

    let xi = xIndexOf.get(x);
    if (xi === undefined) {
      xIndexOf.set(x, (xi = distinctX.push(x) - 1));
      customersPerX.push(0);
    }
    customersPerX[xi]!++;
    const key = `${x} ${tx} ${T}`;
    const ri = rowIndexOf.get(key);
    if (ri !== undefined) rows[ri]!.weight++;
    else {
      rowIndexOf.set(key, rows.length);
      rows.push({ xIndex: xi, x, txIndex: timeIndex(tx), TIndex: timeIndex(T), weight: 1 });
    }
  }
  return {
    customers: histories.length,
    distinctX: Float64Array.from(distinctX),
    customersPerX: Float64Array.from(customersPerX),
    times: Float64Array.from(times),
    xIndex: Int32Array.from(rows, (row) => row.xIndex),
    x: Float64Array.from(rows, (row) => row.x),
    txIndex: Int32Array.from(rows, (row) => row.txIndex),
    TIndex: Int32Array.from(rows, (row) => row.TIndex),
    weight: Float64Array.from(rows, (row) => row.weight),
  };
}

/**
 * Sum of eq. 6 over compiled histories, in the log form of Fader & Hardie's "Implementing the BG/NBD model
 * for customer base analysis in Excel" (2005 note):
 *   ln L = ln A1 + ln A2 + ln(exp(ln A3) + [x > 0] exp(ln A4)), where
 *   ln A1 = ln Γ(r + x) - ln Γ(r) + r ln alpha
 *   ln A2 = ln Γ(a + b) + ln Γ(b + x) - ln Γ(b) - ln Γ(a + b + x)
 *   ln A3 = -(r + x) ln(alpha + T)
 *   ln A4 = ln a - ln(b + x - 1) - (r + x) ln(alpha + tx)
 */
function compiledLogLikelihood(data: CompiledHistories, { r, alpha, a, b }: BgNbdParams): number {
  const { distinctX, customersPerX, times } = data;
  let ll = 0;
  const constant = -lnGamma(r) + r * Math.log(alpha) + lnGamma(a + b) - lnGamma(b);
  const lnA4PerX = new Float64Array(distinctX.length);
  for (let k = 0; k < distinctX.length; k++) {
    const x = distinctX[k]!;
    ll += customersPerX[k]! * (constant + lnGamma(r + x) + lnGamma(b + x) - lnGamma(a + b + x));
    lnA4PerX[k] = x > 0 ? Math.log(a) - Math.log(b + x - 1) : -Infinity;
  }
  const lnAlphaPlus = new Float64Array(times.length);
  for (let k = 0; k < times.length; k++) lnAlphaPlus[k] = Math.log(alpha + times[k]!);

  const { xIndex, x, txIndex, TIndex, weight } = data;
  for (let i = 0; i < weight.length; i++) {
    const rx = r + x[i]!;
    const lnA3 = -rx * lnAlphaPlus[TIndex[i]!]!;
    const lnA4 = lnA4PerX[xIndex[i]!]! - rx * lnAlphaPlus[txIndex[i]!]!;
    // ln(e^A3 + e^A4) without overflow; for x = 0, lnA4 = -Infinity and this is lnA3.
    const term =
      lnA3 >= lnA4 ? lnA3 + Math.log1p(Math.exp(lnA4 - lnA3)) : lnA4 + Math.log1p(Math.exp(lnA3 - lnA4));
    ll += weight[i]! * term;
  }
  return ll;
}

/** Log-likelihood of the BG/NBD model (FHL 2005, eq. 6) summed over customers. */
export function bgNbdLogLikelihood(params: BgNbdParams, histories: readonly RepeatPurchaseHistory[]): number {
  return compiledLogLikelihood(compile(histories), params);
}

/**
 * Beyond e^±LOG_PARAM_LIMIT a parameter changes the fit no more (a and b of 1e5 and 1e6 are a point mass of
 * dropout probability at their ratio, as much as 1e7 and 1e8 are), and a likelihood that keeps improving out
 * there, by less each time, makes the simplex crawl along the ridge for all its iterations: seconds instead
 * of milliseconds, on data whose customers all drop out alike (or never). A quadratic wall past the limit
 * stops it there; fits inside (every published one) are untouched.
 */
const LOG_PARAM_LIMIT = 12;
function ridgePenalty(v: readonly number[]): number {
  let penalty = 0;
  for (const x of v) {
    const beyond = Math.abs(x) - LOG_PARAM_LIMIT;
    if (beyond > 0) penalty += beyond * beyond;
  }
  return penalty;
}

/**
 * Maximum-likelihood estimates of r, alpha, a, b. Starts from all ones (the scale of weeks); the objective
 * is the mean negative log-likelihood per customer, so the tolerances do not depend on the data size.
 */
export function fitBgNbd(
  histories: readonly RepeatPurchaseHistory[],
  options: NelderMeadOptions & { readonly start?: BgNbdParams } = {},
): BgNbdFit {
  if (histories.length === 0) throw new RangeError('BG/NBD: cannot fit without customers');
  const data = compile(histories);
  const fromLog = (v: readonly number[]): BgNbdParams => ({
    r: Math.exp(v[0]!),
    alpha: Math.exp(v[1]!),
    a: Math.exp(v[2]!),
    b: Math.exp(v[3]!),
  });
  const start = options.start ?? { r: 1, alpha: 1, a: 1, b: 1 };
  const result = minimizeNelderMead(
    (v) => -compiledLogLikelihood(data, fromLog(v)) / data.customers + ridgePenalty(v),
    [start.r, start.alpha, start.a, start.b].map(Math.log),
    options,
  );
  const params = fromLog(result.x);
  return {
    params,
    logLikelihood: compiledLogLikelihood(data, params),
    customers: data.customers,
    evaluations: result.evaluations,
    converged: result.converged,
  };
}

/**
 * P(alive | x, tx, T): the probability a customer has not dropped out by T (Fader, Hardie & Lee 2008 note,
 * "Computing P(alive) using the BG/NBD model"):
 *   1 / (1 + [x > 0] a / (b + x - 1) ((alpha + T) / (alpha + tx))^(r + x)).
 * In the BG/NBD a customer can only drop out right after a purchase, so with no repeat purchase it is 1, and
 * right after a purchase (tx = T) it is (b + x - 1) / (a + b + x - 1), not 1.
 */
export function probabilityAlive(
  { r, alpha, a, b }: BgNbdParams,
  { x, tx, T }: RepeatPurchaseHistory,
): number {
  if (x === 0) return 1;
  return 1 / (1 + (a / (b + x - 1)) * Math.exp((r + x) * (Math.log(alpha + T) - Math.log(alpha + tx))));
}

/**
 * E[Y(t) | x, tx, T]: expected purchases in the next t (weeks) after T (FHL 2005, eq. 10):
 *   (a + b + x - 1) / (a - 1)
 *   * [1 - ((alpha + T) / (alpha + T + t))^(r + x) 2F1(r + x, b + x; a + b + x - 1; t / (alpha + T + t))]
 *   * P(alive | x, tx, T).
 * It holds for any a other than 1 (the CDNOW fit has a = 0.79: both factors are then negative). At a = 1 both
 * factors vanish; that singularity is removable, so there we average the two sides at 1 -/+ 1e-7.
 */
export function expectedPurchases(params: BgNbdParams, history: RepeatPurchaseHistory, t: number): number {
  if (!(t >= 0)) throw new RangeError(`BG/NBD: horizon t must be >= 0, got ${t}`);
  if (t === 0) return 0;
  const { a } = params;
  const perAlive =
    Math.abs(a - 1) < A_NEAR_ONE
      ? (aliveExpectation(params, 1 - A_NEAR_ONE, history, t) +
          aliveExpectation(params, 1 + A_NEAR_ONE, history, t)) /
        2
      : aliveExpectation(params, a, history, t);
  return perAlive * probabilityAlive(params, history);
}

const A_NEAR_ONE = 1e-7;

/**
 * The first two factors of eq. 10: expected purchases in the next t for a customer alive at T.
 *
 * Eq. 10 multiplies ((alpha + T) / (alpha + T + t))^(r + x) by 2F1(r + x, b + x; a + b + x - 1; z). For
 * frequent buyers the power underflows while the series overflows (x = 700, T = 100, t = 260 gave
 * 0 * Infinity = NaN). Euler's transformation (Abramowitz & Stegun 15.3.3),
 *   2F1(A, B; C; z) = (1 - z)^(C - A - B) 2F1(C - A, C - B; C; z),
 * with 1 - z = (alpha + T) / (alpha + T + t) and C - A - B = a - 1 - r - x, gives the same product as
 *   (1 - z)^(a - 1) 2F1(a + b - 1 - r, a - 1; a + b + x - 1; z),
 * whose upper parameters do not grow with x but do with a and b: a fit where almost nobody drops out
 * (a = 5e4, b = 1.6e5) overflows this form instead. Each form's series grows by about A B / C per term at
 * first, so the form with the smaller |A B| is used; both are exact.
 */
function aliveExpectation(
  { r, alpha, b }: BgNbdParams,
  a: number,
  { x, T }: RepeatPurchaseHistory,
  t: number,
): number {
  const z = t / (alpha + T + t);
  const oneMinusZ = (alpha + T) / (alpha + T + t);
  const c = a + b + x - 1;
  const euler = Math.abs((a + b - 1 - r) * (a - 1)) < Math.abs((r + x) * (b + x));
  const product = euler
    ? Math.pow(oneMinusZ, a - 1) * hyp2f1(a + b - 1 - r, a - 1, c, z)
    : Math.pow(oneMinusZ, r + x) * hyp2f1(r + x, b + x, c, z);
  return ((a + b + x - 1) / (a - 1)) * (1 - product);
}

/** E[X(t)]: expected repeat purchases in (0, t] for a customer just acquired (FHL 2005, eq. 7). */
export function expectedPurchasesNewCustomer(params: BgNbdParams, t: number): number {
  return expectedPurchases(params, { x: 0, tx: 0, T: 0 }, t);
}
