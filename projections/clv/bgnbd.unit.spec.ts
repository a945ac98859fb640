import {
  bgNbdLogLikelihood,
  expectedPurchases,
  expectedPurchasesNewCustomer,
  fitBgNbd,
  probabilityAlive,
  type BgNbdParams,
} from './bgnbd';
import type { RepeatPurchaseHistory } from './rfm';

// The published CDNOW fit (Fader, Hardie & Lee 2005, Table 1 / §4).
const CDNOW: BgNbdParams = { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };

/** E[g(p)] for p ~ Beta(a, b) by the midpoint rule after p = u^(1/a), which removes the p^(a-1) singularity. */
function betaExpectation(a: number, b: number, g: (p: number) => number, steps = 20_000): number {
  let sum = 0;
  let norm = 0;
  for (let i = 0; i < steps; i++) {
    const p = Math.pow((i + 0.5) / steps, 1 / a);
    const w = Math.pow(1 - p, b - 1);
    sum += w * g(p);
    norm += w;
  }
  return sum / norm;
}

/** Γ(r + x) / Γ(r) for whole x, without lnGamma. */
const rising = (r: number, x: number): number =>
  Array.from({ length: x }, (_, j) => r + j).reduce((s, v) => s * v, 1);

describe('BG/NBD log-likelihood (FHL 2005, eq. 6)', () => {
  it('is r ln(alpha / (alpha + T)) for a customer with no repeat purchase', () => {
    const ll = bgNbdLogLikelihood(CDNOW, [{ x: 0, tx: 0, T: 38.86 }]);
    expect(ll).toBeCloseTo(CDNOW.r * Math.log(CDNOW.alpha / (CDNOW.alpha + 38.86)), 13);
  });

  it('matches eq. 6 written with products instead of gamma functions', () => {
    const { r, alpha, a, b } = CDNOW;
    const x = 3;
    const tx = 20;
    const T = 30;
    // B(a, b + x) / B(a, b) and B(a + 1, b + x - 1) / B(a, b) as finite products.
    const staysAlive = rising(b, x) / rising(a + b, x);
    const dropsAtLast = (a / (a + b)) * (rising(b, x - 1) / rising(a + b + 1, x - 1));
    const likelihood =
      rising(r, x) *
      Math.pow(alpha, r) *
      (staysAlive * Math.pow(alpha + T, -(r + x)) + dropsAtLast * Math.pow(alpha + tx, -(r + x)));
    expect(bgNbdLogLikelihood(CDNOW, [{ x, tx, T }])).toBeCloseTo(Math.log(likelihood), 12);
  });

  it('sums over customers, whether or not their histories are identical', () => {
    const h: RepeatPurchaseHistory[] = [
      { x: 2, tx: 10, T: 30 },
      { x: 0, tx: 0, T: 30 },
      { x: 2, tx: 10, T: 30 },
    ];
    const one = (x: RepeatPurchaseHistory): number => bgNbdLogLikelihood(CDNOW, [x]);
    expect(bgNbdLogLikelihood(CDNOW, h)).toBeCloseTo(2 * one(h[0]!) + one(h[1]!), 11);
  });

  it('refuses impossible histories', () => {
    expect(() => bgNbdLogLikelihood(CDNOW, [{ x: 1, tx: 31, T: 30 }])).toThrow(RangeError);
    expect(() => bgNbdLogLikelihood(CDNOW, [{ x: 1.5, tx: 1, T: 30 }])).toThrow(RangeError);
  });
});

describe('fitBgNbd', () => {
  // 3000 customers simulated from the model itself (seeded), observed for 26 to 52 weeks.
  const truth: BgNbdParams = { r: 0.8, alpha: 6, a: 1.5, b: 4 };
  const histories = simulateBgNbd(truth, 3000, mulberry32(20050401));
  const fit = fitBgNbd(histories);

  it('converges to a maximum: no 1% step in any parameter increases the likelihood', () => {
    expect(fit.converged).toBe(true);
    expect(fit.logLikelihood).toBeCloseTo(bgNbdLogLikelihood(fit.params, histories), 9);
    for (const key of ['r', 'alpha', 'a', 'b'] as const) {
      for (const factor of [0.99, 1.01]) {
        const nudged = { ...fit.params, [key]: fit.params[key] * factor };
        expect(bgNbdLogLikelihood(nudged, histories)).toBeLessThan(fit.logLikelihood);
      }
    }
  });

  it('recovers the parameters the data were simulated from', () => {
    const relativeError = (fitted: number, actual: number): number => Math.abs(fitted / actual - 1);
    expect(relativeError(fit.params.r, truth.r)).toBeLessThan(0.1);
    expect(relativeError(fit.params.alpha, truth.alpha)).toBeLessThan(0.1);
    // Dropout is seen through few purchases per customer, so a and b are loose on their own (1.84 and 4.95
    // here) while the mean dropout probability a / (a + b) is tight.
    const meanDropout = ({ a, b }: BgNbdParams): number => a / (a + b);
    expect(relativeError(meanDropout(fit.params), meanDropout(truth))).toBeLessThan(0.05);
  });

  it('refuses to fit nothing', () => {
    expect(() => fitBgNbd([])).toThrow(RangeError);
  });
});

