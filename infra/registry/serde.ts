/**
 * Encoding and decoding contract values in the Confluent wire format through a schema registry. Encoding
 * validates first, so nothing invalid reaches Kafka; decoding resolves any registered writer version into
 * our reader schema (Avro schema resolution), then validates. Failures are returned as data.
 */
import avro from 'avsc';
import { CicloError } from '../errors';
import type { AvroRegistry } from './schema-registry';
import type { Contract } from '../../schemas/contracts';
import {
  formatProblems,
  validateWith,
  type Validated,
  type ValidationProblem,
} from '../../schemas/validation';

export type Decoded<T> =
  | { readonly ok: true; readonly value: T; readonly schemaId: number }
  | {
      readonly ok: false;
      readonly reason: 'undecodable' | 'invalid';
      readonly error: string;
      readonly problems?: readonly ValidationProblem[];
    };

export interface ContractSerde<T> {
  readonly subject: string;
  readonly schemaId: number;
  /** Throws CicloError EVENT_INVALID naming every field path and broken rule. */
  encode(value: T): Promise<Buffer>;
  /**
   * The same bytes `encode` gives for each value, for many values at once: written one after another into
   * one buffer (each result a view of it), without a promise and an allocation per value. Each value is
   * validated as `encode` does, except those `alreadyValid` vouches for: values this contract's schema
   * itself returned from a successful parse, so validating them again could only say yes. Throws
   * CicloError EVENT_INVALID for the first invalid value.
   */
  encodeAll(values: readonly T[], alreadyValid?: (value: T) => boolean): Promise<Buffer[]>;
  decode(message: Buffer): Promise<Decoded<T>>;
  /** `decode` without a promise, once the writer's schema is known (undefined until then). */
  decodeKnown?(message: Buffer): Decoded<T> | undefined;
}

export async function createSerde<T>(
  registry: AvroRegistry,
  contract: Contract<T>,
  subject: string,
): Promise<ContractSerde<T>> {
  const schemaId = await registry.register(subject, contract.avro);
  // Compiles the contract's fast check now, at start-up (ajv generates code: ~0.3 s for the touchpoint's
  // branches), rather than on the first message, whose latency it would add to.
  contract.isCheckedForm(null);
  // The Avro type of the schema just registered as schemaId, compiled on first use. Avro's binary encoding
  // depends on the schema alone, so this writes exactly what the registry client writes for schemaId.
  let type: avro.Type | undefined;
  const checkedValue = (value: T): T => {
    // Values in their checked form need no parse: it would return them unchanged (schemas/fast-check.ts).
    if (contract.isCheckedForm(value)) return value;
    const checked = validateWith(contract.schema, value);
    if (!checked.ok)
      throw new CicloError('EVENT_INVALID', `invalid ${contract.name}: ${formatProblems(checked.problems)}`);
    return checked.value;
  };
  function encodeInto(values: readonly T[], alreadyValid?: (value: T) => boolean): Buffer[] {
    type ??= avro.Type.forSchema(contract.avro as avro.Schema);
    const out: Buffer[] = new Array<Buffer>(values.length);
    let slab = Buffer.allocUnsafe(Math.max(4096, values.length * 384));
    let pos = 0;
    for (let i = 0; i < values.length; i++) {
      const value = values[i]!;
      const record = contract.toAvro(alreadyValid?.(value) ? value : checkedValue(value));
      for (;;) {
        const start = pos;
        if (start + WIRE_HEADER_BYTES <= slab.length) {
          slab[start] = 0; // Confluent wire format: magic byte 0, schema id (int32 big-endian), Avro body
          slab.writeInt32BE(schemaId, start + 1);
          const end = type.encode(record, slab, start + WIRE_HEADER_BYTES);
          if (end >= 0) {
            out[i] = slab.subarray(start, end);
            pos = end;
            break;
          }
        }
        // Out of room: a fresh buffer (the views already handed out keep the old one alive).
        slab = Buffer.allocUnsafe(Math.max(slab.length, 64 * 1024) * 2);
        pos = 0;
      }
    }
    return out;
  }
  return {
    subject,
    schemaId,
    async encode(value) {
      return registry.encode(schemaId, contract.toAvro(checkedValue(value)));
    },
    encodeAll(values, alreadyValid) {
      try {
        return Promise.resolve(encodeInto(values, alreadyValid));
      } catch (err) {
        return Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
    },
    async decode(message) {
      let record: Record<string, unknown>;
      try {
        record = await registry.decode<Record<string, unknown>>(message, contract.avro);
      } catch (err) {
        return { ok: false, reason: 'undecodable', error: (err as Error).message };
      }
      return decoded(message, record);
    },
    decodeKnown(message) {
      let record: Record<string, unknown> | undefined;
      try {
        record = registry.decodeKnown<Record<string, unknown>>(message, contract.avro);
      } catch (err) {
        return { ok: false, reason: 'undecodable', error: (err as Error).message };
      }
      return record === undefined ? undefined : decoded(message, record);
    },
  };

  function decoded(message: Buffer, record: Record<string, unknown>): Decoded<T> {
    const checked = contractValueOf(contract, record);
    if (!checked.ok)
      return {
        ok: false,
        reason: 'invalid',
        error: formatProblems(checked.problems),
        problems: checked.problems,
      };
    return { ok: true, value: checked.value, schemaId: message.readInt32BE(1) };
  }
}

const WIRE_HEADER_BYTES = 5;

/**
 * A record Avro just decoded as the contract's value: in place when the fast check vouches for it
 * (schemas/fast-check.ts), else through the schema, which words what is wrong.
 */
export function contractValueOf<T>(contract: Contract<T>, record: Record<string, unknown>): Validated<T> {
  const candidate = contract.fromAvro(record);
  if (contract.isCheckedForm(candidate)) return { ok: true, value: candidate as T };
  return validateWith(contract.schema, candidate);
}
