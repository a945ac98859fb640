import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { loopbackInject } from '../../test/support/loopback';
import { WEB_KEY, testCollector } from '../server/fakes';

const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

function collectorServing(snippetFile: string): FastifyInstance {
  const { app, producer } = testCollector({ snippetFile });
  producer.behaviour = 'reject'; // Kafka down: every /v1 call is answered 503
  apps.push(app);
  return app;
}

describe('GET /snippet/ciclo.min.js', () => {
  it('serves the built snippet with caching headers and answers 304 to its ETag', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'snippet-')), 'ciclo.min.js');
    fs.writeFileSync(file, '(()=>{window.ciclo=1})();');
    const app = collectorServing(file);
    const res = await loopbackInject(app, { url: '/snippet/ciclo.min.js' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('(()=>{window.ciclo=1})();');
    expect(res.headers['content-type']).toBe('application/javascript; charset=utf-8');
    expect(res.headers['cache-control']).toBe('public, max-age=300');
    const etag = res.headers.etag!;
    expect(
      (await loopbackInject(app, { url: '/snippet/ciclo.min.js', headers: { 'if-none-match': etag } }))
        .statusCode,
    ).toBe(304);

    fs.writeFileSync(file, '(()=>{window.ciclo=2})();');
    fs.utimesSync(file, new Date(), new Date(Date.now() + 5000));
    const changed = await loopbackInject(app, {
      url: '/snippet/ciclo.min.js',
      headers: { 'if-none-match': etag },
    });
    expect(changed.statusCode).toBe(200);
    expect(changed.headers.etag).not.toBe(etag);
  });

  it('answers 404 saying how to build it when it is not built', async () => {
    const app = collectorServing(path.join(os.tmpdir(), 'no-such-dir', 'ciclo.min.js'));
    const res = await loopbackInject(app, { url: '/snippet/ciclo.min.js' });
    expect(res.statusCode).toBe(404);
    const body = res.json<{ code: string; message: string }>();
    expect(body.code).toBe('NOT_FOUND');
    expect(body.message).toMatch(/npm run build/);
  });

  it('lets a browser on another origin read Retry-After from a 503', async () => {
    const app = collectorServing('unused');
    const res = await loopbackInject(app, {
      method: 'POST',
      url: '/v1/batch',
      headers: { origin: 'https://shop.example.com', 'content-type': 'text/plain' },
      payload: JSON.stringify({
        writeKey: WEB_KEY,
        batch: [{ type: 'track', anonymousId: 'a', event: 'E' }],
      }),
    });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBeDefined();
    expect(res.headers['access-control-expose-headers']).toMatch(/Retry-After/i);
  });
});
