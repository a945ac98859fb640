import avro from 'avsc';
import { encode as wireEncode } from '@kafkajs/confluent-schema-registry/dist/wireEncoder';
import { CicloError } from '../errors';
import type { AvroRegistry } from './schema-registry';
import { CONTRACTS } from '../../schemas/contracts';
import { TOUCHPOINT_EXAMPLES } from '../../schemas/examples';
import { createSerde } from './serde';
import { TOUCHPOINT_TYPES, type Touchpoint } from '../../schemas/touchpoint';

/** A registry that encodes as @kafkajs/confluent-schema-registry does: avsc toBuffer, then the wire header. */
function fakeRegistry(): AvroRegistry {
  let type: avro.Type | undefined;
  return {
    url: 'fake',
    register: (_subject, schema) => {
      type = avro.Type.forSchema(schema as avro.Schema);
      return Promise.resolve(1234567);
    },
    encode: (id, value) => Promise.resolve(wireEncode(id, type!.toBuffer(value))),
    decode: <T>(message: Buffer) => Promise.resolve(type!.fromBuffer(message.subarray(5)) as T),
    decodeKnown: <T>(message: Buffer) => type!.fromBuffer(message.subarray(5)) as T,
    setCompatibility: () => Promise.resolve(),
    getCompatibility: () => Promise.resolve(undefined),
    listSubjects: () => Promise.resolve([]),
    listVersions: () => Promise.resolve([]),
  };
}

const examples: Touchpoint[] = TOUCHPOINT_TYPES.map((t) => TOUCHPOINT_EXAMPLES[t]);

describe('serde encodeAll', () => {
  it('gives, for each value, the bytes encode gives', async () => {
    const serde = await createSerde(fakeRegistry(), CONTRACTS.touchpoint, 't-value');
    // Enough values, some large, that the shared buffer has to grow several times.
    const values = Array.from({ length: 3000 }, (_, i) => {
      const example = examples[i % examples.length]!;
      return i % 7 === 0 ? { ...example, eventId: `e${i}-${'x'.repeat(100)}` } : example;
    });
    const all = await serde.encodeAll(values);
    const one = await Promise.all(values.map((v) => serde.encode(v)));
    expect(all).toHaveLength(values.length);
    all.forEach((buf, i) => expect(buf.equals(one[i]!)).toBe(true));
    for (const buf of all.slice(0, examples.length)) expect((await serde.decode(buf)).ok).toBe(true);
  });

  it('refuses an invalid value as encode does, naming the field', async () => {
    const serde = await createSerde(fakeRegistry(), CONTRACTS.touchpoint, 't-value');
    const bad = { ...examples[0]!, eventId: '' };
    const err: unknown = await serde.encodeAll([examples[1]!, bad]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CicloError);
    expect((err as CicloError).code).toBe('EVENT_INVALID');
    expect((err as CicloError).message).toMatch(/eventId/);
  });

  it('validates only the values alreadyValid does not vouch for', async () => {
    const serde = await createSerde(fakeRegistry(), CONTRACTS.touchpoint, 't-value');
    const vouched = new Set<Touchpoint>([examples[0]!]);
    const asked: Touchpoint[] = [];
    const all = await serde.encodeAll(examples.slice(0, 3), (v) => {
      asked.push(v);
      return vouched.has(v);
    });
    expect(asked).toEqual(examples.slice(0, 3));
    expect(all[0]!.equals(await serde.encode(examples[0]!))).toBe(true);
    await expect(serde.encodeAll([{ ...examples[1]!, eventId: '' }], () => false)).rejects.toThrow(/eventId/);
  });
});

describe('serde decodeKnown', () => {
  it('gives what decode gives, for valid, invalid and undecodable messages', async () => {
    const serde = await createSerde(fakeRegistry(), CONTRACTS.touchpoint, 't-value');
    const valid = await serde.encodeAll(examples);
    // Bytes of a valid encoding whose event id the contract refuses (empty), and bytes that are not Avro.
    const invalid = wireEncode(
      1234567,
      avro.Type.forSchema(CONTRACTS.touchpoint.avro as avro.Schema).toBuffer(
        CONTRACTS.touchpoint.toAvro({ ...examples[0]!, eventId: '' }),
      ),
    );
    const garbage = Buffer.from([0, 0, 0, 0, 1, 0xff, 0xff]);
    for (const message of [...valid, invalid, garbage]) {
      const known = serde.decodeKnown!(message);
      expect(known).toEqual(await serde.decode(message));
    }
    expect(serde.decodeKnown!(invalid)).toMatchObject({ ok: false, reason: 'invalid' });
    expect(serde.decodeKnown!(garbage)).toMatchObject({ ok: false, reason: 'undecodable' });
  });
});
