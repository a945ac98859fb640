/**
 * How long ciclo's HTTP servers (the collector, the dashboard) wait for a client, parsed once from the
 * environment at the entry point and passed to each server. Without limits a client that sends its headers
 * or body a byte at a time, or opens a connection and says nothing, holds a socket for ever ("slowloris").
 *
 * The limits map onto Node's own (https://nodejs.org/api/http.html#serverheaderstimeout):
 * - `headersMs`: from the first byte of a request (or the connection) until its headers are complete;
 * - `requestMs`: until the whole request, body included, has arrived (a handler may then take its time);
 * - `keepAliveMs`: how long an idle kept-alive connection waits for the next request. Fastify's default,
 *   72 s, is kept: it outlasts the 60 s idle timeout of common load balancers (AWS ALB), so the balancer,
 *   not ciclo, closes an idle connection and never sends a request on one ciclo is closing;
 * - `idleMs`: a socket with no traffic either way for this long is closed (a client that stops reading the
 *   answer); longer than a handler may wait on Kafka or ClickHouse.
 * Node checks headers and request deadlines on a timer (30 s by default); it runs here at least every
 * second, so a limit is enforced within about a second of its value.
 */
import type { Server } from 'node:http';
import type { FastifyHttpOptions } from 'fastify';
import { z } from 'zod';
import { CicloError } from './errors';

export interface HttpServerTimeouts {
  readonly headersMs: number;
  readonly requestMs: number;
  readonly keepAliveMs: number;
  readonly idleMs: number;
}

export const DEFAULT_HTTP_SERVER_TIMEOUTS: HttpServerTimeouts = Object.freeze({
  headersMs: 10_000,
  requestMs: 30_000,
  keepAliveMs: 72_000,
  idleMs: 120_000,
});

const milliseconds = (name: string) =>
  z
    .string()
    .regex(/^\d+$/, `${name} must be a whole number of milliseconds`)
    .transform(Number)
    .pipe(z.number().int().positive(`${name} must be > 0`));

export const HttpTimeoutsEnvSchema = z
  .object({
    CICLO_HTTP_HEADERS_TIMEOUT_MS: milliseconds('CICLO_HTTP_HEADERS_TIMEOUT_MS').default(
      DEFAULT_HTTP_SERVER_TIMEOUTS.headersMs,
    ),
    CICLO_HTTP_REQUEST_TIMEOUT_MS: milliseconds('CICLO_HTTP_REQUEST_TIMEOUT_MS').default(
      DEFAULT_HTTP_SERVER_TIMEOUTS.requestMs,
    ),
    CICLO_HTTP_KEEP_ALIVE_TIMEOUT_MS: milliseconds('CICLO_HTTP_KEEP_ALIVE_TIMEOUT_MS').default(
      DEFAULT_HTTP_SERVER_TIMEOUTS.keepAliveMs,
    ),
    CICLO_HTTP_IDLE_TIMEOUT_MS: milliseconds('CICLO_HTTP_IDLE_TIMEOUT_MS').default(
      DEFAULT_HTTP_SERVER_TIMEOUTS.idleMs,
    ),
  })
  // Node refuses a headers timeout longer than the request timeout (ERR_OUT_OF_RANGE at listen).
  .refine((e) => e.CICLO_HTTP_HEADERS_TIMEOUT_MS <= e.CICLO_HTTP_REQUEST_TIMEOUT_MS, {
    path: ['CICLO_HTTP_HEADERS_TIMEOUT_MS'],
    message: 'must not be longer than CICLO_HTTP_REQUEST_TIMEOUT_MS',
  });

export function loadHttpServerTimeouts(
  env: Readonly<Record<string, string | undefined>>,
): HttpServerTimeouts {
  const parsed = HttpTimeoutsEnvSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new CicloError('CONFIG_INVALID', `invalid HTTP timeout environment:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  return Object.freeze({
    headersMs: e.CICLO_HTTP_HEADERS_TIMEOUT_MS,
    requestMs: e.CICLO_HTTP_REQUEST_TIMEOUT_MS,
    keepAliveMs: e.CICLO_HTTP_KEEP_ALIVE_TIMEOUT_MS,
    idleMs: e.CICLO_HTTP_IDLE_TIMEOUT_MS,
  });
}

/** The fastify server options that apply the limits (fastify passes `http` to Node's createServer). */
export function fastifyTimeoutOptions(
  t: HttpServerTimeouts,
): Pick<FastifyHttpOptions<Server>, 'connectionTimeout' | 'keepAliveTimeout' | 'requestTimeout' | 'http'> {
  return {
    connectionTimeout: t.idleMs,
    keepAliveTimeout: t.keepAliveMs,
    requestTimeout: t.requestMs,
    http: {
      headersTimeout: t.headersMs,
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(t.headersMs / 2))),
    },
  };
}
