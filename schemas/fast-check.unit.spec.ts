// The fast check may only say yes where zod says yes and returns the value unchanged: held to zod on every
// field of every contract, with each field (and each field left out, and an unknown key added) set to values
// at and around every limit the contracts use, of every type.
import { z } from 'zod';
import { CONTRACTS, type ContractName } from './contracts';
import { CUSTOMER_SNAPSHOT_EXAMPLE, STAGE_CHANGED_EXAMPLE, TOUCHPOINT_EXAMPLES } from './examples';
import { fastCheckOf, unrepresentable } from './fast-check';
import type { LifecycleStateRecord } from './outputs';
import { TOUCHPOINT_TYPES } from './touchpoint';

const LIMITS = [0, 1, 2, 3, 4, 5, 6, 9, 10, 11, 32, 64, 128, 256, 512, 1000, 1024, 2000, 4000, 4096];
const astral = '\u{1F600}'; // two UTF-16 code units, one code point: zod counts it as 2, ajv by default as 1

/** Values of every kind, at and around each length and number limit. */
const EDGE_VALUES: unknown[] = [
  undefined,
  null,
  true,
  {},
  [],
  [''],
  ['x', 'y'],
  { a: 'b' },
  { a: 1 },
  'USD',
  'usd',
  'US',
  'hard',
  'api',
  'customer',
  'x@example.com',
  'not an email',
  'e-1',
  'e 1',
  NaN,
  Infinity,
  -Infinity,
  0.5,
  -0.5,
  2 ** 31,
  -(2 ** 31) - 1,
  2 ** 53,
  631_151_999_999,
  631_152_000_000,
  32_503_680_000_000,
  32_503_680_000_001,
  ...LIMITS.flatMap((n) => [n - 1, n, n + 1, -n]),
  ...LIMITS.flatMap((n) => [n - 1, n, n + 1].filter((m) => m >= 0).map((m) => 'x'.repeat(m))),
  ...LIMITS.flatMap((n) =>
    [n - 1, n, n + 1].filter((m) => m >= 0).map((m) => astral.repeat(Math.ceil(m / 2))),
  ),
];

type Json = Record<string, unknown>;

/** Every path to a field, nested objects and array items included. */
function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (value === null || typeof value !== 'object') return [];
  const keys: (string | number)[] = Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value);
  return keys.flatMap((k) => [[...prefix, k], ...paths((value as Json)[k as string], [...prefix, k])]);
}

/** A deep copy with the field at `path` set to `to` (DELETE: left out). */
const DELETE = Symbol('delete');
function withField(value: unknown, path: (string | number)[], to: unknown): unknown {
  const copy = structuredClone(value) as Json;
  let at: Json = copy;
  for (const k of path.slice(0, -1)) at = at[k as string] as Json;
  const last = path[path.length - 1]!;
  if (to === DELETE) delete at[last as string];
  else at[last as string] = to;
  return copy;
}

/** Every field of `seed` set to every edge value and left out, and an unknown key added to each object. */
function mutants(seed: unknown): unknown[] {
  const out: unknown[] = [seed];
  for (const path of paths(seed)) {
    for (const v of [...EDGE_VALUES, DELETE]) out.push(withField(seed, path, v));
  }
  for (const path of [[], ...paths(seed)]) {
    let target: unknown = seed;
    for (const k of path) target = (target as Json)[k as string];
    if (target !== null && typeof target === 'object' && !Array.isArray(target)) {
      const copy = structuredClone(seed) as Json;
      let at: Json = copy;
      for (const k of path) at = at[k as string] as Json;
      at.unexpected = 'x';
      out.push(copy);
    }
  }
  return out;
}

const STATE_EXAMPLE: LifecycleStateRecord = {
  kind: 'customer',
  modelId: 'five-stage',
  modelVersion: 1,
  formatVersion: 2,
  state: '{"id":"c1"}',
};

const SEEDS: Record<ContractName, unknown[]> = {
  touchpoint: TOUCHPOINT_TYPES.map((t) => TOUCHPOINT_EXAMPLES[t]),
  stageChanged: [STAGE_CHANGED_EXAMPLE],
  customerSnapshot: [CUSTOMER_SNAPSHOT_EXAMPLE],
  lifecycleState: [STATE_EXAMPLE],
};

describe.each(Object.keys(SEEDS) as ContractName[])('the fast check of the %s contract', (name) => {
  const contract = CONTRACTS[name];

  it('exists: nothing in the schema is beyond JSON Schema but the rules it is given', () => {
    expect(unrepresentable(contract.schema, name === 'touchpoint')).toEqual([]);
  });

  it('vouches only for values zod accepts and returns unchanged', () => {
    let vouched = 0;
    let refused = 0;
    for (const seed of SEEDS[name]) {
      expect(contract.isCheckedForm(seed)).toBe(true); // the examples are valid as they are
      for (const value of mutants(seed)) {
        const parsed = contract.schema.safeParse(value);
        if (contract.isCheckedForm(value)) {
          vouched += 1;
          expect({ value, zod: parsed.success }).toEqual({ value, zod: true });
          expect(parsed.data).toStrictEqual(value);
        } else if (!parsed.success) refused += 1;
      }
    }
    // Not vacuous: both answers occur many times.
    expect(vouched).toBeGreaterThan(50);
    expect(refused).toBeGreaterThan(50);
  });
});

describe('what the fast check refuses to derive', () => {
  it('a refinement anywhere but the root, or a transform or default, means no fast check', () => {
    const refined = z.object({ a: z.string().refine((s) => s !== 'no') });
    const transformed = z.object({ a: z.string().transform((s) => s.trim()) });
    const defaulted = z.object({ a: z.string().default('x') });
    expect(unrepresentable(refined, true)).toEqual(['.a: refinement']);
    expect(fastCheckOf(refined)).toBeUndefined();
    expect(fastCheckOf(transformed)).toBeUndefined();
    expect(fastCheckOf(defaulted)).toBeUndefined();
  });

  it('a string format with no pattern in JSON Schema (a URL) means no fast check: ajv checks no formats', () => {
    expect(fastCheckOf(z.object({ site: z.url() }))).toBeUndefined();
    expect(fastCheckOf(z.object({ email: z.email() }))).toBeDefined(); // zod gives its pattern
  });

  it('root rules are run: without them, a root refinement means no fast check', () => {
    const schema = z.object({ a: z.number(), b: z.number() }).refine((v) => v.a <= v.b);
    expect(fastCheckOf(schema)).toBeUndefined();
    const check = fastCheckOf(schema, (v) => v.a <= v.b)!;
    expect([check({ a: 1, b: 2 }), check({ a: 2, b: 1 })]).toEqual([true, false]);
  });

  it('counts string lengths in UTF-16 code units, as zod does', () => {
    const check = fastCheckOf(z.object({ s: z.string().max(3) }))!;
    expect([check({ s: 'abc' }), check({ s: `a${astral}` }), check({ s: `ab${astral}` })]).toEqual([
      true,
      true,
      false,
    ]);
  });
});
