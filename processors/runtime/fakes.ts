/**
 * Test fakes for the runtime: a serde that writes JSON where the real one writes Avro through the registry,
 * so the task can run in memory. Honest about what it does: encode and decode round-trip, nothing else.
 */
import type { ContractSerde } from '../../infra/registry/serde';

export function jsonSerde<T>(): ContractSerde<T> {
  return {
    subject: 'test',
    schemaId: 1,
    encode: (value: T) => Promise.resolve(Buffer.from(JSON.stringify(value))),
    decode: (message: Buffer) =>
      Promise.resolve({ ok: true as const, value: JSON.parse(message.toString()) as T, schemaId: 1 }),
  } as unknown as ContractSerde<T>;
}
