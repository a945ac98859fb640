/**
 * Key bytes as node:crypto should be given them on this Node. node:crypto takes a Buffer or a KeyObject, but
 * Node 24 tells a key apart with brand checks that throw for any object but a KeyObject (`isKeyObject` and
 * `isCryptoKey` in its lib/internal/crypto/keys.js each try a private slot and catch): a createCipheriv or
 * createHmac given a Buffer threw and caught two exceptions, and took 18 to 24 µs on Node 24.21 against about
 * 4 µs given a KeyObject. Sealing and pseudonyms make one or two such calls per touchpoint, so on Node 24
 * they had become a quarter of the collector's CPU. On Node 20 and 22 a Buffer costs no more, and making a
 * KeyObject does (createSecretKey: 2 to 3 µs on Node 20, once per new person key): sealing took 11 to 13 µs
 * per touchpoint with KeyObjects against 8 to 10 with Buffers (bench/RESULTS.md). So KeyObjects only from
 * Node 24 on.
 *
 * Keyed by the Buffer itself: the key ring and the installation secret hand out the same Buffer for the same
 * key, and never change one in place. A KeyObject holds its own copy of the bytes and goes with its Buffer.
 */
import { createSecretKey, type KeyObject } from 'node:crypto';

/** The first Node major version whose node:crypto was measured to pay for a key given as a Buffer. */
const KEY_OBJECTS_FROM_NODE = 24;
const NODE_MAJOR = Number(process.versions.node.split('.')[0]);

const made = new WeakMap<Buffer, KeyObject>();

export function secretKeyOf(bytes: Buffer, nodeMajor = NODE_MAJOR): KeyObject | Buffer {
  if (nodeMajor < KEY_OBJECTS_FROM_NODE) return bytes;
  let key = made.get(bytes);
  if (key === undefined) made.set(bytes, (key = createSecretKey(bytes)));
  return key;
}
