import fs from 'node:fs';
import path from 'node:path';
import avro from 'avsc';
import { AVRO_SCHEMAS, PAYLOAD_RECORD_NAME } from './avro';
import { CONTRACTS } from './contracts';
import { renderSchemaReference } from './docs';
import { CUSTOMER_SNAPSHOT_EXAMPLE, STAGE_CHANGED_EXAMPLE, TOUCHPOINT_EXAMPLES } from './examples';
import {
  ALL_TOPICS,
  MERGED_INTO_HEADER,
  parseSnapshotKey,
  SEQUENCE_HEADER,
  snapshotKey,
  TOPICS,
} from './topics';
import { TOUCHPOINT_TYPES, type Touchpoint } from './touchpoint';
import { validateWith } from './validation';

const touchpointType = avro.Type.forSchema(AVRO_SCHEMAS.touchpoint as avro.Schema);
const examples = TOUCHPOINT_TYPES.map((t) => [t, TOUCHPOINT_EXAMPLES[t]] as const);

/** Every field path avsc rejects, so a test can say which field Avro disagreed on. */
function avroErrors(type: avro.Type, value: unknown): string[] {
  const paths: string[] = [];
  type.isValid(value, { errorHook: (p) => paths.push(p.join('.')) });
  return paths;
}

describe('touchpoint contract', () => {
  it.each(examples)(
    '%s: the example is valid for zod and round-trips through Avro unchanged',
    (_type, example) => {
      const checked = validateWith(CONTRACTS.touchpoint.schema, example);
      expect(checked).toEqual({ ok: true, value: example });
      const record = CONTRACTS.touchpoint.toAvro(example);
      expect(avroErrors(touchpointType, record)).toEqual([]);
      const decoded = CONTRACTS.touchpoint.fromAvro(
        touchpointType.fromBuffer(touchpointType.toBuffer(record)) as Record<string, unknown>,
      );
      expect(JSON.parse(JSON.stringify(decoded))).toEqual(JSON.parse(JSON.stringify(example)));
    },
  );

  it('has one Avro payload record per distinct zod payload schema, wrapped by record name', () => {
    expect(PAYLOAD_RECORD_NAME.EmailOpened).toBe(PAYLOAD_RECORD_NAME.EmailClicked);
    expect(PAYLOAD_RECORD_NAME.PurchaseCompleted).toBe('dev.ciclo.touchpoint.PurchaseCompletedPayload');
    const payloadField = (AVRO_SCHEMAS.touchpoint.fields as { name: string; type: unknown }[]).find(
      (f) => f.name === 'payload',
    )!;
    expect((payloadField.type as unknown[]).length).toBe(new Set(Object.values(PAYLOAD_RECORD_NAME)).size);
  });

  it('money is integer minor units (Avro long), never a float', () => {
    const moneyFields: [string, unknown][] = [];
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) return node.forEach(walk);
      if (!node || typeof node !== 'object') return;
      const { name, type } = node as { name?: unknown; type?: unknown };
      if (typeof name === 'string' && /Minor$/.test(name)) moneyFields.push([name, type]);
      Object.values(node).forEach(walk);
    };
    walk(AVRO_SCHEMAS);
    expect(moneyFields.length).toBeGreaterThanOrEqual(6);
    for (const [, type] of moneyFields)
      expect([JSON.stringify(type)]).toContainEqual(expect.stringMatching(/^("long"|\["null","long"\])$/));
    const purchase = validateWith(CONTRACTS.touchpoint.schema, {
      ...TOUCHPOINT_EXAMPLES.PurchaseCompleted,
      payload: { ...TOUCHPOINT_EXAMPLES.PurchaseCompleted.payload, amountMinor: 32.97 },
    });
    expect(purchase.ok).toBe(false);
    if (!purchase.ok)
      expect(purchase.problems).toContainEqual(
        expect.objectContaining({ path: 'payload.amountMinor', rule: 'invalid_type' }),
      );
  });

  it.each([
    ['a wrong type', { amountMinor: 'lots' }, 'payload.amountMinor', 'invalid_type'],
    ['a negative amount', { amountMinor: -5 }, 'payload.amountMinor', 'too_small'],
    ['a currency that is not ISO 4217', { currency: 'euro' }, 'payload.currency', 'invalid_format'],
    [
      'a line item with quantity 0',
      { lineItems: [{ sku: 'x', quantity: 0, unitPriceMinor: 1 }] },
      'payload.lineItems.0.quantity',
      'too_small',
    ],
  ])('rejects %s naming the field path and the rule', (_what, patch, pathName, rule) => {
    const bad = {
      ...TOUCHPOINT_EXAMPLES.PurchaseCompleted,
      payload: { ...TOUCHPOINT_EXAMPLES.PurchaseCompleted.payload, ...patch },
    };
    const checked = validateWith(CONTRACTS.touchpoint.schema, bad);
    expect(checked.ok).toBe(false);
    if (!checked.ok)
      expect(checked.problems).toContainEqual(expect.objectContaining({ path: pathName, rule }));
  });

  it('rejects an NPS outside 0-10, an event with no customer, and an unknown type', () => {
    const nps = validateWith(CONTRACTS.touchpoint.schema, {
      ...TOUCHPOINT_EXAMPLES.SurveyAnswered,
      payload: { surveyId: 's', nps: 11 },
    });
    expect(nps.ok || nps.problems).toEqual([
      expect.objectContaining({ path: 'payload.nps', rule: 'too_big', message: 'NPS must be 0-10' }),
    ]);
    const { customerId: _c, ...anonymousless } = TOUCHPOINT_EXAMPLES.Aliased;
    const noCustomer = validateWith(CONTRACTS.touchpoint.schema, anonymousless);
    expect(noCustomer.ok || noCustomer.problems).toEqual([
      expect.objectContaining({ path: 'customerId', message: 'customerId or anonymousId is required' }),
    ]);
    const unknown = validateWith(CONTRACTS.touchpoint.schema, {
      ...TOUCHPOINT_EXAMPLES.Aliased,
      type: 'OrderShipped',
    });
    expect(unknown.ok || unknown.problems.map((p) => p.path)).toEqual(['type']);
  });

  it('zod and Avro agree on type errors: both reject a string where a number belongs', () => {
    for (const [, example] of examples) {
      const bad = { ...example, occurredAt: 'yesterday' } as unknown as Touchpoint;
      expect(validateWith(CONTRACTS.touchpoint.schema, bad).ok).toBe(false);
      expect(avroErrors(touchpointType, CONTRACTS.touchpoint.toAvro(bad))).toEqual(['occurredAt']);
    }
  });

  it('zod and Avro agree on which fields are required', () => {
    const envelope = AVRO_SCHEMAS.touchpoint.fields as { name: string; type: unknown }[];
    const optionalInAvro = envelope
      .filter((f) => Array.isArray(f.type) && f.type[0] === 'null')
      .map((f) => f.name);
    expect(optionalInAvro.sort()).toEqual(['anonymousId', 'context', 'customerId', 'sealed']);
  });
});

