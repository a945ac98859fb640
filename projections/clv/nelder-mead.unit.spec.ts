import { minimizeNelderMead } from './nelder-mead';

describe('minimizeNelderMead', () => {
  it('finds the minimum of the Rosenbrock valley from the classic start (-1.2, 1)', () => {
    const rosenbrock = ([x, y]: readonly number[]): number => 100 * (y! - x! * x!) ** 2 + (1 - x!) ** 2;
    const result = minimizeNelderMead(rosenbrock, [-1.2, 1]);
    expect(result.converged).toBe(true);
    expect(result.x[0]).toBeCloseTo(1, 6);
    expect(result.x[1]).toBeCloseTo(1, 6);
    expect(result.value).toBeLessThan(1e-12);
  });

  it('finds the centre of a badly scaled 4-dimensional bowl', () => {
    const centre = [0.5, -3, 2, 10];
    const scales = [1, 100, 0.01, 5];
    const bowl = (v: readonly number[]): number =>
      v.reduce((s, vi, i) => s + scales[i]! * (vi - centre[i]!) ** 2, 0);
    const result = minimizeNelderMead(bowl, [0, 0, 0, 0], { xTolerance: 1e-9, fTolerance: 1e-14 });
    result.x.forEach((xi, i) => expect(xi).toBeCloseTo(centre[i]!, 5));
  });

  it('treats NaN as +Infinity and walks away from it', () => {
    const f = ([x]: readonly number[]): number => (x! < 0 ? NaN : (x! - 2) ** 2);
    expect(minimizeNelderMead(f, [0.1]).x[0]).toBeCloseTo(2, 6);
  });

  it('says when it ran out of iterations', () => {
    const f = ([x, y]: readonly number[]): number => x! * x! + y! * y!;
    const result = minimizeNelderMead(f, [5, 5], { maxIterations: 3 });
    expect(result.converged).toBe(false);
    expect(result.value).toBeLessThanOrEqual(50);
  });
});
