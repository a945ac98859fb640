/**
 * Key bytes as node:crypto's KeyObject, made once per Buffer. node:crypto takes either, but Node 24 tells a
 * key apart with brand checks that throw for any object but a KeyObject (`isKeyObject` and `isCryptoKey` in
 * its lib/internal/crypto/keys.js each try a private slot and catch): a createCipheriv or createHmac given a
 * Buffer threw and caught two exceptions, and took 18 to 24 µs on Node 24.21 against about 4 µs given a
 * KeyObject, which Node 20 and 22 take as fast as a Buffer. Sealing and pseudonyms make one or two such calls
 * per touchpoint, so on Node 24 they had become a quarter of the collector's CPU.
 *
 * Keyed by the Buffer itself: the key ring and the installation secret hand out the same Buffer for the same
 * key, and never change one in place. A KeyObject holds its own copy of the bytes and goes with its Buffer.
 */
import { createSecretKey, type KeyObject } from 'node:crypto';

const made = new WeakMap<Buffer, KeyObject>();

export function secretKeyOf(bytes: Buffer): KeyObject {
  let key = made.get(bytes);
  if (key === undefined) made.set(bytes, (key = createSecretKey(bytes)));
  return key;
}