/** A small seeded PRNG (mulberry32) so the simulation is the same on every run. */
function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Gamma(shape, rate 1) by Marsaglia & Tsang (2000), with the shape < 1 boost. */
function sampleGamma(shape: number, random: () => number): number {
  if (shape < 1) return sampleGamma(shape + 1, random) * Math.pow(random(), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const normal = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    const v = Math.pow(1 + c * normal, 3);
    if (v > 0 && Math.log(random()) < 0.5 * normal * normal + d - d * v + d * Math.log(v)) return d * v;
  }
}

/** The BG/NBD story: Poisson purchases at rate lambda while alive, dropout with probability p after each. */
function simulateBgNbd(
  { r, alpha, a, b }: BgNbdParams,
  customers: number,
  random: () => number,
): RepeatPurchaseHistory[] {
  const histories: RepeatPurchaseHistory[] = [];
  for (let i = 0; i < customers; i++) {
    const lambda = sampleGamma(r, random) / alpha;
    const g = sampleGamma(a, random);
    const p = g / (g + sampleGamma(b, random));
    const T = 26 + (i % 27);
    let x = 0;
    let tx = 0;
    let now = 0;
    for (;;) {
      now += -Math.log(1 - random()) / lambda;
      if (now > T) break;
      x++;
      tx = now;
      if (random() < p) break;
    }
    histories.push({ x, tx, T });
  }
  return histories;
}

describe('probabilityAlive', () => {
  it('is 1 for a customer with no repeat purchase: BG/NBD customers only drop out right after buying', () => {
    expect(probabilityAlive(CDNOW, { x: 0, tx: 0, T: 38.86 })).toBe(1);
  });

  it('is (b + x - 1) / (a + b + x - 1) for a customer who just bought (tx = T)', () => {
    const { a, b } = CDNOW;
    expect(probabilityAlive(CDNOW, { x: 4, tx: 30, T: 30 })).toBeCloseTo((b + 3) / (a + b + 3), 14);
  });

  it('falls the longer a customer has been silent', () => {
    const silent = [38, 30, 20, 10, 1].map((tx) => probabilityAlive(CDNOW, { x: 3, tx, T: 38.86 }));
    for (let i = 1; i < silent.length; i++) expect(silent[i]).toBeLessThan(silent[i - 1]!);
  });
});

