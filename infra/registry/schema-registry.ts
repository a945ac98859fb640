/**
 * Avro schemas in a Confluent-compatible Schema Registry (Apicurio here, Confluent or Karapace elsewhere),
 * and the Confluent wire format (magic byte 0, 4-byte schema id, Avro body) through
 * @kafkajs/confluent-schema-registry. Registration is idempotent: the same schema gets the same id.
 */
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import avro from 'avsc';
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
  /** Decodes with the writer's schema, resolved into readerSchema when given (Avro schema resolution). */
  decode<T = unknown>(message: Buffer, readerSchema?: object): Promise<T>;
  listSubjects(): Promise<string[]>;
  /** Registered version numbers of a subject; empty when the subject does not exist. */
  listVersions(subject: string): Promise<number[]>;
}

export function createAvroRegistry(url: string): AvroRegistry {
  const base = url.replace(/\/$/, '');
  const registry = new SchemaRegistry({ host: base });
  const readerTypes = new WeakMap<object, { type: avro.Type; resolvers: Map<number, avro.Resolver> }>();

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
    async decode<T>(message: Buffer, readerSchema?: object) {
      try {
        if (message.length < 5 || message[0] !== 0)
          throw new Error('not in the Confluent wire format (magic byte 0 + schema id)');
        const writerId = message.readInt32BE(1);
        const writer = (await registry.getSchema(writerId)) as unknown as avro.Type;
        const body = message.subarray(5);
        if (!readerSchema) return writer.fromBuffer(body) as T;
        // Compiling a reader and a resolver is costly: once per (reader schema, writer id), not per message.
        let reader = readerTypes.get(readerSchema);
        if (!reader) {
          reader = { type: avro.Type.forSchema(readerSchema as avro.Schema), resolvers: new Map() };
          readerTypes.set(readerSchema, reader);
        }
        let resolver = reader.resolvers.get(writerId);
        if (!resolver) {
          resolver = reader.type.createResolver(writer);
          reader.resolvers.set(writerId, resolver);
        }
        return reader.type.fromBuffer(body, resolver) as T;
      } catch (err) {
        throw new CicloError('DECODE_FAILED', `message could not be decoded: ${(err as Error).message}`, {
          cause: err,
        });
      }
    },
    async listSubjects() {
      return (await http('GET', '/subjects')) as string[];
    },
    async listVersions(subject) {
      try {
        return (await http('GET', `/subjects/${encodeURIComponent(subject)}/versions`)) as number[];
      } catch (err) {
        if (err instanceof CicloError && /HTTP 404/.test(err.message)) return [];
        throw err;
      }
    },
  };
}
