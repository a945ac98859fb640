/**
 * Pure mapping between ciclo's values and their Avro shapes. Avro writes optional fields as null and a
 * union of records wrapped in its record name; ciclo's values leave optional fields out and say their
 * payload's kind in `type`. No I/O here: schemas/serde.ts adds the registry.
 */
import { PAYLOAD_RECORD_NAME } from './avro';
import { type Touchpoint, type TouchpointType } from './touchpoint';

/** Removes null-valued keys recursively: Avro's null is zod's "absent". */
export function stripNulls<T>(value: unknown): T {
  if (Array.isArray(value)) return value.map((v) => stripNulls(v)) as T;
  if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value)) {
    // for...in over own keys instead of Object.entries: no pair arrays per field on this per-message path.
    const out: Record<string, unknown> = {};
    const record = value as Record<string, unknown>;
    for (const k in record) {
      if (!Object.prototype.hasOwnProperty.call(record, k)) continue;
      const v = record[k];
      if (v !== null) out[k] = typeof v === 'object' ? stripNulls(v) : v;
    }
    return out as T;
  }
  return value as T;
}

export function touchpointToAvro(tp: Touchpoint): Record<string, unknown> {
  return { ...tp, payload: { [PAYLOAD_RECORD_NAME[tp.type]]: tp.payload } };
}

export function touchpointFromAvro(record: Record<string, unknown>): unknown {
  const wrapped = record.payload as Record<string, unknown> | null | undefined;
  const payload = wrapped && typeof wrapped === 'object' ? Object.values(wrapped)[0] : wrapped;
  return stripNulls({ ...record, type: record.type as TouchpointType, payload });
}