describe('output contracts', () => {
  it.each([
    ['stageChanged', CONTRACTS.stageChanged, STAGE_CHANGED_EXAMPLE],
    ['customerSnapshot', CONTRACTS.customerSnapshot, CUSTOMER_SNAPSHOT_EXAMPLE],
  ] as const)('%s: the example validates and round-trips through Avro', (_name, contract, example) => {
    const type = avro.Type.forSchema(contract.avro as avro.Schema);
    expect(validateWith(contract.schema as never, example).ok).toBe(true);
    const record = (contract.toAvro as (v: unknown) => Record<string, unknown>)(example);
    expect(avroErrors(type, record)).toEqual([]);
    expect(contract.fromAvro(type.fromBuffer(type.toBuffer(record)) as Record<string, unknown>)).toEqual(
      example,
    );
  });

  it('stage names are strings, not an Avro enum, so custom models can add stages', () => {
    const fields = AVRO_SCHEMAS.stageChanged.fields as { name: string; type: unknown }[];
    expect(fields.find((f) => f.name === 'toStage')!.type).toBe('string');
  });
});

describe('topics', () => {
  it('are unique, and every subject other services consume is FULL_TRANSITIVE', () => {
    expect(new Set(ALL_TOPICS.map((t) => t.name)).size).toBe(ALL_TOPICS.length);
    expect(TOPICS.stageChanges.compatibility).toBe('FULL_TRANSITIVE');
    expect(TOPICS.customerSnapshots.config['cleanup.policy']).toBe('compact');
  });

  it("snapshot keys name the model and the customer; the documented key names the removal's headers", () => {
    expect(snapshotKey('five-stage', 'anon/7')).toBe('five-stage/anon/7');
    expect(parseSnapshotKey(snapshotKey('five-stage', 'anon/7'))).toEqual({
      modelId: 'five-stage',
      customerId: 'anon/7',
    });
    expect(parseSnapshotKey('cust-1')).toBeUndefined();
    expect(TOPICS.customerSnapshots.key).toContain(MERGED_INTO_HEADER);
    expect(TOPICS.customerSnapshots.key).toContain(SEQUENCE_HEADER);
  });
});

describe('schemas/README.md', () => {
  it('shows every type with its current example (run `npm run docs:schemas` after changing one)', () => {
    const readme = fs.readFileSync(path.join(__dirname, 'README.md'), 'utf8');
    expect(readme).toContain(renderSchemaReference());
    for (const type of TOUCHPOINT_TYPES) expect(readme).toContain(`### ${type}`);
  });
});
