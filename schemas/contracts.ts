/**
 * Each contract once: its zod schema (truth), its derived Avro schema, and the pure mapping between them.
 */
import type { z } from 'zod';
import { AVRO_SCHEMAS } from './avro';
import { nullsToUndefinedInPlace, touchpointFromAvro, touchpointToAvro } from './codec';
import { fastCheckOf, type FastCheck } from './fast-check';
import {
  CustomerSnapshotSchema,
  LifecycleStateRecordSchema,
  StageChangedSchema,
  type CustomerSnapshot,
  type LifecycleStateRecord,
  type StageChanged,
} from './outputs';
import { TouchpointSchema, touchpointRuleViolations, type Touchpoint } from './touchpoint';

export interface Contract<T> {
  readonly name: string;
  readonly schema: z.ZodType<T>;
  readonly avro: Record<string, unknown>;
  /**
   * The value in its Avro shape. A value already in it is returned as it is, not copied: Avro writes an
   * absent optional field as its default (null), and its encoder reads the record without changing it.
   */
  toAvro(value: T): Record<string, unknown>;
  /**
   * The Avro-decoded record as a candidate value: validate it before trusting it. Works in place: the record
   * must be one just decoded, which nothing else holds.
   */
  fromAvro(record: Record<string, unknown>): unknown;
  /**
   * True only for values the schema accepts and would return unchanged, so its parse (and its copy) can be
   * skipped (schemas/fast-check.ts); false says nothing: the schema then decides.
   */
  isCheckedForm(value: unknown): boolean;
}

/** The contract's fast check, compiled on first use (ajv compiles code: no cost for unused contracts). */
function checkedForm<T>(schema: z.ZodType<T>, rules?: (value: T) => boolean): (value: unknown) => boolean {
  let check: FastCheck | null | undefined;
  return (value) => {
    if (check === undefined) check = fastCheckOf(schema, rules) ?? null;
    return check !== null && check(value);
  };
}

/** A value whose fields are Avro's already: only optional fields left out, which Avro writes as null. */
const inAvroShape = <T>(value: T): Record<string, unknown> => value as Record<string, unknown>;

export const CONTRACTS = {
  touchpoint: {
    name: 'touchpoint',
    schema: TouchpointSchema,
    avro: AVRO_SCHEMAS.touchpoint,
    toAvro: touchpointToAvro,
    fromAvro: touchpointFromAvro,
    isCheckedForm: checkedForm(TouchpointSchema, (tp) => touchpointRuleViolations(tp).length === 0),
  } satisfies Contract<Touchpoint>,
  stageChanged: {
    name: 'stageChanged',
    schema: StageChangedSchema,
    avro: AVRO_SCHEMAS.stageChanged,
    toAvro: inAvroShape<StageChanged>,
    fromAvro: (r: Record<string, unknown>) => nullsToUndefinedInPlace(r),
    isCheckedForm: checkedForm(StageChangedSchema),
  } satisfies Contract<StageChanged>,
  customerSnapshot: {
    name: 'customerSnapshot',
    schema: CustomerSnapshotSchema,
    avro: AVRO_SCHEMAS.customerSnapshot,
    toAvro: inAvroShape<CustomerSnapshot>,
    fromAvro: (r: Record<string, unknown>) => nullsToUndefinedInPlace(r),
    isCheckedForm: checkedForm(CustomerSnapshotSchema),
  } satisfies Contract<CustomerSnapshot>,
  lifecycleState: {
    name: 'lifecycleState',
    schema: LifecycleStateRecordSchema,
    avro: AVRO_SCHEMAS.lifecycleState,
    toAvro: inAvroShape<LifecycleStateRecord>,
    fromAvro: (r: Record<string, unknown>) => nullsToUndefinedInPlace(r),
    isCheckedForm: checkedForm(LifecycleStateRecordSchema),
  } satisfies Contract<LifecycleStateRecord>,
} as const;

export type ContractName = keyof typeof CONTRACTS;
export type ContractValue<N extends ContractName> =
  (typeof CONTRACTS)[N] extends Contract<infer T> ? T : never;
