/**
 * The metrics endpoint of the processes that serve no HTTP otherwise (`ciclo process`, `ciclo project`):
 * GET /metrics answers the registry's text, anything else 404. It listens on loopback unless told
 * otherwise (`--metrics-host`): the counters tell a business' traffic, so exposing them is a choice.
 */
import http from 'node:http';
import { CicloError, errorMessage } from '../errors';
import type { Logger } from '../log';
import type { Metrics } from './registry';

export interface MetricsEndpoint {
  /** e.g. http://127.0.0.1:9464/metrics */
  readonly url: string;
  close(): Promise<void>;
}

export async function serveMetrics(
  metrics: Metrics,
  options: { readonly port: number; readonly host: string; readonly log?: Logger },
): Promise<MetricsEndpoint> {
  const server = http.createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path !== '/metrics' || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /metrics\n');
      return;
    }
    metrics.exposition().then(
      (text) =>
        void response
          .writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' })
          .end(request.method === 'HEAD' ? undefined : text),
      (err: unknown) => {
        options.log?.error({ err }, 'metrics could not be collected');
        response.writeHead(500, { 'content-type': 'text/plain' }).end(`${errorMessage(err)}\n`);
      },
    );
  });
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((err: unknown) => {
    if ((err as { code?: unknown }).code === 'EADDRINUSE')
      throw new CicloError(
        'PORT_TAKEN',
        `metrics port ${options.port} on ${options.host} is taken: choose another with --metrics-port`,
        { cause: err },
      );
    throw err;
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const host = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
