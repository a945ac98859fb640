import { expectedPurchases } from './bgnbd';
import { predictedClv, WEEKS_PER_MONTH, type ClvModels } from './clv';
import { expectedAverageSpend } from './gamma-gamma';

const MODELS: ClvModels = {
  bgNbd: { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 },
  gammaGamma: { p: 6.25, q: 3.74, gamma: 15.44 },
};
const CUSTOMER = { x: 2, tx: 30.43, T: 38.86, monetary: 35 };

describe('predictedClv', () => {
  it('undiscounted, is expected purchases over the horizon times expected spend', () => {
    const clv = predictedClv(MODELS, CUSTOMER, { horizonMonths: 12 });
    const purchases = expectedPurchases(MODELS.bgNbd, CUSTOMER, 12 * WEEKS_PER_MONTH);
    expect(clv).toBeCloseTo(purchases * expectedAverageSpend(MODELS.gammaGamma, CUSTOMER), 10);
  });

  it('discounted month by month, adds up to the undiscounted value as the rate goes to 0', () => {
    const undiscounted = predictedClv(MODELS, CUSTOMER, { horizonMonths: 12 });
    expect(predictedClv(MODELS, CUSTOMER, { horizonMonths: 12, monthlyDiscountRate: 1e-12 })).toBeCloseTo(
      undiscounted,
      8,
    );
    const discounted = predictedClv(MODELS, CUSTOMER, { horizonMonths: 12, monthlyDiscountRate: 0.01 });
    expect(discounted).toBeLessThan(undiscounted);
    expect(discounted).toBeGreaterThan(undiscounted / Math.pow(1.01, 12));
  });

  it('counts the first month only once later months are discounted to nothing', () => {
    const spend = expectedAverageSpend(MODELS.gammaGamma, CUSTOMER);
    const firstMonth = (expectedPurchases(MODELS.bgNbd, CUSTOMER, WEEKS_PER_MONTH) * spend) / 1e9;
    expect(predictedClv(MODELS, CUSTOMER, { horizonMonths: 24, monthlyDiscountRate: 1e9 - 1 })).toBeCloseTo(
      firstMonth,
      12,
    );
  });

  it('is 0 over no time, and refuses a fractional horizon or a negative rate', () => {
    expect(predictedClv(MODELS, CUSTOMER, { horizonMonths: 0 })).toBe(0);
    expect(() => predictedClv(MODELS, CUSTOMER, { horizonMonths: 1.5 })).toThrow(RangeError);
    expect(() => predictedClv(MODELS, CUSTOMER, { horizonMonths: 12, monthlyDiscountRate: -0.1 })).toThrow(
      RangeError,
    );
  });
});
