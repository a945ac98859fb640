/**
 * Requests to a fastify app over a real loopback socket, for unit tests of HTTP services (the collector,
 * the dashboard). Jest cannot load light-my-request, which `app.inject()` uses, on Node 20: it requires the
 * ESM-only `cookie` package.
 */
import type { FastifyInstance } from 'fastify';

export interface LoopbackRequest {
  readonly method?: string;
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** An object is sent as JSON; a string or Buffer as it is. */
  readonly payload?: unknown;
}

export interface LoopbackResponse {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  json<T = Record<string, unknown>>(): T;
}

const listening = new WeakMap<FastifyInstance, Promise<string>>();

/**
 * `app.inject()` over a real loopback socket: the app listens on an ephemeral port of 127.0.0.1 on first
 * use (close it with `app.close()`). Same request and response shape as inject(), so tests can switch.
 */
export async function loopbackInject(
  app: FastifyInstance,
  request: LoopbackRequest,
): Promise<LoopbackResponse> {
  let address = listening.get(app);
  if (!address) {
    address = app.listen({ port: 0, host: '127.0.0.1' });
    listening.set(app, address);
  }
  const isRaw = typeof request.payload === 'string' || Buffer.isBuffer(request.payload);
  const headers: Record<string, string> = {
    ...(request.payload !== undefined && !isRaw ? { 'content-type': 'application/json' } : {}),
    ...request.headers,
  };
  const res = await fetch(`${await address}${request.url}`, {
    method: request.method ?? 'GET',
    headers,
    ...(request.payload === undefined
      ? {}
      : { body: isRaw ? request.payload : JSON.stringify(request.payload) }),
  });
  const body = await res.text();
  return {
    statusCode: res.status,
    headers: Object.fromEntries(res.headers.entries()),
    body,
    json: <T>() => JSON.parse(body) as T,
  };
}
