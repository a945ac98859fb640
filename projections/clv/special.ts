/**
 * Special functions the CLV models need: log-gamma and the Gaussian hypergeometric function 2F1.
 *
 * Written here rather than taken from npm: the candidates (@stdlib/math-base-special-gammaln, ...) pull a
 * dozen micro-packages each for what is twenty lines of standard numerics, and we need only real arguments
 * in a known range (positive for lnGamma, 0 <= z < 1 for 2F1).
 */

// Lanczos approximation with g = 7, n = 9 (Godfrey's coefficients, as in Numerical Recipes 3rd ed. §6.1
// and Press et al.); relative error about 1e-15 over the positive reals.
const LANCZOS_G = 7;
const LANCZOS_COEFFICIENTS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
] as const;
const HALF_LOG_TWO_PI = 0.5 * Math.log(2 * Math.PI);

/** ln Γ(x) for x > 0 (ln |Γ(x)| for negative non-integers, by the reflection formula). */
export function lnGamma(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0.5) {
    // Reflection: Γ(x) Γ(1 - x) = π / sin(πx).
    const s = Math.sin(Math.PI * x);
    if (s === 0) return Infinity; // poles at 0, -1, -2, ...
    return Math.log(Math.PI / Math.abs(s)) - lnGamma(1 - x);
  }
  const z = x - 1;
  let series = LANCZOS_COEFFICIENTS[0];
  for (let i = 1; i < LANCZOS_COEFFICIENTS.length; i++) series += LANCZOS_COEFFICIENTS[i]! / (z + i);
  const t = z + LANCZOS_G + 0.5;
  return HALF_LOG_TWO_PI + (z + 0.5) * Math.log(t) - t + Math.log(series);
}

/** ln B(a, b) = ln Γ(a) + ln Γ(b) - ln Γ(a + b). */
export function lnBeta(a: number, b: number): number {
  return lnGamma(a) + lnGamma(b) - lnGamma(a + b);
}

const HYP2F1_MAX_TERMS = 1_000_000;

/**
 * Gaussian hypergeometric function 2F1(a, b; c; z) for |z| < 1, by its defining power series
 * (Abramowitz & Stegun 15.1.1): sum over n of (a)_n (b)_n / (c)_n z^n / n!.
 *
 * The BG/NBD conditional expectation (Fader, Hardie & Lee 2005, eq. 10) evaluates it at
 * z = t / (alpha + T + t), which lies in [0, 1); the series converges there, slowly only when the horizon t is
 * many times alpha + T (z = 0.99 needs a few thousand terms). Throws RangeError outside the domain or when
 * the series has not converged, as that is a programming error, not an expected outcome.
 */
export function hyp2f1(a: number, b: number, c: number, z: number): number {
  if (!(Math.abs(z) < 1)) throw new RangeError(`hyp2f1: needs |z| < 1, got z = ${z}`);
  if (c <= 0 && Number.isInteger(c))
    throw new RangeError(`hyp2f1: c must not be 0 or a negative integer, got ${c}`);
  let term = 1;
  let sum = 1;
  for (let n = 0; n < HYP2F1_MAX_TERMS; n++) {
    const ratio = (((a + n) * (b + n)) / ((c + n) * (n + 1))) * z;
    if (ratio === 0) return sum; // a or b is a non-positive integer: the series terminated
    term *= ratio;
    sum += term;
    // Stop when the tail is negligible. Once a + k, b + k and c + k are positive, each of the factors
    // (a + k) / (k + 1) and (b + k) / (c + k) is monotone in k and tends to 1, so every later ratio is at most
    // q = |z| max(1, first factor) max(1, second factor), at k = n + 1 (or with a and b swapped, whichever is
    // smaller), and the tail is at most |term| q / (1 - q), a geometric series.
    const k = n + 1;
    if (a + k > 0 && b + k > 0 && c + k > 0) {
      const q =
        Math.abs(z) *
        Math.min(
          Math.max(1, (a + k) / (k + 1)) * Math.max(1, (b + k) / (c + k)),
          Math.max(1, (b + k) / (k + 1)) * Math.max(1, (a + k) / (c + k)),
        );
      if (q < 1 && Math.abs(term) * q <= 1e-16 * Math.abs(sum) * (1 - q)) return sum;
    }
  }
  throw new RangeError(
    `hyp2f1(${a}, ${b}; ${c}; ${z}): series did not converge in ${HYP2F1_MAX_TERMS} terms`,
  );
}
