/**
 * The Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value
 * curves for customer base analysis", Journal of Marketing Research 42(4), 415-430; derivations in Fader &
 * Hardie's note "The Gamma-Gamma model of monetary value", 2013). A customer's transaction values are
 * Gamma(p, nu) with nu ~ Gamma(q, gamma) across customers, independent of the purchase process, so the mean
 * m of a customer's x repeat transactions has the marginal density
 *   f(m | p, q, gamma; x) = Γ(px + q) / (Γ(px) Γ(q)) * gamma^q m^(px - 1) x^(px) / (gamma + m x)^(px + q).
 *
 * Only customers with x > 0 carry information on spend. A customer whose repeat purchases were all free
 * (m = 0) has zero density under any parameters, so those are left out of the fit as well and counted.
 */
import { lnGamma } from './special';
import { minimizeNelderMead, type NelderMeadOptions } from './nelder-mead';
import type { RepeatSpend } from './rfm';

export interface GammaGammaParams {
  readonly p: number;
  readonly q: number;
  readonly gamma: number;
}

export interface GammaGammaFit {
  readonly params: GammaGammaParams;
  readonly logLikelihood: number;
  /** Customers the fit used: x > 0 and m > 0. */
  readonly customers: number;
  /** Repeat customers left out because their mean repeat spend was 0. */
  readonly zeroSpendExcluded: number;
  readonly evaluations: number;
  readonly converged: boolean;
}

interface CompiledSpends {
  readonly customers: number;
  readonly distinctX: Float64Array;
  readonly customersPerX: Float64Array;
  /** Per customer: */
  readonly x: Float64Array;
  readonly xm: Float64Array;
  /** Sums of ln m, x ln m and x ln x over customers, the parts of the likelihood linear in p. */
  readonly sumLnM: number;
  readonly sumXLnM: number;
  readonly sumXLnX: number;
  readonly zeroSpendExcluded: number;
}

function compile(spends: readonly RepeatSpend[]): CompiledSpends {
  const xs: number[] = [];
  const xms: number[] = [];
  const perX = new Map<number, number>();
  let sumLnM = 0;
  let sumXLnM = 0;
  let sumXLnX = 0;
  let zeroSpendExcluded = 0;
  for (const { x, monetary: m } of spends) {
    if (!Number.isInteger(x) || x < 0)
      throw new RangeError(`Gamma-Gamma: x must be a whole number >= 0, got ${x}`);
    if (!(m >= 0 && Number.isFinite(m)))
      throw new RangeError(`Gamma-Gamma: spend must be finite and >= 0, got ${m}`);
    if (x === 0) continue;
    if (m === 0) {
      zeroSpendExcluded++;
      continue;
    }
    xs.push(x);
    xms.push(x * m);
    perX.set(x, (perX.get(x) ?? 0) + 1);
    sumLnM += Math.log(m);
    sumXLnM += x * Math.log(m);
    sumXLnX += x * Math.log(x);
  }
  return {
    customers: xs.length,
    distinctX: Float64Array.from(perX.keys()),
    customersPerX: Float64Array.from(perX.values()),
    x: Float64Array.from(xs),
    xm: Float64Array.from(xms),
    sumLnM,
    sumXLnM,
    sumXLnX,
    zeroSpendExcluded,
  };
}

/**
 * The sum over customers of
 *   ln Γ(px + q) - ln Γ(px) - ln Γ(q) + q ln gamma + (px - 1) ln m + px ln x - (px + q) ln(gamma + m x).
 */
function compiledLogLikelihood(data: CompiledSpends, { p, q, gamma }: GammaGammaParams): number {
  const { customers, distinctX, customersPerX, x, xm } = data;
  let ll = customers * (q * Math.log(gamma) - lnGamma(q)) + p * (data.sumXLnM + data.sumXLnX) - data.sumLnM;
  for (let k = 0; k < distinctX.length; k++) {
    const px = p * distinctX[k]!;
    ll += customersPerX[k]! * (lnGamma(px + q) - lnGamma(px));
  }
  for (let i = 0; i < x.length; i++) ll -= (p * x[i]! + q) * Math.log(gamma + xm[i]!);
  return ll;
}

/** Log-likelihood of the Gamma-Gamma model summed over the customers with x > 0 and m > 0. */
export function gammaGammaLogLikelihood(params: GammaGammaParams, spends: readonly RepeatSpend[]): number {
  return compiledLogLikelihood(compile(spends), params);
}

/** Maximum-likelihood estimates of p, q, gamma, by Nelder-Mead over their logarithms from p = q = gamma = 1. */
export function fitGammaGamma(
  spends: readonly RepeatSpend[],
  options: NelderMeadOptions & { readonly start?: GammaGammaParams } = {},
): GammaGammaFit {
  const data = compile(spends);
  if (data.customers === 0)
    throw new RangeError('Gamma-Gamma: cannot fit without a customer with repeat spend');
  const fromLog = (v: readonly number[]): GammaGammaParams => ({
    p: Math.exp(v[0]!),
    q: Math.exp(v[1]!),
    gamma: Math.exp(v[2]!),
  });
  const start = options.start ?? { p: 1, q: 1, gamma: 1 };
  const result = minimizeNelderMead(
    (v) => -compiledLogLikelihood(data, fromLog(v)) / data.customers,
    [start.p, start.q, start.gamma].map(Math.log),
    options,
  );
  const params = fromLog(result.x);
  return {
    params,
    logLikelihood: compiledLogLikelihood(data, params),
    customers: data.customers,
    zeroSpendExcluded: data.zeroSpendExcluded,
    evaluations: result.evaluations,
    converged: result.converged,
  };
}

/**
 * E[M | p, q, gamma; m, x]: expected spend per transaction of a customer with mean repeat spend m over x
 * repeat transactions, a weighted average of the population mean p gamma / (q - 1) and the customer's own m:
 *   p (gamma + m x) / (p x + q - 1)
 *   = (q - 1) / (p x + q - 1) * p gamma / (q - 1) + p x / (p x + q - 1) * m.
 * For x = 0 it is the population mean, which exists only for q > 1 (in general it needs p x + q > 1).
 */
export function expectedAverageSpend(
  { p, q, gamma }: GammaGammaParams,
  { x, monetary }: RepeatSpend,
): number {
  const denominator = p * x + q - 1;
  if (!(denominator > 0))
    throw new RangeError(`Gamma-Gamma: the mean spend needs p x + q > 1, got ${denominator + 1}`);
  return (p * (gamma + monetary * x)) / denominator;
}
