/**
 * `ciclo clv refit`: fits BG/NBD and Gamma-Gamma on the purchase history in ClickHouse and writes, per
 * customer, expected purchases and predicted CLV over 12 months, P(alive) and historic CLV to
 * customer_clv (newest fit wins). Purchase days are distinct days with a purchase; amounts are minor units.
 * The pure part (rows -> histories -> per-customer values) is separate from the two queries.
 */
import type { ClickHouseEngine } from '../../infra/clickhouse/engine';
import { CicloError } from '../../infra/errors';
import { providerEventId } from '../../schemas/event-id';
import type { Touchpoint } from '../../schemas/touchpoint';
import { identifier } from '../sql';
import { expectedPurchases, fitBgNbd, probabilityAlive, type BgNbdFit } from './bgnbd';
import type { CustomerPurchases } from './cdnow';
import { WEEKS_PER_MONTH, predictedClv } from './clv';
import { expectedAverageSpend, fitGammaGamma, type GammaGammaFit } from './gamma-gamma';
import { summarizeRfm } from './rfm';

export interface PurchaseDayRow {
  readonly customer_id: string;
  /** Days since 1970-01-01. */
  readonly day: number | string;
  readonly amount_minor: number | string;
  readonly currency?: string;
}

export interface CustomerClv {
  readonly customerId: string;
  readonly frequency: number;
  readonly recencyWeeks: number;
  readonly ageWeeks: number;
  readonly expectedPurchases12m: number;
  readonly probabilityAlive: number;
  readonly expectedSpendMinor: number;
  readonly predictedClvMinor: number;
  readonly historicClvMinor: number;
}

export interface RefitResult {
  readonly bgNbd: BgNbdFit;
  readonly gammaGamma: GammaGammaFit;
  readonly asOfDay: number;
  readonly customers: readonly CustomerClv[];
}

/** Rows ordered by customer and day -> histories; amounts become major units for the models. */
export function toHistories(rows: readonly PurchaseDayRow[]): CustomerPurchases[] {
  const byCustomer = new Map<string, { day: number; transactions: number; cds: number; dollars: number }[]>();
  for (const r of rows) {
    const days = byCustomer.get(r.customer_id) ?? [];
    days.push({ day: Number(r.day), transactions: 1, cds: 0, dollars: Number(r.amount_minor) / 100 });
    byCustomer.set(r.customer_id, days);
  }
  return [...byCustomer].map(([customerId, days]) => ({
    customerId,
    days: days.sort((a, b) => a.day - b.day),
  }));
}

export function refitCustomers(histories: readonly CustomerPurchases[], asOfDay: number): RefitResult {
  const summary = summarizeRfm(histories, asOfDay);
  if (!summary.some((s) => s.x > 0 && s.monetary > 0)) {
    throw new CicloError(
      'EVENT_INVALID',
      'CLV refit needs customers with repeat purchases; none found in ClickHouse',
    );
  }
  const bgNbd = fitBgNbd(summary);
  const gammaGamma = fitGammaGamma(summary);
  const models = { bgNbd: bgNbd.params, gammaGamma: gammaGamma.params };
  const customers = summary.map((s) => ({
    customerId: s.customerId,
    frequency: s.x,
    recencyWeeks: s.tx,
    ageWeeks: s.T,
    expectedPurchases12m: expectedPurchases(models.bgNbd, s, 12 * WEEKS_PER_MONTH),
    probabilityAlive: probabilityAlive(models.bgNbd, s),
    expectedSpendMinor: expectedAverageSpend(models.gammaGamma, s) * 100,
    predictedClvMinor: predictedClv(models, s, { horizonMonths: 12 }) * 100,
    historicClvMinor: Math.round(s.revenue * 100),
  }));
  return { bgNbd, gammaGamma, asOfDay, customers };
}

const DAY_MS = 86_400_000;

