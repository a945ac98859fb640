/**
 * Avro schemas in a Confluent-compatible Schema Registry (Apicurio here, Confluent or Karapace elsewhere),
 * and the Confluent wire format (magic byte 0, 4-byte schema id, Avro body) through
 * @kafkajs/confluent-schema-registry. Registration is idempotent: the same schema gets the same id.
 */
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { CicloError } from '../errors';

export type CompatibilityLevel =
  'BACKWARD' | 'BACKWARD_TRANSITIVE' | 'FORWARD' | 'FORWARD_TRANSITIVE' | 'FULL' | 'FULL_TRANSITIVE' | 'NONE';

export interface AvroRegistry {
  readonly url: string;
  /** Registers the schema under the subject (a no-op when already there) and returns its id. */
  register(subject: string, schema: object): Promise<number>;
  setCompatibility(subject: string, level: CompatibilityLevel): Promise<void>;
  getCompatibility(subject: string): Promise<CompatibilityLevel | undefined>;
  encode(schemaId: number, value: unknown): Promise<Buffer>;
  decode<T = unknown>(message: Buffer): Promise<T>;
  listSubjects(): Promise<string[]>;
}

export function createAvroRegistry(url: string): AvroRegistry {
  const base = url.replace(/\/$/, '');
  const registry = new SchemaRegistry({ host: base });

  async function http(method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        'content-type': 'application/vnd.schemaregistry.v1+json',
        accept: 'application/vnd.schemaregistry.v1+json, application/json',
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    const parsed: unknown = text ? JSON.parse(text) : undefined;
    if (!res.ok) {
      const message = (parsed as { message?: string } | undefined)?.message ?? text;
      throw new CicloError(
        'SERVICE_UNREACHABLE',
        `schema registry ${method} ${path}: HTTP ${res.status} ${message}`,
        { retriable: res.status >= 500 },
      );
    }
    return parsed;
  }

  return {
    url: base,
    async register(subject, schema) {
      try {
        const { id } = await registry.register(
          { type: SchemaType.AVRO, schema: JSON.stringify(schema) },
          { subject },
        );
        return id;
      } catch (err) {
        const message = (err as Error).message;
        if (/incompatible|409/i.test(message)) {
          throw new CicloError(
            'SCHEMA_INCOMPATIBLE',
            `schema for subject "${subject}" is incompatible with its registered versions: ${message}`,
            { cause: err },
          );
        }
        throw new CicloError(
          'SERVICE_UNREACHABLE',
          `schema registry refused subject "${subject}": ${message}`,
          { cause: err, retriable: true },
        );
      }
    },
    async setCompatibility(subject, level) {
      await http('PUT', `/config/${encodeURIComponent(subject)}`, { compatibility: level });
    },
    async getCompatibility(subject) {
      try {
        const res = (await http('GET', `/config/${encodeURIComponent(subject)}`)) as {
          compatibilityLevel?: string;
          compatibility?: string;
        };
        return (res.compatibilityLevel ?? res.compatibility) as CompatibilityLevel | undefined;
      } catch {
        return undefined;
      }
    },
    encode: (schemaId, value) => registry.encode(schemaId, value),
    async decode<T>(message: Buffer) {
      try {
        return (await registry.decode(message)) as T;
      } catch (err) {
        throw new CicloError('DECODE_FAILED', `message could not be decoded: ${(err as Error).message}`, {
          cause: err,
        });
      }
    },
    async listSubjects() {
      return (await http('GET', '/subjects')) as string[];
    },
  };
}