describe('expectedPurchases (FHL 2005, eq. 10)', () => {
  it("reproduces Fader & Hardie's worked example: x = 2, tx = 30.43, T = 38.86, next 39 weeks = 1.226", () => {
    expect(expectedPurchases(CDNOW, { x: 2, tx: 30.43, T: 38.86 }, 39)).toBeCloseTo(1.226, 3);
  });

  it('agrees with the posterior mean computed by numerical integration over the dropout probability', () => {
    const { r, alpha, a, b } = CDNOW;
    const { x, tx, T, t } = { x: 3, tx: 15, T: 30, t: 52 };
    // Integrating lambda out analytically leaves one-dimensional integrals over p ~ Beta(a, b):
    // purchases while alive, (1/p)(1 - e^(-lambda p t)), weighted by the likelihood of being alive at T.
    const numerator = betaExpectation(
      a,
      b,
      (p) =>
        (Math.pow(1 - p, x) / p) * (Math.pow(alpha + T, -(r + x)) - Math.pow(alpha + T + p * t, -(r + x))),
    );
    const evidence = betaExpectation(
      a,
      b,
      (p) =>
        Math.pow(1 - p, x) * Math.pow(alpha + T, -(r + x)) +
        p * Math.pow(1 - p, x - 1) * Math.pow(alpha + tx, -(r + x)),
    );
    expect(expectedPurchases(CDNOW, { x, tx, T }, t)).toBeCloseTo(numerator / evidence, 5);
  });

  it('for a new customer is E[X(t)] (eq. 7), checked by numerical integration', () => {
    const { r, alpha, a, b } = CDNOW;
    const t = 39;
    const expected = betaExpectation(a, b, (p) => (1 - Math.pow(alpha / (alpha + p * t), r)) / p);
    expect(expectedPurchasesNewCustomer(CDNOW, t)).toBeCloseTo(expected, 5);
  });

  it('for x = 0 is a new customer with alpha + T in place of alpha (no purchase, no chance to drop out)', () => {
    const T = 25;
    expect(expectedPurchases(CDNOW, { x: 0, tx: 0, T }, 52)).toBeCloseTo(
      expectedPurchasesNewCustomer({ ...CDNOW, alpha: CDNOW.alpha + T }, 52),
      12,
    );
  });

  it('starts at the alive purchase rate: P(alive) (r + x) / (alpha + T) per week', () => {
    const h = { x: 5, tx: 20, T: 30 };
    const slope = expectedPurchases(CDNOW, h, 1e-4) / 1e-4;
    expect(slope).toBeCloseTo((probabilityAlive(CDNOW, h) * (CDNOW.r + 5)) / (CDNOW.alpha + 30), 4);
  });

  it('is continuous through a = 1, where eq. 10 has a removable singularity', () => {
    const h = { x: 1, tx: 1, T: 5 };
    const at = (a: number): number => expectedPurchases({ r: 0.5, alpha: 2, a, b: 3 }, h, 10);
    expect(at(1)).toBeCloseTo((at(1 - 1e-4) + at(1 + 1e-4)) / 2, 6);
  });

  it('is the NBD mean r t / alpha when almost nobody drops out', () => {
    expect(expectedPurchasesNewCustomer({ r: 0.5, alpha: 2, a: 2, b: 1e6 }, 10)).toBeCloseTo(2.5, 4);
  });

  // Eq. 10 as printed overflows here (its 2F1 series) while its power underflows: 0 * Infinity = NaN, which
  // reached the processor as P(alive) input. Reference values: eq. 10 as printed in mpmath at 60 digits
  // (mpmath.hyp2f1), CDNOW's parameters.
  it.each([
    [700, 99, 100, 260, 511.5278483446401],
    [700, 99, 100, 520, 776.3282006774217],
    [700, 80, 100, 1000, 4.094224990615841e-59],
    [2, 30.43, 38.86, 39, 1.226028174767145],
    [0, 0, 38.86, 39, 0.1950980520112626],
  ])(
    'is finite for frequent buyers over long horizons: x = %d, tx = %d, T = %d, t = %d',
    (x, tx, T, t, ref) => {
      const got = expectedPurchases(CDNOW, { x, tx, T }, t);
      expect(Number.isFinite(got)).toBe(true);
      expect(Math.abs(got - ref) / ref).toBeLessThan(1e-9);
    },
  );

  // Euler's form overflows where eq. 10 as printed does not: a fit where almost nobody drops out, as the
  // demo's simulated shop gives. Reference values: mpmath at 80 digits, eq. 10 as printed.
  it.each([
    [3, 20, 30, 52, 1.382857456441305],
    [0, 0, 30, 52, 0.5297761219705485],
    [40, 29, 30, 52, 2.245115937468183],
  ])(
    'is finite when almost nobody drops out (a = 5e4, b = 1.6e5): x = %d, tx = %d, T = %d, t = %d',
    (x, tx, T, t, ref) => {
      const got = expectedPurchases({ r: 0.5, alpha: 10, a: 5e4, b: 1.6e5 }, { x, tx, T }, t);
      expect(Number.isFinite(got)).toBe(true);
      expect(Math.abs(got - ref) / ref).toBeLessThan(1e-9);
    },
  );

  it('is 0 over no time, and refuses a negative horizon', () => {
    expect(expectedPurchases(CDNOW, { x: 2, tx: 10, T: 20 }, 0)).toBe(0);
    expect(() => expectedPurchases(CDNOW, { x: 2, tx: 10, T: 20 }, -1)).toThrow(RangeError);
  });
});
