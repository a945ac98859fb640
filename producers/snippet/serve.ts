/**
 * GET /snippet/ciclo.min.js on the collector, so a site can load the snippet from the collector it sends
 * to. The file is read once per change (by mtime) and served with an ETag; browsers and CDNs may keep it
 * for five minutes, then revalidate (a 304 costs no body), so a new build reaches sites within minutes.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { SNIPPET_FILE } from './files';

export const SNIPPET_ROUTE = '/snippet/ciclo.min.js';
const MAX_AGE_SECONDS = 300;

interface Loaded {
  readonly mtimeMs: number;
  readonly body: Buffer;
  readonly etag: string;
}

/** A fastify handler serving the built snippet at `file` (dist/snippet/ciclo.min.js by default). */
export function snippetHandler(
  file: string = SNIPPET_FILE,
): (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply> {
  let cached: Loaded | undefined;
  return async (request, reply) => {
    let stat;
    try {
      stat = await fs.stat(file);
    } catch {
      return reply
        .code(404)
        .send({ success: false, code: 'NOT_FOUND', message: 'the snippet is not built: run npm run build' });
    }
    if (!cached || cached.mtimeMs !== stat.mtimeMs) {
      const body = await fs.readFile(file);
      cached = {
        mtimeMs: stat.mtimeMs,
        body,
        etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
      };
    }
    void reply
      .header('cache-control', `public, max-age=${MAX_AGE_SECONDS}`)
      .header('etag', cached.etag)
      .header('x-content-type-options', 'nosniff')
      .header('cross-origin-resource-policy', 'cross-origin');
    if (request.headers['if-none-match'] === cached.etag) return reply.code(304).send();
    return reply.type('application/javascript; charset=utf-8').send(cached.body);
  };
}
