/**
 * Avro schemas in a Confluent-compatible Schema Registry (Confluent, Karapace, or the native stack's
 * Hortonworks registry), and the Confluent wire format (magic byte 0, 4-byte schema id, Avro body) through
 * @kafkajs/confluent-schema-registry. Registration is idempotent: the same schema gets the same id.
 *
 * Registration goes straight to POST /subjects/{subject}/versions: the library's register() insists the
 * subject's level is its own default (BACKWARD), which ciclo's transitive subjects are not. Compatibility
 * uses /config/{subject}; a registry without it (Hortonworks) is configured through its native API.
 */
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
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
  /**
   * `decode` without a promise when the writer's schema is known already (undefined until it is): a
   * processor decodes millions of records, and an await per record was a tenth of its allocations.
   */
  decodeKnown<T = unknown>(message: Buffer, readerSchema?: object): T | undefined;
  listSubjects(): Promise<string[]>;
  /** Registered version numbers of a subject; empty when the subject does not exist. */
  listVersions(subject: string): Promise<number[]>;
}

export function createAvroRegistry(url: string): AvroRegistry {
  const base = url.replace(/\/$/, '');
  const registry = new SchemaRegistry({ host: base });
  const native = hortonworksNativeApi(base);
  const compatibilityHint = 'see its compatibility level';

  /**
   * The client caches a schema only once its first lookup has finished, so every encode or decode started
   * before then fetches the schema and compiles an Avro type of its own: hundreds at once when a batch or
   * a busy collector starts. One lookup per id, shared by everyone waiting for it.
   */
  const writerTypes = new Map<number, Promise<avro.Type>>();
  const knownWriterTypes = new Map<number, avro.Type>();
  function writerType(id: number): Promise<avro.Type> {
    let found = writerTypes.get(id);
    if (!found) {
      found = registry.getSchema(id).then((schema) => {
        knownWriterTypes.set(id, schema as unknown as avro.Type);
        return schema as unknown as avro.Type;
      });
      found.catch(() => writerTypes.delete(id)); // a failed lookup is tried again next time
      writerTypes.set(id, found);
    }
    return found;
  }

  /** Per reader schema, its type and, per writer id, the resolver (null: the writer's schema is the reader's). */
  const readerTypes = new WeakMap<
    object,
    { type: avro.Type; resolvers: Map<number, avro.Resolver | null> }
  >();
  function decodeWith<T>(writerId: number, writer: avro.Type, body: Buffer, readerSchema?: object): T {
    if (!readerSchema) return writer.fromBuffer(body) as T;
    // Compiling a reader and a resolver is costly: once per (reader schema, writer id), not per message.
    let reader = readerTypes.get(readerSchema);
    if (!reader) {
      // Records without avsc's prototype methods (clone, toBuffer...): enumerable on the prototype, they
      // would be read as unknown keys by anything that walks a record with for...in (schemas/fast-check.ts).
      reader = {
        type: avro.Type.forSchema(readerSchema as avro.Schema, { omitRecordMethods: true }),
        resolvers: new Map(),
      };
      readerTypes.set(readerSchema, reader);
    }
    let resolver = reader.resolvers.get(writerId);
    if (resolver === undefined) {
      // The same schema (Parsing Canonical Form, which is all the binary encoding depends on) needs no
      // resolution, and avsc's resolving reader costs about twice its plain one.
      resolver = reader.type.equals(writer) ? null : reader.type.createResolver(writer);
      reader.resolvers.set(writerId, resolver);
    }
    return (resolver === null ? reader.type.fromBuffer(body) : reader.type.fromBuffer(body, resolver)) as T;
  }
  function wireSchemaId(message: Buffer): number {
    if (message.length < 5 || message[0] !== 0)
      throw new Error('not in the Confluent wire format (magic byte 0 + schema id)');
    return message.readInt32BE(1);
  }
  const decodeFailed = (err: unknown): CicloError =>
    new CicloError('DECODE_FAILED', `message could not be decoded: ${(err as Error).message}`, {
      cause: err,
    });

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
        {
          retriable: res.status >= 500,
          status: res.status,
          detail: message,
        },
      );
    }
    return parsed;
  }

  return {
    url: base,
    async register(subject, schema) {
      try {
        // Registration is idempotent, so transient registry errors are retried (Hortonworks answers 500
        // when two clients register the same new subject at the same moment).
        const { id } = (await retrying(() =>
          http('POST', `/subjects/${encodeURIComponent(subject)}/versions`, {
            schema: JSON.stringify(schema),
          }),
        )) as { id: number };
        return id;
      } catch (err) {
        if (err instanceof CicloError && err.status === 409) {
          throw new CicloError(
            'SCHEMA_INCOMPATIBLE',
            `schema for subject "${subject}" is incompatible with its registered versions (${compatibilityHint}): ${err.detail}`,
            { cause: err },
          );
        }
        throw err;
      }
    },
    async setCompatibility(subject, level) {
      try {
        await http('PUT', `/config/${encodeURIComponent(subject)}`, { compatibility: level });
      } catch (err) {
        if (!(err instanceof CicloError) || !CONFIG_UNSUPPORTED.has(err.status ?? 0)) throw err;
        await native.setCompatibility(subject, level);
      }
    },
    async getCompatibility(subject) {
      try {
        const res = (await http('GET', `/config/${encodeURIComponent(subject)}`)) as {
          compatibilityLevel?: string;
          compatibility?: string;
        };
        return (res.compatibilityLevel ?? res.compatibility) as CompatibilityLevel | undefined;
      } catch (err) {
        if (err instanceof CicloError && err.status === 404 && !/\/api\/v1\/confluent$/.test(base))
          return undefined;
        if (!(err instanceof CicloError) || !CONFIG_UNSUPPORTED.has(err.status ?? 0)) throw err;
        return native.getCompatibility(subject);
      }
    },
    async encode(schemaId, value) {
      await writerType(schemaId);
      return registry.encode(schemaId, value);
    },
    async decode<T>(message: Buffer, readerSchema?: object) {
      try {
        const writerId = wireSchemaId(message);
        return decodeWith<T>(writerId, await writerType(writerId), message.subarray(5), readerSchema);
      } catch (err) {
        throw decodeFailed(err);
      }
    },
    decodeKnown<T>(message: Buffer, readerSchema?: object) {
      try {
        const writerId = wireSchemaId(message);
        const writer = knownWriterTypes.get(writerId);
        return writer === undefined
          ? undefined
          : decodeWith<T>(writerId, writer, message.subarray(5), readerSchema);
      } catch (err) {
        throw decodeFailed(err);
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

/** Retries retriable failures with exponential backoff and jitter: 6 attempts over about 3 seconds. */
async function retrying<T>(attempt: () => Promise<T>, attempts = 6): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (err) {
      if (i >= attempts || !(err instanceof CicloError) || !err.retriable) throw err;
      await new Promise((r) => setTimeout(r, 100 * 2 ** (i - 1) * (0.5 + Math.random())));
    }
  }
}

/** Registries without /config answer 404 (unknown route), 405 or 500 (Hortonworks' mapper) there. */
const CONFIG_UNSUPPORTED = new Set([404, 405, 500]);

/**
 * Hortonworks Schema Registry keeps compatibility on the schema's metadata: a direction (BACKWARD, FORWARD,
 * BOTH, NONE) and a validation level (LATEST: against the last version; ALL: against every version, i.e.
 * Confluent's *_TRANSITIVE).
 */
const TO_HORTONWORKS: Record<CompatibilityLevel, { compatibility: string; validationLevel: string }> = {
  BACKWARD: { compatibility: 'BACKWARD', validationLevel: 'LATEST' },
  BACKWARD_TRANSITIVE: { compatibility: 'BACKWARD', validationLevel: 'ALL' },
  FORWARD: { compatibility: 'FORWARD', validationLevel: 'LATEST' },
  FORWARD_TRANSITIVE: { compatibility: 'FORWARD', validationLevel: 'ALL' },
  FULL: { compatibility: 'BOTH', validationLevel: 'LATEST' },
  FULL_TRANSITIVE: { compatibility: 'BOTH', validationLevel: 'ALL' },
  NONE: { compatibility: 'NONE', validationLevel: 'LATEST' },
};

function hortonworksNativeApi(confluentBase: string) {
  const base = confluentBase.replace(/\/api\/v1\/confluent$/, '/api/v1/schemaregistry');
  const call = async (method: string, path: string, body?: unknown): Promise<Response> =>
    fetch(`${base}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
  return {
    async setCompatibility(subject: string, level: CompatibilityLevel): Promise<void> {
      const metadata = {
        type: 'avro',
        schemaGroup: 'Kafka',
        name: subject,
        description: subject,
        evolve: true,
        ...TO_HORTONWORKS[level],
      };
      const exists = (await call('GET', `/schemas/${encodeURIComponent(subject)}`)).ok;
      const res = exists
        ? await call('POST', `/schemas/${encodeURIComponent(subject)}`, metadata)
        : await call('POST', '/schemas', metadata);
      if (!res.ok)
        throw new CicloError(
          'SERVICE_UNREACHABLE',
          `schema registry: cannot set compatibility of "${subject}": HTTP ${res.status} ${await res.text()}`,
        );
    },
    async getCompatibility(subject: string): Promise<CompatibilityLevel | undefined> {
      const res = await call('GET', `/schemas/${encodeURIComponent(subject)}`);
      if (!res.ok) return undefined;
      const { schemaMetadata: m } = (await res.json()) as {
        schemaMetadata: { compatibility: string; validationLevel: string };
      };
      const found = Object.entries(TO_HORTONWORKS).find(
        ([, v]) => v.compatibility === m.compatibility && v.validationLevel === m.validationLevel,
      );
      return found?.[0] as CompatibilityLevel | undefined;
    },
  };
}
