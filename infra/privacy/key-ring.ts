/**
 * Person keys, in the compacted topic `ciclo.person-keys` (schemas/topics.ts): record key
 * `<pseudonym of the id>/<key id>`, value a version byte and 32 key bytes. Writers (the collector, webhooks,
 * imports) create a key for an id the first time they seal something of it and write it before the sealed
 * record, so any reader that has the sealed record can find the key by reading the topic to its end. Two
 * writers that meet a new id at once each create one, under different key ids: records never overwrite each
 * other, and `destroy` tombstones all of an id's keys. Crypto-shredding: once the tombstones are compacted
 * (schemas/topics.ts: within about two days), nothing anywhere opens what those keys sealed.
 */
import { randomBytesFromPool } from './random-pool';
import type { CompactedTable } from '../kafka/compacted-table';
import { pseudonymOf } from '../../schemas/pseudonym';
import type { PersonKey } from './seal';

const KEY_VERSION = 1;
const KEY_BYTES = 32;
/** Ids whose key a writer keeps at hand; past it, an id seen again gets a new key (one more small record). */
const WRITER_CACHE_LIMIT = 100_000;
/** Record keys a reader remembers to be absent, so a forgotten person's records cost one look each. */
const ABSENT_LIMIT = 100_000;

export interface KeyRing {
  /** The key to seal each id's data with, created (and on Kafka) for those that had none here. */
  keysFor(ids: readonly string[]): Promise<Map<string, PersonKey>>;
  /** The key `keyId` of `id`, or undefined when the topic does not hold it (destroyed by a forget). */
  find(id: string, keyId: string): Promise<Buffer | undefined>;
  /** Tombstones every key of every id whose pseudonym is given; how many keys that was. */
  destroy(pseudonyms: ReadonlySet<string>): Promise<number>;
  close(): Promise<void>;
}

export function keyRecordKey(pseudonym: string, keyId: string): string {
  return `${pseudonym}/${keyId}`;
}

export function encodeKey(bytes: Buffer): Buffer {
  return Buffer.concat([Buffer.of(KEY_VERSION), bytes]);
}

export function decodeKey(value: Buffer | undefined): Buffer | undefined {
  return value && value.length === KEY_BYTES + 1 && value[0] === KEY_VERSION ? value.subarray(1) : undefined;
}

/** The key ring over the person-key topic read as a table (connect.ts; a test passes one of its own). */
export function keyRingOver(table: CompactedTable, secret: Buffer): KeyRing {
  const current = new Map<string, PersonKey>();
  const absent = new Set<string>();
  /**
   * The key of each record value the table holds, the same Buffer every time it is asked for: what seal.ts
   * makes its KeyObject of once (schemas/secret-key.ts), rather than once per opened value.
   */
  const keys = new WeakMap<Buffer, Buffer | undefined>();
  const keyIn = (value: Buffer | undefined): Buffer | undefined => {
    if (value === undefined) return undefined;
    if (!keys.has(value)) keys.set(value, decodeKey(value));
    return keys.get(value);
  };
  return {
    async keysFor(ids) {
      const found = new Map<string, PersonKey>();
      const created: { key: string; value: Buffer }[] = [];
      for (const id of ids) {
        if (found.has(id)) continue;
        let key = current.get(id);
        if (!key) {
          key = { id: randomBytesFromPool(6).toString('base64url'), bytes: randomBytesFromPool(KEY_BYTES) };
          created.push({ key: keyRecordKey(pseudonymOf(secret, id), key.id), value: encodeKey(key.bytes) });
          if (current.size >= WRITER_CACHE_LIMIT) current.delete(current.keys().next().value!);
          current.set(id, key);
        }
        found.set(id, key);
      }
      try {
        await table.write(created);
      } catch (err) {
        // Not on Kafka: nothing may be sealed with them.
        for (const id of ids) current.delete(id);
        throw err;
      }
      return found;
    },
    async find(id, keyId) {
      const recordKey = keyRecordKey(pseudonymOf(secret, id), keyId);
      const held = keyIn(table.get(recordKey));
      if (held || absent.has(recordKey)) return held;
      await table.catchUp();
      const read = keyIn(table.get(recordKey));
      if (!read) {
        if (absent.size >= ABSENT_LIMIT) absent.clear();
        absent.add(recordKey);
      }
      return read;
    },
    async destroy(pseudonyms) {
      await table.catchUp();
      const doomed = [...table.keys()].filter((k) => pseudonyms.has(k.slice(0, k.indexOf('/'))));
      await table.write(doomed.map((key) => ({ key, value: null })));
      for (const [id] of current) if (pseudonyms.has(pseudonymOf(secret, id))) current.delete(id);
      return doomed.length;
    },
    close: () => table.close(),
  };
}
