/**
 * Encoding and decoding contract values in the Confluent wire format through a schema registry. Encoding
 * validates first, so nothing invalid reaches Kafka; decoding resolves any registered writer version into
 * our reader schema (Avro schema resolution), then validates. Failures are returned as data.
 */
import { CicloError } from '../infra/errors';
import type { AvroRegistry } from '../infra/registry/schema-registry';
import type { Contract } from './contracts';
import { formatProblems, validateWith, type ValidationProblem } from './validation';

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
  decode(message: Buffer): Promise<Decoded<T>>;
}

export async function createSerde<T>(
  registry: AvroRegistry,
  contract: Contract<T>,
  subject: string,
): Promise<ContractSerde<T>> {
  const schemaId = await registry.register(subject, contract.avro);
  return {
    subject,
    schemaId,
    async encode(value) {
      const checked = validateWith(contract.schema, value);
      if (!checked.ok) {
        throw new CicloError(
          'EVENT_INVALID',
          `invalid ${contract.name}: ${formatProblems(checked.problems)}`,
        );
      }
      return registry.encode(schemaId, contract.toAvro(checked.value));
    },
    async decode(message) {
      let record: Record<string, unknown>;
      try {
        record = await registry.decode<Record<string, unknown>>(message, contract.avro);
      } catch (err) {
        return { ok: false, reason: 'undecodable', error: (err as Error).message };
      }
      const checked = validateWith(contract.schema, contract.fromAvro(record));
      if (!checked.ok)
        return {
          ok: false,
          reason: 'invalid',
          error: formatProblems(checked.problems),
          problems: checked.problems,
        };
      return { ok: true, value: checked.value, schemaId: message.length >= 5 ? message.readInt32BE(1) : -1 };
    },
  };
}
