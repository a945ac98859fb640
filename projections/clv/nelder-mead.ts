/**
 * Nelder-Mead simplex minimisation (Nelder & Mead 1965), with the standard coefficients and the
 * convergence test of Lagarias, Reeds, Wright & Wright 1998 ("Convergence properties of the Nelder-Mead
 * simplex method in low dimensions", SIAM J. Optim. 9(1)): reflection 1, expansion 2, contraction 1/2,
 * shrink 1/2.
 *
 * Why our own: npm has no well-kept general-purpose optimiser. `fmin` (0.0.4) is an unmaintained demo that
 * depends on a plotting package; `optimization-js` ships browserify, jsdoc and travis as runtime
 * dependencies; `ml-levenberg-marquardt` does least squares, not likelihoods. The BG/NBD and Gamma-Gamma
 * likelihoods have 3-4 parameters and are smooth, which is where Nelder-Mead is at its best (it is what
 * Python's lifetimes and R's BTYD use for them). Callers optimise over log-parameters so that the simplex can
 * roam freely while every parameter stays positive.
 *
 * Nelder-Mead can stall on a degenerate simplex (McKinnon 1998), so by default it restarts once from the
 * best point with a fresh simplex; a genuine minimum survives a restart.
 */

export interface NelderMeadOptions {
  /** Size of the initial simplex along each coordinate axis. */
  readonly initialStep?: number;
  /** Stop when every vertex is within xTolerance of the best one in every coordinate ... */
  readonly xTolerance?: number;
  /** ... and every vertex's value is within fTolerance of the best value. */
  readonly fTolerance?: number;
  /** Give up after this many iterations (per run). */
  readonly maxIterations?: number;
  /** Fresh simplices started from the best point after the first run converges. */
  readonly restarts?: number;
}

export interface NelderMeadResult {
  readonly x: number[];
  readonly value: number;
  readonly iterations: number;
  readonly evaluations: number;
  readonly converged: boolean;
}

const DEFAULTS: Required<NelderMeadOptions> = {
  initialStep: 0.5,
  xTolerance: 1e-8,
  fTolerance: 1e-10,
  maxIterations: 5000,
  restarts: 1,
};

/** Minimise f starting at x0. NaN values count as +Infinity, so the simplex moves away from them. */
export function minimizeNelderMead(
  f: (x: readonly number[]) => number,
  x0: readonly number[],
  options: NelderMeadOptions = {},
): NelderMeadResult {
  const opts = { ...DEFAULTS, ...options };
  let evaluations = 0;
  const evaluate = (x: readonly number[]): number => {
    evaluations++;
    const v = f(x);
    return Number.isNaN(v) ? Infinity : v;
  };

  let best = { x: [...x0], value: evaluate(x0) };
  let iterations = 0;
  let converged = false;
  for (let run = 0; run <= opts.restarts; run++) {
    const result = runSimplex(evaluate, best.x, best.value, opts);
    iterations += result.iterations;
    converged = result.converged;
    const improved = result.value < best.value;
    if (result.value <= best.value) best = { x: result.x, value: result.value };
    if (!converged || (run > 0 && !improved)) break;
  }
  return { x: best.x, value: best.value, iterations, evaluations, converged };
}

function runSimplex(
  evaluate: (x: readonly number[]) => number,
  x0: readonly number[],
  f0: number,
  opts: Required<NelderMeadOptions>,
): { x: number[]; value: number; iterations: number; converged: boolean } {
  const n = x0.length;
  const vertices: number[][] = [[...x0]];
  const values: number[] = [f0];
  for (let i = 0; i < n; i++) {
    const v = [...x0];
    v[i] = v[i]! + opts.initialStep;
    vertices.push(v);
    values.push(evaluate(v));
  }

  const order = Array.from({ length: n + 1 }, (_, i) => i);
  const centroid = new Array<number>(n).fill(0);
  const along = (from: readonly number[], to: readonly number[], t: number): number[] =>
    from.map((fi, j) => fi + t * (to[j]! - fi));

  for (let iteration = 0; iteration < opts.maxIterations; iteration++) {
    order.sort((i, j) => values[i]! - values[j]!);
    const bestIndex = order[0]!;
    const worstIndex = order[n]!;
    const secondWorstIndex = order[n - 1]!;
    const best = vertices[bestIndex]!;
    const fBest = values[bestIndex]!;

    let spread = 0;
    let fSpread = 0;
    for (let k = 1; k <= n; k++) {
      const v = vertices[order[k]!]!;
      for (let j = 0; j < n; j++) spread = Math.max(spread, Math.abs(v[j]! - best[j]!));
      fSpread = Math.max(fSpread, Math.abs(values[order[k]!]! - fBest));
    }
    if (spread <= opts.xTolerance && fSpread <= opts.fTolerance) {
      return { x: [...best], value: fBest, iterations: iteration, converged: true };
    }

    centroid.fill(0);
    for (let k = 0; k < n; k++) {
      const v = vertices[order[k]!]!;
      for (let j = 0; j < n; j++) centroid[j] = centroid[j]! + v[j]! / n;
    }
    const worst = vertices[worstIndex]!;
    const fWorst = values[worstIndex]!;
    const fSecondWorst = values[secondWorstIndex]!;

    // Reflect the worst vertex through the centroid of the others.
    const reflected = along(centroid, worst, -1);
    const fReflected = evaluate(reflected);
    if (fReflected < fBest) {
      const expanded = along(centroid, worst, -2);
      const fExpanded = evaluate(expanded);
      if (fExpanded < fReflected) replace(worstIndex, expanded, fExpanded);
      else replace(worstIndex, reflected, fReflected);
      continue;
    }
    if (fReflected < fSecondWorst) {
      replace(worstIndex, reflected, fReflected);
      continue;
    }
    // Contract: outside if the reflection beat the worst vertex, inside otherwise.
    const outside = fReflected < fWorst;
    const contracted = outside ? along(centroid, worst, -0.5) : along(centroid, worst, 0.5);
    const fContracted = evaluate(contracted);
    if (fContracted < (outside ? fReflected : fWorst)) {
      replace(worstIndex, contracted, fContracted);
      continue;
    }
    // Shrink every vertex towards the best one.
    for (let k = 1; k <= n; k++) {
      const index = order[k]!;
      const shrunk = along(best, vertices[index]!, 0.5);
      replace(index, shrunk, evaluate(shrunk));
    }
  }
  order.sort((i, j) => values[i]! - values[j]!);
  const bestIndex = order[0]!;
  return {
    x: [...vertices[bestIndex]!],
    value: values[bestIndex]!,
    iterations: opts.maxIterations,
    converged: false,
  };

  function replace(index: number, x: number[], value: number): void {
    vertices[index] = x;
    values[index] = value;
  }
}
