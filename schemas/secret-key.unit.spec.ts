import { createHmac, randomBytes } from 'node:crypto';
import { secretKeyOf } from './secret-key';

describe('secretKeyOf', () => {
  it('makes one KeyObject per Buffer, holding its bytes', () => {
    const bytes = randomBytes(32);
    const key = secretKeyOf(bytes);
    expect(secretKeyOf(bytes)).toBe(key);
    expect(key.type).toBe('secret');
    expect(key.export().equals(bytes)).toBe(true);
    const copy = Buffer.from(bytes);
    expect(secretKeyOf(copy)).not.toBe(key);
    expect(secretKeyOf(copy).equals(key)).toBe(true);
  });

  it('gives node:crypto the same key as the bytes themselves', () => {
    const bytes = randomBytes(32);
    const mac = (key: Parameters<typeof createHmac>[1]) =>
      createHmac('sha256', key).update('id').digest('hex');
    expect(mac(secretKeyOf(bytes))).toBe(mac(bytes));
  });
});
