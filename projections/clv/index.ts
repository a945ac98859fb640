/** CLV math: pure functions, no I/O. See README.md. */
export {
  parseCdnow,
  type CdnowFormat,
  type CdnowParseResult,
  type CustomerPurchases,
  type PurchaseDay,
} from './cdnow';
export { DAYS_PER_WEEK, formatIsoDay, parseCompactDay, parseIsoDay } from './dates';
export {
  historicClv,
  summarizeRfm,
  type RepeatPurchaseHistory,
  type RepeatSpend,
  type RfmSummary,
} from './rfm';
export {
  bgNbdLogLikelihood,
  expectedPurchases,
  expectedPurchasesNewCustomer,
  fitBgNbd,
  probabilityAlive,
  type BgNbdFit,
  type BgNbdParams,
} from './bgnbd';
export {
  expectedAverageSpend,
  fitGammaGamma,
  gammaGammaLogLikelihood,
  type GammaGammaFit,
  type GammaGammaParams,
} from './gamma-gamma';
export { predictedClv, WEEKS_PER_MONTH, type ClvModels, type ClvOptions } from './clv';
export { fitCdnow, type CdnowFit, type CdnowFitResult } from './fit-cdnow';
