/**
 * Random bytes for IVs and keys, drawn from a pool filled by the operating system's CSPRNG 64 KB at a time.
 * `crypto.randomBytes` asks the kernel on every call, and the collector seals one touchpoint after another:
 * in its benchmark, one 12-byte IV per call cost a sixth of the collector's CPU. Bytes are handed out once
 * and never reused, so they are as random as randomBytes' own.
 */
import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 64 * 1024;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let offset = POOL_BYTES;

/** `n` fresh random bytes (a copy: the pool is refilled underneath). */
export function randomBytesFromPool(n: number): Buffer {
  if (n > POOL_BYTES) return randomFillSync(Buffer.allocUnsafe(n));
  if (offset + n > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const bytes = Buffer.from(pool.subarray(offset, offset + n));
  offset += n;
  return bytes;
}
