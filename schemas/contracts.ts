/**
 * Each contract once: its zod schema (truth), its derived Avro schema, and the pure mapping between them.
 */
import type { z } from 'zod';
import { AVRO_SCHEMAS } from './avro';
import { stripNulls, touchpointFromAvro, touchpointToAvro } from './codec';
import {
  CustomerSnapshotSchema,
  LifecycleStateRecordSchema,
  StageChangedSchema,
  type CustomerSnapshot,
  type LifecycleStateRecord,
  type StageChanged,
} from './outputs';
import { TouchpointSchema, type Touchpoint } from './touchpoint';

export interface Contract<T> {
  readonly name: string;
  readonly schema: z.ZodType<T>;
  readonly avro: Record<string, unknown>;
  toAvro(value: T): Record<string, unknown>;
  /** The Avro-decoded record as a candidate value: validate it before trusting it. */
  fromAvro(record: Record<string, unknown>): unknown;
}

export const CONTRACTS = {
  touchpoint: {
    name: 'touchpoint',
    schema: TouchpointSchema,
    avro: AVRO_SCHEMAS.touchpoint,
    toAvro: touchpointToAvro,
    fromAvro: touchpointFromAvro,
  } satisfies Contract<Touchpoint>,
  stageChanged: {
    name: 'stageChanged',
    schema: StageChangedSchema,
    avro: AVRO_SCHEMAS.stageChanged,
    toAvro: (v: StageChanged) => ({ ...v }),
    fromAvro: (r: Record<string, unknown>) => stripNulls(r),
  } satisfies Contract<StageChanged>,
  customerSnapshot: {
    name: 'customerSnapshot',
    schema: CustomerSnapshotSchema,
    avro: AVRO_SCHEMAS.customerSnapshot,
    toAvro: (v: CustomerSnapshot) => ({ ...v }),
    fromAvro: (r: Record<string, unknown>) => stripNulls(r),
  } satisfies Contract<CustomerSnapshot>,
  lifecycleState: {
    name: 'lifecycleState',
    schema: LifecycleStateRecordSchema,
    avro: AVRO_SCHEMAS.lifecycleState,
    toAvro: (v: LifecycleStateRecord) => ({ ...v }),
    fromAvro: (r: Record<string, unknown>) => stripNulls(r),
  } satisfies Contract<LifecycleStateRecord>,
} as const;

export type ContractName = keyof typeof CONTRACTS;
export type ContractValue<N extends ContractName> =
  (typeof CONTRACTS)[N] extends Contract<infer T> ? T : never;
