/**
 * Request bodies sent compressed: `Content-Encoding: gzip` (Segment's Python library with gzip=True, and
 * Segment's HTTP API accepts it) or `deflate` (the zlib format, RFC 9110 section 8.4.1.2), decompressed as
 * they stream in, before the JSON parser reads them.
 *
 * Limits. Fastify applies the route's body limit to what this stream emits, the decompressed bytes, and
 * compares Content-Length with `receivedEncodedLength`, the compressed bytes read (its preParsing
 * contract). On top of that, a body that inflates more than MAX_INFLATE_RATIO times its compressed size
 * past INFLATE_RATIO_FLOOR_BYTES is cut off with 413: a zip bomb (a few KB that inflate to the body
 * limit) costs no more than the few KB. Batches of JSON calls compress far less: the simulator's, of 20
 * to 500 calls, 7 to 13 times.
 *
 * Consumes: the raw request stream. Produces: the decompressed stream, or an error with the HTTP status
 * for fastify's error handler (400 for bytes that are not what the header says, 413 past the ratio).
 */
import { PassThrough, type Readable } from 'node:stream';
import zlib from 'node:zlib';

export const MAX_INFLATE_RATIO = 100;
export const INFLATE_RATIO_FLOOR_BYTES = 64 * 1024;

export type BodyEncoding = 'identity' | 'gzip' | 'deflate';

/** The body's encoding from its Content-Encoding header, or undefined for one ciclo does not read. */
export function bodyEncodingOf(header: string | string[] | undefined): BodyEncoding | undefined {
  if (header === undefined) return 'identity';
  const value = (Array.isArray(header) ? header.join(',') : header).trim().toLowerCase();
  if (value === '' || value === 'identity') return 'identity';
  if (value === 'gzip' || value === 'x-gzip') return 'gzip';
  if (value === 'deflate') return 'deflate';
  return undefined;
}

/** What fastify reads from a preParsing stream besides its bytes. */
export interface DecodedBody extends Readable {
  receivedEncodedLength: number;
}

/** An error for fastify's error handler: its status and the rule it broke. */
export function bodyError(statusCode: number, rule: string, message: string): Error {
  return Object.assign(new Error(message), { statusCode, rule });
}

/** `payload` decompressed, within the ratio cap. */
export function decodedBody(
  payload: Readable,
  encoding: 'gzip' | 'deflate',
  limits: { readonly maxRatio: number; readonly floorBytes: number } = {
    maxRatio: MAX_INFLATE_RATIO,
    floorBytes: INFLATE_RATIO_FLOOR_BYTES,
  },
): DecodedBody {
  const out = Object.assign(new PassThrough(), { receivedEncodedLength: 0 });
  // Fastify listens for this stream's error only while it reads the body; a body it never reads (a media
  // type it refuses) or stopped reading (past the limit) can still fail to inflate, and an 'error' with no
  // listener would bring the whole process down. Fastify's own listener, when there is one, still answers.
  out.on('error', () => undefined);
  const inflater = encoding === 'gzip' ? zlib.createGunzip() : zlib.createInflate();
  let decoded = 0;
  let failed = false;
  const fail = (err: Error): void => {
    if (failed) return;
    failed = true;
    payload.unpipe(inflater);
    inflater.destroy();
    // The rest of the request is not read: fastify answers and closes the connection.
    out.destroy(err);
  };
  payload.on('data', (chunk: Buffer) => {
    out.receivedEncodedLength += chunk.length;
  });
  payload.on('error', fail);
  inflater.on('error', (err: Error) =>
    fail(bodyError(400, 'invalid_encoding', `the body is not valid ${encoding}: ${err.message}`)),
  );
  inflater.on('data', (chunk: Buffer) => {
    decoded += chunk.length;
    if (decoded > limits.floorBytes && decoded > limits.maxRatio * out.receivedEncodedLength) {
      fail(
        bodyError(
          413,
          'inflate_ratio',
          `the body inflates more than ${limits.maxRatio} times its compressed size (a zip bomb?)`,
        ),
      );
      return;
    }
    if (!out.write(chunk)) inflater.pause();
  });
  out.on('drain', () => inflater.resume());
  inflater.on('end', () => {
    if (!failed) out.end();
  });
  payload.pipe(inflater);
  return out;
}
