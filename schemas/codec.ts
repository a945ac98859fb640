/**
 * Pure mapping between ciclo's values and their Avro shapes. Avro writes optional fields as null and a
 * union of records wrapped in its record name; ciclo's values leave optional fields out and say their
 * payload's kind in `type`. No I/O here: schemas/serde.ts adds the registry.
 */
import { PAYLOAD_RECORD_NAME } from './avro';
import { type Touchpoint } from './touchpoint';

/**
 * Avro's null is zod's "absent": null-valued keys become undefined, in place, in a record this process just
 * decoded and owns (zod's optional accepts undefined as absent, and JSON leaves both out). A copy without the
 * keys, as this once made, cost a copy of every message on the decoding paths.
 */
export function nullsToUndefinedInPlace<T>(value: unknown): T {
  if (Array.isArray(value)) {
    for (const item of value) if (item !== null && typeof item === 'object') nullsToUndefinedInPlace(item);
  } else if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value)) {
    const record = value as Record<string, unknown>;
    for (const k in record) {
      if (!Object.prototype.hasOwnProperty.call(record, k)) continue;
      const v = record[k];
      if (v === null) record[k] = undefined;
      else if (typeof v === 'object') nullsToUndefinedInPlace(v);
    }
  }
  return value as T;
}

export function touchpointToAvro(tp: Touchpoint): Record<string, unknown> {
  return { ...tp, payload: { [PAYLOAD_RECORD_NAME[tp.type]]: tp.payload } };
}

/** The decoded record as a touchpoint candidate, in place: the payload union unwrapped, nulls undefined. */
export function touchpointFromAvro(record: Record<string, unknown>): unknown {
  const wrapped = record.payload as Record<string, unknown> | null | undefined;
  if (wrapped && typeof wrapped === 'object') {
    // Avro writes a union of records wrapped in its record name: { PurchaseCompletedPayload: {...} }.
    for (const name in wrapped) {
      record.payload = wrapped[name];
      break;
    }
  }
  return nullsToUndefinedInPlace(record);
}
