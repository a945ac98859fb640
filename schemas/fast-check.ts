/**
 * A fast "yes" for contract values. zod stays the truth: every contract value is checked by its zod schema,
 * which also words the problems of an invalid one. But zod's parse builds a copy of every value it accepts,
 * and on the per-message paths (the collector's encoding, the processor's and the projector's decoding) it
 * was the largest cost after Kafka itself: ~2.5 µs per touchpoint, and the copies for the garbage collector.
 *
 * So each contract also gets a JSON Schema validator, compiled by ajv from the zod schema's own JSON Schema
 * (`z.toJSONSchema`). It vouches for a value only if zod would accept it and return it unchanged; anything
 * it does not vouch for is parsed by zod as before. It is derived, not written by hand, so it cannot drift
 * from the contract; `fast-check.unit.spec.ts` holds it to zod on every field of every contract with
 * thousands of edge values. What JSON Schema cannot say, the derivation refuses instead of dropping:
 * - refinements (zod's `refine`/`superRefine`) are code: allowed only on the root, and only when the
 *   contract passes the same rules as a function (`rules`), which the fast check then runs too;
 * - transforms, defaults, pipes, catch, lazy and the like change or compute values: no fast check at all.
 * Unknown keys make a value not vouched for (zod strips them, so its output would differ from the input).
 * String lengths count UTF-16 code units, as zod does (ajv counts code points by default), and patterns
 * are compiled without the `u` flag, as zod's regular expressions are. Numbers must be finite, as zod's
 * are (JSON has no NaN or Infinity, so JSON Schema's number type lets them through).
 */
import Ajv, { _, type KeywordCxt, type ValidateFunction } from 'ajv';
import { z } from 'zod';

export type FastCheck = (value: unknown) => boolean;

/** zod schema types whose JSON Schema says all they check. */
const REPRESENTABLE = new Set([
  'object',
  'optional',
  'nullable',
  'array',
  'record',
  'union',
  'literal',
  'enum',
  'string',
  'number',
  'boolean',
]);

interface ZodDef {
  readonly type: string;
  readonly checks?: readonly { readonly _zod: { readonly def: { readonly check: string } } }[];
  readonly shape?: Record<string, { readonly _zod: { readonly def: ZodDef } }>;
  readonly innerType?: { readonly _zod: { readonly def: ZodDef } };
  readonly element?: { readonly _zod: { readonly def: ZodDef } };
  readonly keyType?: { readonly _zod: { readonly def: ZodDef } };
  readonly valueType?: { readonly _zod: { readonly def: ZodDef } };
  readonly options?: readonly { readonly _zod: { readonly def: ZodDef } }[];
  readonly discriminator?: string;
}

/** What in the schema JSON Schema cannot express, by path; empty if everything can be. */
export function unrepresentable(schema: z.ZodType, rootRulesGiven: boolean): string[] {
  const found: string[] = [];
  const walk = (def: ZodDef, path: string, root: boolean): void => {
    if (!REPRESENTABLE.has(def.type)) found.push(`${path || '(root)'}: ${def.type}`);
    for (const check of def.checks ?? [])
      if (check._zod.def.check === 'custom' && !(root && rootRulesGiven))
        found.push(`${path || '(root)'}: refinement`);
    for (const [key, child] of Object.entries(def.shape ?? {})) walk(child._zod.def, `${path}.${key}`, false);
    if (def.innerType) walk(def.innerType._zod.def, path, false);
    if (def.element) walk(def.element._zod.def, `${path}[]`, false);
    if (def.keyType) walk(def.keyType._zod.def, `${path}{key}`, false);
    if (def.valueType) walk(def.valueType._zod.def, `${path}{}`, false);
    (def.options ?? []).forEach((o, i) => walk(o._zod.def, `${path}|${i}`, false));
  };
  walk((schema as unknown as { _zod: { def: ZodDef } })._zod.def, '', true);
  return found;
}

let ajv: Ajv | undefined;
function compiler(): Ajv {
  if (ajv) return ajv;
  // unicode: false counts string lengths in UTF-16 code units, as zod does (the option still works in ajv 8
  // and logs a deprecation notice, hence no logger). strict: false lets zod's metadata (avroName...) pass.
  ajv = new Ajv({
    strict: false,
    unicode: false,
    unicodeRegExp: false,
    validateFormats: false,
    logger: false,
  });
  ajv.addKeyword({
    keyword: 'finite',
    type: 'number',
    schemaType: 'boolean',
    code: (cxt: KeywordCxt) => cxt.fail(_`!Number.isFinite(${cxt.data})`),
  });
  return ajv;
}

/**
 * Whether some string format in the JSON Schema comes without the pattern that checks it. zod writes its
 * regular expression next to the formats it checks with one (email); ajv checks no formats here, so a
 * format with no pattern (a date, a URL) would go unchecked: such a contract gets no fast check.
 */
function hasUncheckedFormat(node: unknown): boolean {
  if (Array.isArray(node)) return node.some(hasUncheckedFormat);
  if (node === null || typeof node !== 'object') return false;
  const record = node as Record<string, unknown>;
  if (typeof record.format === 'string' && typeof record.pattern !== 'string') return true;
  return Object.values(record).some(hasUncheckedFormat);
}

/** The JSON Schema with `finite` on every number and integer. */
function withFiniteNumbers(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withFiniteNumbers);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) out[k] = withFiniteNumbers(v);
  const types: unknown[] = Array.isArray(out.type) ? out.type : [out.type];
  if (types.includes('number') || types.includes('integer')) out.finite = true;
  return out;
}

/**
 * The fast check of a contract, or undefined when its schema holds something JSON Schema cannot say (then
 * zod checks every value). `rules`: the root's refinements as a function, true when they all hold.
 */
export function fastCheckOf<T>(schema: z.ZodType<T>, rules?: (value: T) => boolean): FastCheck | undefined {
  if (unrepresentable(schema, rules !== undefined).length > 0) return undefined;
  const json = withFiniteNumbers(z.toJSONSchema(schema)) as {
    oneOf?: Record<string, unknown>[];
    $schema?: string;
  };
  delete json.$schema; // ajv's default meta-schema is draft-07; the keywords zod emits are the same
  if (hasUncheckedFormat(json)) return undefined;
  const ok: FastCheck = rules ? (value) => rules(value as T) : () => true;
  // A discriminated union: one validator per branch, picked by the discriminator's value, instead of
  // ajv's oneOf, which tries every branch on every value.
  const discriminator = (schema as unknown as { _zod: { def: ZodDef } })._zod.def.discriminator;
  if (discriminator !== undefined && json.oneOf) {
    const branches = new Map<unknown, ValidateFunction>();
    for (const branch of json.oneOf) {
      const tag = (branch.properties as Record<string, { const?: unknown }> | undefined)?.[discriminator]
        ?.const;
      if (tag === undefined || branches.has(tag)) return undefined;
      branches.set(tag, compiler().compile(branch));
    }
    return (value) => {
      if (value === null || typeof value !== 'object') return false;
      const validate = branches.get((value as Record<string, unknown>)[discriminator]);
      return validate !== undefined && validate(value) && ok(value);
    };
  }
  const validate = compiler().compile(json);
  return (value) => validate(value) && ok(value);
}
