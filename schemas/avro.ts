/**
 * Derives the Avro schemas from the zod contracts, so the two cannot drift: zod is the source of truth and
 * carries what Avro needs as metadata (record names, int vs long, logical types). Optional fields become
 * ["null", T] with default null, which keeps adding one a compatible change in every direction.
 */
import { z } from 'zod';
import { CustomerSnapshotSchema, LifecycleStateRecordSchema, StageChangedSchema } from './outputs';
import { EnvelopeFields, PAYLOADS, TOUCHPOINT_TYPES, type TouchpointType } from './touchpoint';

export type AvroSchema = string | AvroSchema[] | { [key: string]: unknown };

export const TOUCHPOINT_NAMESPACE = 'dev.ciclo.touchpoint';
export const LIFECYCLE_NAMESPACE = 'dev.ciclo.lifecycle';

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  description?: string;
  avroName?: string;
  avroType?: string;
  logicalType?: string;
}

const INT_MIN = -2_147_483_648;
const INT_MAX = 2_147_483_647;

class AvroDeriver {
  private readonly defined = new Set<string>();
  constructor(private readonly namespace: string) {}

  /** A named type is defined once; later uses refer to it by full name, as Avro requires. */
  private named(name: string, build: () => Record<string, unknown>): AvroSchema {
    const full = `${this.namespace}.${name}`;
    if (this.defined.has(full)) return full;
    this.defined.add(full);
    return build();
  }

  type(js: JsonSchema, path: string): AvroSchema {
    if (js.anyOf) {
      const branches = js.anyOf.filter((b) => b.type !== 'null').map((b, i) => this.type(b, `${path}[${i}]`));
      const nullable = js.anyOf.some((b) => b.type === 'null');
      return nullable ? ['null', ...branches.flat()] : branches;
    }
    if (Array.isArray(js.type)) {
      const nonNull = js.type.filter((t) => t !== 'null');
      if (nonNull.length !== 1)
        throw new Error(`${path}: only T|null unions are supported, got ${js.type.join('|')}`);
      return ['null', this.type({ ...js, type: nonNull[0]! }, path)];
    }
    switch (js.type) {
      case 'string':
        if (js.enum) {
          const symbols = js.enum.map(String);
          const name = js.avroName ?? pascal(path);
          return this.named(name, () => ({ type: 'enum', name, namespace: this.namespace, symbols }));
        }
        return 'string';
      case 'integer': {
        const avroType =
          js.avroType ??
          ((js.minimum ?? -Infinity) >= INT_MIN && (js.maximum ?? Infinity) <= INT_MAX ? 'int' : 'long');
        return js.logicalType ? { type: avroType, logicalType: js.logicalType } : avroType;
      }
      case 'number':
        return 'double';
      case 'boolean':
        return 'boolean';
      case 'array':
        if (!js.items) throw new Error(`${path}: array without items`);
        return { type: 'array', items: this.type(js.items, `${path}Item`) };
      case 'object': {
        if (!js.properties && js.additionalProperties && typeof js.additionalProperties === 'object') {
          return { type: 'map', values: this.type(js.additionalProperties, `${path}Value`) };
        }
        const name = js.avroName ?? pascal(path);
        return this.named(name, () => ({
          type: 'record',
          name,
          namespace: this.namespace,
          fields: this.fields(js, path),
        }));
      }
      default:
        throw new Error(`${path}: no Avro mapping for JSON schema type ${String(js.type)}`);
    }
  }

  fields(js: JsonSchema, path: string): Record<string, unknown>[] {
    const required = new Set(js.required ?? []);
    return Object.entries(js.properties ?? {}).map(([name, prop]) => {
      const t = this.type(prop, `${path}.${name}`);
      const doc = prop.description ? { doc: prop.description } : {};
      if (required.has(name)) return { name, type: t, ...doc };
      const branches = Array.isArray(t) ? (t[0] === 'null' ? t : ['null', ...t]) : ['null', t];
      return { name, type: branches, default: null, ...doc };
    });
  }
}

function pascal(path: string): string {
  return path
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((p) => p[0]!.toUpperCase() + p.slice(1))
    .join('');
}

function jsonSchemaOf(schema: z.ZodType): JsonSchema {
  return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'throw' }) as JsonSchema;
}

/** The Avro record name of each touchpoint type's payload (several email types share one record). */
export const PAYLOAD_RECORD_NAME: Readonly<Record<TouchpointType, string>> = Object.fromEntries(
  TOUCHPOINT_TYPES.map((t) => [
    t,
    `${TOUCHPOINT_NAMESPACE}.${jsonSchemaOf(PAYLOADS[t]).avroName ?? `${t}Payload`}`,
  ]),
) as Record<TouchpointType, string>;

export function deriveTouchpointAvro(): Record<string, unknown> {
  const d = new AvroDeriver(TOUCHPOINT_NAMESPACE);
  const envelope = jsonSchemaOf(z.object(EnvelopeFields));
  const fields = d.fields(envelope, 'Touchpoint');
  const payloadBranches: AvroSchema[] = [];
  const seen = new Set<string>();
  for (const type of TOUCHPOINT_TYPES) {
    const full = PAYLOAD_RECORD_NAME[type];
    if (seen.has(full)) continue;
    seen.add(full);
    payloadBranches.push(d.type(jsonSchemaOf(PAYLOADS[type]), type));
  }
  const byName = new Map(fields.map((f) => [f.name as string, f]));
  // Envelope fields in their Avro order; `sealed` came later, so it goes after `payload` (below).
  const order = ['eventId', 'customerId', 'anonymousId', 'occurredAt', 'receivedAt', 'source', 'context'];
  const ordered = order.map((n) => byName.get(n)!);
  const placed = new Set([...order, 'sealed']);
  const unplaced = [...byName.keys()].filter((n) => !placed.has(n));
  // A new envelope field must be placed here on purpose (last, with a default), or Avro would drop it.
  if (unplaced.length > 0)
    throw new Error(`touchpoint envelope fields without a place in Avro: ${unplaced.join(', ')}`);
  return {
    type: 'record',
    name: 'Touchpoint',
    namespace: TOUCHPOINT_NAMESPACE,
    doc: 'A customer touchpoint. Derived from schemas/touchpoint.ts; do not edit by hand.',
    fields: [
      ordered[0],
      {
        name: 'type',
        type: {
          type: 'enum',
          name: 'TouchpointType',
          namespace: TOUCHPOINT_NAMESPACE,
          symbols: [...TOUCHPOINT_TYPES],
        },
      },
      ...ordered.slice(1),
      { name: 'payload', type: payloadBranches },
      // Added after the first version: last, with its null default, so readers of either version agree.
      byName.get('sealed')!,
    ],
  };
}

export function deriveRecordAvro(schema: z.ZodType, namespace: string): Record<string, unknown> {
  return new AvroDeriver(namespace).type(jsonSchemaOf(schema), 'Root') as Record<string, unknown>;
}

export const AVRO_SCHEMAS = {
  touchpoint: deriveTouchpointAvro(),
  stageChanged: deriveRecordAvro(StageChangedSchema, LIFECYCLE_NAMESPACE),
  customerSnapshot: deriveRecordAvro(CustomerSnapshotSchema, LIFECYCLE_NAMESPACE),
  lifecycleState: deriveRecordAvro(LifecycleStateRecordSchema, LIFECYCLE_NAMESPACE),
} as const;
