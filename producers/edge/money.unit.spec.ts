import { minorUnitExponent, toMinorUnits } from './money';

const minor = (amount: unknown, currency = 'USD'): number | string => {
  const r = toMinorUnits(amount, currency);
  return r.ok ? r.minor : `${r.rule}: ${r.message}`;
};

describe('toMinorUnits', () => {
  it.each([
    [19.99, 'USD', 1999],
    ['19.99', 'USD', 1999],
    [0.1, 'EUR', 10],
    [1.005, 'USD', 101], // 1.005 * 100 is 100.49999999999999 in binary floating point
    [59.970000000000006, 'USD', 5997], // a float total computed upstream
    ['12.345', 'USD', 1235], // half up on the decimal digits
    ['12.344', 'USD', 1234],
    ['0.005', 'USD', 1],
    ['0.0049', 'USD', 0],
    [1299, 'JPY', 1299],
    ['1299.5', 'JPY', 1300],
    ['1.234', 'KWD', 1234],
    ['1e3', 'USD', 100000],
    ['2.5E-1', 'EUR', 25],
    ['.5', 'EUR', 50],
    ['7.', 'EUR', 700],
    [' 3.10 ', 'EUR', 310],
    ['-0', 'EUR', 0],
  ])('%p %s -> %p', (amount, currency, expected) => {
    expect(toMinorUnits(amount, currency)).toEqual({ ok: true, minor: expected });
  });

  it('refuses what is not a non-negative decimal amount, saying why', () => {
    expect(minor(-1)).toBe('too_small: must be >= 0');
    expect(minor('12,99')).toMatch(/^invalid_format: must be a decimal amount such as 12.99/);
    expect(minor('')).toMatch(/^invalid_format/);
    expect(minor('.')).toMatch(/^invalid_format/);
    expect(minor(true)).toMatch(/^invalid_type/);
    expect(minor(Number.NaN)).toMatch(/^invalid_type/);
    expect(minor('1e999')).toMatch(/^too_big/);
    expect(minor(1e21)).toMatch(/^too_big/); // beyond Number.MAX_SAFE_INTEGER minor units
  });

  it('knows the ISO 4217 minor units that are not 2', () => {
    expect([
      minorUnitExponent('USD'),
      minorUnitExponent('JPY'),
      minorUnitExponent('BHD'),
      minorUnitExponent('CLF'),
    ]).toEqual([2, 0, 3, 4]);
  });
});
