/**
 * Sealing: AES-256-GCM (NIST SP 800-38D) under a person's key, as node:crypto does it. A sealed value is
 * `1.<key id>.<base64url of 12-byte IV, 16-byte tag, ciphertext>`; the additional authenticated data is the
 * id of the record it belongs to (a touchpoint's event id), so a sealed value copied into another record does
 * not open. A random IV per value: at most 2^32 values per key keep GCM's collision bound (SP 800-38D 8.3),
 * far more than one person's touchpoints.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { randomBytesFromPool } from './random-pool';
import { secretKeyOf } from '../../schemas/secret-key';

export interface PersonKey {
  /** The key's id: 8 base64url characters, unique with the person's pseudonym. */
  readonly id: string;
  /** 32 bytes. */
  readonly bytes: Buffer;
}

const VERSION = '1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export function seal(key: PersonKey, boundTo: string, plain: string): string {
  const iv = randomBytesFromPool(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', secretKeyOf(key.bytes), iv);
  cipher.setAAD(Buffer.from(boundTo, 'utf8'));
  const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return `${VERSION}.${key.id}.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
}

/** The key id a sealed value names, or undefined when it is not a sealed value. */
export function sealedKeyId(sealed: string): string | undefined {
  const parts = sealed.split('.');
  return parts.length === 3 && parts[0] === VERSION && parts[1] !== '' ? parts[1] : undefined;
}

/** The plain text, or undefined when the value does not open with this key for this record. */
export function unseal(key: Buffer, boundTo: string, sealed: string): string | undefined {
  const parts = sealed.split('.');
  if (parts.length !== 3 || parts[0] !== VERSION) return undefined;
  const raw = Buffer.from(parts[2]!, 'base64url');
  if (raw.length < IV_BYTES + TAG_BYTES) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', secretKeyOf(key), raw.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(boundTo, 'utf8'));
    decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString(
      'utf8',
    );
  } catch {
    return undefined;
  }
}
