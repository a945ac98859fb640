import {
  expectedAverageSpend,
  fitGammaGamma,
  gammaGammaLogLikelihood,
  type GammaGammaParams,
} from './gamma-gamma';

// Whole-number parameters keep the hand calculations to factorials.
const SMALL: GammaGammaParams = { p: 2, q: 3, gamma: 4 };

describe('Gamma-Gamma log-likelihood', () => {
  it('for one transaction of $2 is Γ(5) / (Γ(2) Γ(3)) 4^3 2 / 6^5', () => {
    const density = ((24 / (1 * 2)) * 64 * 2) / Math.pow(6, 5);
    expect(gammaGammaLogLikelihood(SMALL, [{ x: 1, monetary: 2 }])).toBeCloseTo(Math.log(density), 13);
  });

  it('for a mean of $1.50 over two transactions is Γ(7) / (Γ(4) Γ(3)) 4^3 1.5^3 2^4 / 7^7', () => {
    const density = ((720 / (6 * 2)) * 64 * Math.pow(1.5, 3) * 16) / Math.pow(7, 7);
    expect(gammaGammaLogLikelihood(SMALL, [{ x: 2, monetary: 1.5 }])).toBeCloseTo(Math.log(density), 13);
  });

  it('counts only repeat customers with spend: x = 0 and m = 0 add nothing', () => {
    const one = gammaGammaLogLikelihood(SMALL, [{ x: 2, monetary: 1.5 }]);
    const withOthers = gammaGammaLogLikelihood(SMALL, [
      { x: 0, monetary: 0 },
      { x: 2, monetary: 1.5 },
      { x: 3, monetary: 0 },
    ]);
    expect(withOthers).toBeCloseTo(one, 13);
  });
});

describe('fitGammaGamma', () => {
  const spends = [
    { x: 1, monetary: 10 },
    { x: 1, monetary: 35 },
    { x: 2, monetary: 18 },
    { x: 2, monetary: 60 },
    { x: 3, monetary: 22 },
    { x: 4, monetary: 15 },
    { x: 5, monetary: 40 },
    { x: 1, monetary: 12 },
    { x: 6, monetary: 25 },
    { x: 2, monetary: 9 },
    { x: 0, monetary: 0 },
    { x: 3, monetary: 0 },
  ];

  it('converges to a maximum and reports who it left out', () => {
    const fit = fitGammaGamma(spends);
    expect(fit.converged).toBe(true);
    expect(fit.customers).toBe(10);
    expect(fit.zeroSpendExcluded).toBe(1);
    for (const key of ['p', 'q', 'gamma'] as const) {
      for (const factor of [0.99, 1.01]) {
        const nudged = { ...fit.params, [key]: fit.params[key] * factor };
        expect(gammaGammaLogLikelihood(nudged, spends)).toBeLessThan(fit.logLikelihood);
      }
    }
  });

  it('refuses to fit without repeat spend', () => {
    expect(() => fitGammaGamma([{ x: 0, monetary: 0 }])).toThrow(RangeError);
  });
});

describe('expectedAverageSpend', () => {
  const params: GammaGammaParams = { p: 6.25, q: 3.74, gamma: 15.44 };
  const populationMean = (params.p * params.gamma) / (params.q - 1);

  it('is the population mean p gamma / (q - 1) for a customer with no repeat purchase', () => {
    expect(expectedAverageSpend(params, { x: 0, monetary: 0 })).toBeCloseTo(populationMean, 12);
  });

  it("weighs the customer's own mean more the more repeat purchases it rests on", () => {
    const m = 100;
    const spend = (x: number): number => expectedAverageSpend(params, { x, monetary: m });
    const weight = (x: number): number => (params.p * x) / (params.p * x + params.q - 1);
    expect(spend(3)).toBeCloseTo((1 - weight(3)) * populationMean + weight(3) * m, 10);
    expect(spend(1)).toBeLessThan(spend(3));
    expect(spend(3)).toBeLessThan(spend(30));
    expect(spend(30)).toBeLessThan(m);
  });

  it('refuses parameters with no finite mean', () => {
    expect(() => expectedAverageSpend({ p: 1, q: 0.5, gamma: 1 }, { x: 0, monetary: 0 })).toThrow(RangeError);
  });
});