/**
 * The fit as touchpoints for the processor: one ClvPredicted per customer, at the end of the fit's as-of
 * day (the last purchase day in the data, so stream time does not jump ahead of the data), with an id per
 * customer and day so that refitting twice on one day changes nothing downstream. Pure.
 */
/** When a fit's predictions happen: the last second of its as-of day. */
export function clvPredictionTime(asOfDay: number): number {
  return (asOfDay + 1) * DAY_MS - 1000;
}

export function clvPredictions(
  result: RefitResult,
  currencyOf: ReadonlyMap<string, string>,
  receivedAt: number,
): Touchpoint[] {
  const occurredAt = clvPredictionTime(result.asOfDay);
  const day = new Date(result.asOfDay * DAY_MS).toISOString().slice(0, 10);
  return result.customers.map((c) => ({
    eventId: providerEventId('clv', c.customerId, day),
    type: 'ClvPredicted',
    customerId: c.customerId,
    occurredAt,
    receivedAt,
    source: { kind: 'model', name: 'clv-refit' },
    payload: {
      probabilityAlive: Math.min(1, Math.max(0, c.probabilityAlive)),
      expectedPurchases12m: Math.max(0, c.expectedPurchases12m),
      predictedClvMinor: Math.max(0, Math.round(c.predictedClvMinor)),
      currency: currencyOf.get(c.customerId) ?? 'USD',
    },
  }));
}

export interface ClickHouseRefit extends RefitResult {
  /** Each customer's purchase currency, for the predictions' money. */
  readonly currencyOf: ReadonlyMap<string, string>;
}

/** Each customer's purchase days in ClickHouse, ordered by customer and day (none when nothing was bought). */
export async function queryPurchaseDays(
  engine: ClickHouseEngine,
  database: string,
): Promise<PurchaseDayRow[]> {
  return engine.query<PurchaseDayRow>(
    `SELECT customer_id, toUInt32(toDate(revenue_at)) AS day, sum(amount_minor) AS amount_minor, any(currency) AS currency
     FROM ${identifier(database)}.revenue_events WHERE kind = 'purchase' AND customer_id != ''
     GROUP BY customer_id, day ORDER BY customer_id, day`,
  );
}

/** queryPurchaseDays for the fits, which need purchases: EVENT_INVALID when there are none. */
export async function purchaseDays(engine: ClickHouseEngine, database: string): Promise<PurchaseDayRow[]> {
  const rows = await queryPurchaseDays(engine, database);
  if (rows.length === 0)
    throw new CicloError(
      'EVENT_INVALID',
      `no purchases in ${identifier(database)}.revenue_events yet: import or collect some first`,
    );
  return rows;
}

export async function refitFromClickHouse(
  engine: ClickHouseEngine,
  database: string,
  fittedAtMs: number,
): Promise<ClickHouseRefit> {
  const db = identifier(database);
  const rows = await purchaseDays(engine, database);
  const asOfDay = Math.max(...rows.map((r) => Number(r.day)));
  const result = refitCustomers(toHistories(rows), asOfDay);
  const fittedAt = new Date(fittedAtMs).toISOString().slice(0, 19).replace('T', ' ');
  const out = result.customers.map((c) => ({
    customer_id: c.customerId,
    fitted_at: fittedAt,
    frequency: c.frequency,
    recency_weeks: c.recencyWeeks,
    age_weeks: c.ageWeeks,
    expected_purchases_12m: c.expectedPurchases12m,
    probability_alive: c.probabilityAlive,
    expected_spend_minor: c.expectedSpendMinor,
    predicted_clv_minor: c.predictedClvMinor,
    historic_clv_minor: c.historicClvMinor,
  }));
  for (let i = 0; i < out.length; i += 10_000)
    await engine.insert(`${db}.customer_clv`, out.slice(i, i + 10_000));
  const currencyOf = new Map<string, string>();
  for (const r of rows) if (r.currency) currencyOf.set(r.customer_id, r.currency);
  return { ...result, currencyOf };
}
