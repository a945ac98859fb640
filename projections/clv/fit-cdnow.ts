/**
 * From purchase histories to fitted models for one calibration period: the RFM summary, then BG/NBD over
 * every customer and Gamma-Gamma over the repeat customers. What `ciclo clv fit` runs, minus the file I/O.
 */
import { fitBgNbd, type BgNbdFit } from './bgnbd';
import type { CustomerPurchases } from './cdnow';
import { fitGammaGamma, type GammaGammaFit } from './gamma-gamma';
import { summarizeRfm } from './rfm';

export interface CdnowFit {
  readonly bgNbd: BgNbdFit;
  readonly gammaGamma: GammaGammaFit;
  /** Customers in the calibration summary (first purchase on or before the calibration end). */
  readonly customers: number;
  /** Of those, customers with at least one repeat purchase day. */
  readonly repeatCustomers: number;
}

export type CdnowFitResult =
  ({ readonly ok: true } & CdnowFit) | { readonly ok: false; readonly reason: string };

/** calibrationEnd is a day number (dates.ts), inclusive. */
export function fitCdnow(customers: readonly CustomerPurchases[], calibrationEnd: number): CdnowFitResult {
  const summary = summarizeRfm(customers, calibrationEnd);
  if (summary.length === 0)
    return { ok: false, reason: 'no customer made a purchase by the calibration end' };
  const repeatCustomers = summary.filter((s) => s.x > 0).length;
  if (!summary.some((s) => s.x > 0 && s.monetary > 0)) {
    return { ok: false, reason: 'no customer spent money on a repeat purchase by the calibration end' };
  }
  return {
    ok: true,
    bgNbd: fitBgNbd(summary),
    gammaGamma: fitGammaGamma(summary),
    customers: summary.length,
    repeatCustomers,
  };
}
