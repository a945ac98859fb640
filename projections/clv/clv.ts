/**
 * Predicted customer lifetime value: expected purchases over a horizon (BG/NBD) times expected spend per
 * purchase (Gamma-Gamma), the two being independent by the Gamma-Gamma model's assumption (Fader, Hardie &
 * Lee 2005, "RFM and CLV", §3). Revenue, not margin: multiply by a margin where one is known.
 *
 * Discounting is monthly and discrete: the purchases expected in month i are discounted by (1 + d)^-i, as in
 * Python lifetimes' `customer_lifetime_value`. (FHL's continuous-time "discounted expected residual
 * transactions" has a closed form for the Pareto/NBD only.) With d = 0 this is E[Y(horizon)] times spend.
 */
import { expectedPurchases, type BgNbdParams } from './bgnbd';
import { expectedAverageSpend, type GammaGammaParams } from './gamma-gamma';
import type { RepeatPurchaseHistory, RepeatSpend } from './rfm';

/** The models are fitted in weeks (rfm.ts); an average month is 365.25 / 12 days. */
export const WEEKS_PER_MONTH = 365.25 / 12 / 7;

export interface ClvModels {
  readonly bgNbd: BgNbdParams;
  readonly gammaGamma: GammaGammaParams;
}

export interface ClvOptions {
  /** Whole months ahead of the end of the customer's observation (T). */
  readonly horizonMonths: number;
  /** Monthly discount rate, e.g. 0.01 for 1% a month; 0 (no discounting) when left out. */
  readonly monthlyDiscountRate?: number;
}

export function predictedClv(
  models: ClvModels,
  customer: RepeatPurchaseHistory & RepeatSpend,
  { horizonMonths, monthlyDiscountRate = 0 }: ClvOptions,
): number {
  if (!Number.isInteger(horizonMonths) || horizonMonths < 0) {
    throw new RangeError(`CLV: horizonMonths must be a whole number >= 0, got ${horizonMonths}`);
  }
  if (!(monthlyDiscountRate >= 0))
    throw new RangeError(`CLV: monthlyDiscountRate must be >= 0, got ${monthlyDiscountRate}`);
  const spend = expectedAverageSpend(models.gammaGamma, customer);
  if (monthlyDiscountRate === 0) {
    return expectedPurchases(models.bgNbd, customer, horizonMonths * WEEKS_PER_MONTH) * spend;
  }
  let value = 0;
  let previous = 0;
  for (let month = 1; month <= horizonMonths; month++) {
    const cumulative = expectedPurchases(models.bgNbd, customer, month * WEEKS_PER_MONTH);
    value += ((cumulative - previous) * spend) / Math.pow(1 + monthlyDiscountRate, month);
    previous = cumulative;
  }
  return value;
}
