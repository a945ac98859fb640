/**
 * The published CDNOW fits, reproduced from the real data. Fader, Hardie & Lee fit the 2,357-customer
 * sample with a 39-week calibration period (1997-01-01 to 1997-09-30), repeat purchases counted as
 * distinct purchase days:
 * - BG/NBD ("Counting your customers the easy way", 2005, §4): r = 0.243, alpha = 4.414, a = 0.793,
 *   b = 2.426, log-likelihood -9582.4;
 * - Gamma-Gamma ("RFM and CLV", 2005): p = 6.25, q = 3.74, gamma = 15.44 over the 946 repeat customers.
 *
 * The dataset is in the repository (test/data/cdnow, with its source). Without it this test fails rather
 * than skips: the published numbers are the strongest check the models have.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseCdnow, type CustomerPurchases } from './cdnow';
import { parseIsoDay } from './dates';
import { fitCdnow } from './fit-cdnow';
import { fitGammaGamma } from './gamma-gamma';
import { summarizeRfm } from './rfm';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const DATASETS = path.resolve(REPO_ROOT, 'test', 'data', 'cdnow');

function readCdnow(name: string): CustomerPurchases[] {
  const file = path.join(DATASETS, name);
  if (!existsSync(file)) {
    throw new Error(`${file} is missing: this test needs Fader & Hardie's CDNOW data (${name}) there`);
  }
  const parsed = parseCdnow(readFileSync(file, 'utf8'));
  if (!parsed.ok) throw new Error(`${file}:${parsed.line}: ${parsed.reason}`);
  return [...parsed.customers];
}

const withinOnePercent = (actual: number, published: number): void => {
  expect(Math.abs(actual / published - 1)).toBeLessThan(0.01);
};

describe('CDNOW sample, 39-week calibration ending 1997-09-30', () => {
  const customers = readCdnow('CDNOW_sample.txt');
  const calibrationEnd = parseIsoDay('1997-09-30')!;
  const fit = fitCdnow(customers, calibrationEnd);
  if (!fit.ok) throw new Error(fit.reason);

  it('has the 2,357 customers and 946 repeat customers of the published analyses', () => {
    expect(fit.customers).toBe(2357);
    expect(fit.repeatCustomers).toBe(946);
    expect(fit.gammaGamma.customers).toBe(946);
  });

  it('reproduces the published BG/NBD fit within 1%', () => {
    const { params, logLikelihood, converged } = fit.bgNbd;
    expect(converged).toBe(true);
    withinOnePercent(params.r, 0.243);
    withinOnePercent(params.alpha, 4.414);
    withinOnePercent(params.a, 0.793);
    withinOnePercent(params.b, 2.426);
    withinOnePercent(logLikelihood, -9582.4);
  });

  it('reproduces the published Gamma-Gamma fit within 1%, with monetary value the mean of repeat purchase days', () => {
    const { params, converged } = fit.gammaGamma;
    expect(converged).toBe(true);
    withinOnePercent(params.p, 6.25);
    withinOnePercent(params.q, 3.74);
    withinOnePercent(params.gamma, 15.44);
  });

  it('would not reproduce it with monetary value the mean over all purchase days (first one included)', () => {
    const allDays = summarizeRfm(customers, calibrationEnd).map((s) => ({
      x: s.x,
      monetary: s.revenue / (s.x + 1),
    }));
    const { params } = fitGammaGamma(allDays);
    expect(Math.abs(params.p / 6.25 - 1)).toBeGreaterThan(0.5);
  });
});

describe('CDNOW master file', () => {
  it('parses past its header: 69,659 transactions by 23,570 customers, all first buying in Q1 1997', () => {
    const customers = readCdnow('CDNOW_master.txt');
    expect(customers).toHaveLength(23570);
    expect(customers.reduce((n, c) => n + c.days.reduce((k, d) => k + d.transactions, 0), 0)).toBe(69659);
    const lastFirstPurchase = Math.max(...customers.map((c) => c.days[0]!.day));
    expect(lastFirstPurchase).toBeLessThanOrEqual(parseIsoDay('1997-03-31')!);
  });
});
