import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { bodyEncodingOf, decodedBody } from './encoding';

/** Everything the decoded stream gives, or the error it ends with; and the compressed bytes it read. */
async function drain(
  bytes: Buffer,
  encoding: 'gzip' | 'deflate',
  limits = { maxRatio: 100, floorBytes: 64 * 1024 },
): Promise<{
  text?: string;
  error?: Error & { statusCode?: number; rule?: string };
  encoded: number;
  decoded?: number;
}> {
  // In small chunks, as a socket delivers them.
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += 1000) chunks.push(bytes.subarray(i, i + 1000));
  const out = decodedBody(Readable.from(chunks), encoding, limits);
  const parts: Buffer[] = [];
  try {
    for await (const chunk of out) parts.push(chunk as Buffer);
    return { text: Buffer.concat(parts).toString('utf8'), encoded: out.receivedEncodedLength };
  } catch (err) {
    const decoded = parts.reduce((n, p) => n + p.length, 0);
    return { error: err as Error, encoded: out.receivedEncodedLength, decoded };
  }
}

describe('Content-Encoding', () => {
  it('reads gzip, deflate and identity, and nothing else', () => {
    expect(bodyEncodingOf(undefined)).toBe('identity');
    expect(bodyEncodingOf('identity')).toBe('identity');
    expect(bodyEncodingOf(' GZIP ')).toBe('gzip');
    expect(bodyEncodingOf('x-gzip')).toBe('gzip');
    expect(bodyEncodingOf('deflate')).toBe('deflate');
    expect(bodyEncodingOf('br')).toBeUndefined();
    expect(bodyEncodingOf('gzip, gzip')).toBeUndefined();
  });

  it('decompresses gzip and deflate, counting the compressed bytes read for Content-Length', async () => {
    const body = JSON.stringify({ batch: Array.from({ length: 300 }, (_, i) => ({ type: 'page', n: i })) });
    const gz = zlib.gzipSync(body);
    expect(await drain(gz, 'gzip')).toEqual({ text: body, encoded: gz.length });
    const df = zlib.deflateSync(body);
    expect(await drain(df, 'deflate')).toEqual({ text: body, encoded: df.length });
  });

  it('refuses bytes that are not what the header says with 400', async () => {
    const { error } = await drain(Buffer.from('{"batch": []}'), 'gzip');
    expect(error).toMatchObject({ statusCode: 400, rule: 'invalid_encoding' });
    expect(error?.message).toMatch(/^the body is not valid gzip: /);
    const truncated = zlib.gzipSync('x'.repeat(10_000)).subarray(0, 20);
    expect((await drain(truncated, 'gzip')).error).toMatchObject({ statusCode: 400 });
  });

  it('cuts off a zip bomb at the ratio cap with 413, never inflating more than the cap allows', async () => {
    const bomb = zlib.gzipSync(Buffer.alloc(50 * 1024 * 1024, ' '));
    expect(bomb.length).toBeLessThan(100_000);
    const { error, decoded } = await drain(bomb, 'gzip');
    expect(error).toMatchObject({ statusCode: 413, rule: 'inflate_ratio' });
    // The cap is on what was read so far, so at most 100 times the bomb's size (and one zlib chunk).
    expect(decoded).toBeLessThanOrEqual(100 * bomb.length + 64 * 1024);
    // Below the floor any ratio passes: a small, very repetitive body is no bomb.
    const small = zlib.gzipSync(Buffer.alloc(32 * 1024, ' '));
    expect((await drain(small, 'gzip')).text).toHaveLength(32 * 1024);
  });
});
