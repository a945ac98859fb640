import { CUT, cutAt, nestsDeeperThan } from './depth';

/** `[[[...]]]` nested `n` levels deep. */
function nested(n: number): unknown {
  let v: unknown = [];
  for (let i = 1; i < n; i++) v = [v];
  return v;
}

describe('nesting depth', () => {
  it('counts objects and arrays, not scalars, and stops at the limit', () => {
    expect(nestsDeeperThan('x', 0)).toBe(false);
    expect(nestsDeeperThan({ a: 1 }, 1)).toBe(false);
    expect(nestsDeeperThan({ a: [1] }, 1)).toBe(true);
    expect(nestsDeeperThan(nested(32), 32)).toBe(false);
    expect(nestsDeeperThan(nested(33), 32)).toBe(true);
    // 200,000 levels, which JSON.stringify cannot walk, are judged without recursing past the limit.
    expect(nestsDeeperThan(JSON.parse(`${'['.repeat(200_000)}${']'.repeat(200_000)}`), 32)).toBe(true);
  });

  it('cuts what lies below the limit, so the rest can be serialised', () => {
    expect(cutAt({ a: { b: { c: 1 } }, d: 2 }, 2)).toEqual({ a: { b: CUT }, d: 2 });
    const deep = JSON.parse(`{"p":${'['.repeat(200_000)}${']'.repeat(200_000)}}`) as unknown;
    const kept = JSON.stringify(cutAt(deep, 32));
    expect(kept.length).toBeLessThan(200);
    expect(nestsDeeperThan(JSON.parse(kept), 32)).toBe(false);
    // A "__proto__" key stays a key of the copy, not its prototype.
    const cut = cutAt(JSON.parse('{"__proto__": {"x": 1}}'), 3) as Record<string, unknown>;
    expect(Object.getPrototypeOf(cut)).toBe(Object.prototype);
    expect(Object.keys(cut)).toEqual(['__proto__']);
  });
});
