import { createHmac, KeyObject, randomBytes } from 'node:crypto';
import { secretKeyOf } from './secret-key';

const mac = (key: Parameters<typeof createHmac>[1]): string =>
  createHmac('sha256', key).update('id').digest('hex');

describe('secretKeyOf', () => {
  it('from Node 24 on: one KeyObject per Buffer, holding its bytes', () => {
    const bytes = randomBytes(32);
    const key = secretKeyOf(bytes, 24);
    expect(key).toBeInstanceOf(KeyObject);
    expect(secretKeyOf(bytes, 24)).toBe(key);
    expect((key as KeyObject).export().equals(bytes)).toBe(true);
    const copy = Buffer.from(bytes);
    expect(secretKeyOf(copy, 24)).not.toBe(key);
    expect((secretKeyOf(copy, 24) as KeyObject).equals(key as KeyObject)).toBe(true);
  });

  it('before Node 24: the bytes themselves, which cost node:crypto no more there', () => {
    const bytes = randomBytes(32);
    expect(secretKeyOf(bytes, 20)).toBe(bytes);
    expect(secretKeyOf(bytes, 22)).toBe(bytes);
  });

  it('gives node:crypto the same key either way', () => {
    const bytes = randomBytes(32);
    expect(mac(secretKeyOf(bytes, 24))).toBe(mac(bytes));
    expect(mac(secretKeyOf(bytes))).toBe(mac(bytes));
  });
});
