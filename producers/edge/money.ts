/**
 * Money at the edge: decimal amounts as senders write them ("12.99", 12.99, "1e3") to integer minor units,
 * with exact decimal arithmetic on the digits (BigInt), never `amount * 100` in binary floating point, where
 * 19.99 * 100 is 1998.9999999999998.
 *
 * A JSON number arrives as a double; `String(n)` gives the shortest decimal that reads back as the same
 * double (ECMA-262 Number::toString), which is the literal the sender wrote for any amount with up to 15
 * significant digits. Digits beyond the currency's minor unit are rounded half up on those decimal digits,
 * so a total computed with floats upstream (59.970000000000006) still becomes 5997 cents.
 */

/**
 * ISO 4217 minor units for the currencies whose exponent is not 2 (ISO 4217 list one, "Minor unit").
 * Every other three-letter code uses 2.
 */
const MINOR_UNIT_EXCEPTIONS: Readonly<Record<string, number>> = {
  BIF: 0,
  CLP: 0,
  DJF: 0,
  GNF: 0,
  ISK: 0,
  JPY: 0,
  KMF: 0,
  KRW: 0,
  PYG: 0,
  RWF: 0,
  UGX: 0,
  UYI: 0,
  VND: 0,
  VUV: 0,
  XAF: 0,
  XOF: 0,
  XPF: 0,
  BHD: 3,
  IQD: 3,
  JOD: 3,
  KWD: 3,
  LYD: 3,
  OMR: 3,
  TND: 3,
  CLF: 4,
  UYW: 4,
};

/** Digits after the decimal point in the currency's minor unit (ISO 4217). */
export function minorUnitExponent(currency: string): number {
  return MINOR_UNIT_EXCEPTIONS[currency] ?? 2;
}

export type MoneyConversion =
  | { readonly ok: true; readonly minor: number }
  | {
      readonly ok: false;
      readonly rule: 'invalid_type' | 'invalid_format' | 'too_small' | 'too_big';
      readonly message: string;
    };

const DECIMAL = /^([+-])?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/**
 * A decimal amount in major units (a JSON number or a numeric string) as integer minor units of `currency`.
 * Negative amounts are refused: every money field in the contracts is non-negative.
 */
export function toMinorUnits(amount: unknown, currency: string): MoneyConversion {
  let text: string;
  if (typeof amount === 'number') {
    if (!Number.isFinite(amount))
      return { ok: false, rule: 'invalid_type', message: 'must be a finite number' };
    text = String(amount);
  } else if (typeof amount === 'string') {
    text = amount.trim();
  } else {
    return { ok: false, rule: 'invalid_type', message: 'must be a decimal number or numeric string' };
  }
  const match = DECIMAL.exec(text);
  const intDigits = match?.[2] ?? '';
  const fracDigits = match?.[3] ?? '';
  if (!match || intDigits.length + fracDigits.length === 0) {
    return {
      ok: false,
      rule: 'invalid_format',
      message: `must be a decimal amount such as 12.99, got "${text}"`,
    };
  }
  const exponent = match[4] === undefined ? 0 : Number(match[4]);
  if (!Number.isSafeInteger(exponent) || Math.abs(exponent) > 400) {
    return { ok: false, rule: 'too_big', message: 'amount is out of range' };
  }
  const digits = (intDigits + fracDigits).replace(/^0+(?=\d)/, '');
  // The value is digits * 10^(shift); in minor units we want digits * 10^(shift + minorExponent).
  const shift = exponent - fracDigits.length + minorUnitExponent(currency);
  let minor: bigint;
  if (shift >= 0) {
    minor = BigInt(digits) * 10n ** BigInt(shift);
  } else {
    const cut = -shift;
    const kept = cut >= digits.length ? '0' : digits.slice(0, digits.length - cut);
    const firstDropped = cut > digits.length ? '0' : (digits[digits.length - cut] ?? '0');
    minor = BigInt(kept) + (firstDropped >= '5' ? 1n : 0n);
  }
  if (match[1] === '-' && minor !== 0n) {
    return { ok: false, rule: 'too_small', message: 'must be >= 0' };
  }
  if (minor > BigInt(Number.MAX_SAFE_INTEGER)) {
    return { ok: false, rule: 'too_big', message: 'amount is too large' };
  }
  return { ok: true, minor: Number(minor) };
}
