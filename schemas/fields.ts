/**
 * Field builders shared by every contract. Each carries the Avro facts zod cannot express (int vs long,
 * logical types, record names) as metadata, which schemas/avro.ts reads to derive the Avro schemas.
 */
import { z } from 'zod';

/** Milliseconds since the epoch, as Avro long with logicalType timestamp-millis. Not before 1990. */
export const timestampMillis = () =>
  z
    .int()
    .min(631_152_000_000, 'must be a time in milliseconds since 1970, not before 1990')
    .max(32_503_680_000_000, 'must be a time in milliseconds since 1970, before year 3000')
    .meta({ avroType: 'long', logicalType: 'timestamp-millis' });

/** Money is never a binary float: integer minor units (cents) plus an ISO 4217 currency code. */
export const minorUnits = () => z.int().meta({ avroType: 'long' });
export const nonNegativeMinorUnits = () =>
  z.int().min(0, 'must be >= 0 minor units').meta({ avroType: 'long' });
export const currencyCode = () =>
  z.string().regex(/^[A-Z]{3}$/, 'must be a three-letter ISO 4217 code such as USD');

export const smallInt = () => z.int().min(-2_147_483_648).max(2_147_483_647).meta({ avroType: 'int' });
export const id = (what: string) =>
  z.string().min(1, `${what} must not be empty`).max(256, `${what} must be at most 256 characters`);
export const text = (max = 2000) => z.string().max(max, `must be at most ${max} characters`);
