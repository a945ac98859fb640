import type { CustomerPurchases } from './cdnow';
import { parseIsoDay } from './dates';
import { historicClv, summarizeRfm } from './rfm';

const day = (iso: string): number => parseIsoDay(iso)!;
const purchase = (iso: string, dollars: number, transactions = 1) => ({
  day: day(iso),
  transactions,
  cds: 1,
  dollars,
});

describe('summarizeRfm', () => {
  const calibrationEnd = day('1997-09-30');
  const repeater: CustomerPurchases = {
    customerId: '1',
    days: [
      purchase('1997-01-01', 10),
      purchase('1997-01-08', 20, 2), // two transactions on one day: one repeat purchase
      purchase('1997-01-22', 40),
      purchase('1997-09-30', 30), // on the calibration end: inside
      purchase('1997-10-01', 1000), // the day after: holdout
    ],
  };

  it('counts repeat purchase days, in weeks from the first purchase, through the calibration end', () => {
    expect(summarizeRfm([repeater], calibrationEnd)).toEqual([
      {
        customerId: '1',
        firstDay: day('1997-01-01'),
        x: 3,
        tx: 272 / 7,
        T: 272 / 7,
        monetary: (20 + 40 + 30) / 3, // the first purchase is not a repeat purchase
        revenue: 100,
      },
    ]);
  });

  it('gives a one-time buyer x = 0, tx = 0 and no monetary value', () => {
    const once: CustomerPurchases = { customerId: '2', days: [purchase('1997-03-25', 15)] };
    expect(summarizeRfm([once], calibrationEnd)[0]).toMatchObject({
      x: 0,
      tx: 0,
      T: 189 / 7,
      monetary: 0,
      revenue: 15,
    });
  });

  it('leaves out customers whose first purchase is after the calibration end', () => {
    const late: CustomerPurchases = { customerId: '3', days: [purchase('1997-10-02', 15)] };
    expect(summarizeRfm([late, repeater], calibrationEnd).map((s) => s.customerId)).toEqual(['1']);
  });
});

describe('historicClv', () => {
  it('sums the revenue so far, through the given day', () => {
    const customer: CustomerPurchases = {
      customerId: '1',
      days: [purchase('1997-01-01', 10), purchase('1997-02-01', 5.5), purchase('1998-01-01', 100)],
    };
    expect(historicClv(customer)).toBe(115.5);
    expect(historicClv(customer, day('1997-02-01'))).toBe(15.5);
  });
});
