import net from 'node:net';
import fastify, { type FastifyInstance } from 'fastify';
import { CicloError } from './errors';
import {
  DEFAULT_HTTP_SERVER_TIMEOUTS,
  fastifyTimeoutOptions,
  loadHttpServerTimeouts,
  type HttpServerTimeouts,
} from './http-timeouts';

const SHORT: HttpServerTimeouts = { headersMs: 300, requestMs: 600, keepAliveMs: 300, idleMs: 5_000 };

const apps: FastifyInstance[] = [];
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

/** A listening app with the short limits; `handled` counts requests that reached a handler. */
async function serve(): Promise<{ port: number; handled: () => number }> {
  let handled = 0;
  const app = fastify(fastifyTimeoutOptions(SHORT));
  apps.push(app);
  app.post('/', (request, reply) => {
    handled += 1;
    return reply.send({ got: request.body });
  });
  app.get('/', (_request, reply) => {
    handled += 1;
    return reply.send({ ok: true });
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (typeof address !== 'object' || !address) throw new Error('no address');
  return { port: address.port, handled: () => handled };
}

/** A raw client: writes `bytes` and resolves when the server closes the connection, with what it answered. */
function until(port: number, bytes: string): Promise<{ afterMs: number; answer: string }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1');
    sockets.push(socket);
    let answer = '';
    socket.on('data', (d) => (answer += d.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => resolve({ afterMs: Date.now() - started, answer }));
    socket.on('connect', () => socket.write(bytes));
  });
}

describe('HTTP server timeouts', () => {
  it('cuts off a client whose headers never end', async () => {
    const { port, handled } = await serve();
    const { afterMs, answer } = await until(port, 'GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ');
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(afterMs).toBeGreaterThanOrEqual(SHORT.headersMs - 50);
    expect(afterMs).toBeLessThan(SHORT.headersMs + 1_500);
    expect(handled()).toBe(0);
  });

  it('cuts off a client that never finishes its body', async () => {
    const { port, handled } = await serve();
    const head =
      'POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n';
    const { afterMs, answer } = await until(port, `${head}{"a":`);
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(afterMs).toBeGreaterThanOrEqual(SHORT.requestMs - 50);
    expect(afterMs).toBeLessThan(SHORT.requestMs + 1_500);
    expect(handled()).toBe(0);
  });

  it('closes a connection that opens and says nothing', async () => {
    const { port } = await serve();
    const { afterMs } = await until(port, '');
    expect(afterMs).toBeLessThan(SHORT.idleMs);
  });

  it('answers a whole request, then closes the kept-alive connection once idle', async () => {
    const { port, handled } = await serve();
    const { afterMs, answer } = await until(port, 'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    expect(answer).toContain('{"ok":true}');
    expect(afterMs).toBeGreaterThanOrEqual(SHORT.keepAliveMs - 50);
    expect(handled()).toBe(1);
  });
});

describe('loadHttpServerTimeouts', () => {
  it('has defaults and reads each limit', () => {
    expect(loadHttpServerTimeouts({})).toEqual(DEFAULT_HTTP_SERVER_TIMEOUTS);
    expect(
      loadHttpServerTimeouts({ CICLO_HTTP_HEADERS_TIMEOUT_MS: '5000', CICLO_HTTP_IDLE_TIMEOUT_MS: '9000' }),
    ).toMatchObject({ headersMs: 5000, idleMs: 9000, requestMs: DEFAULT_HTTP_SERVER_TIMEOUTS.requestMs });
  });

  it('refuses a headers limit longer than the request limit, and non-numbers, naming the variables', () => {
    const headersLonger = (): unknown =>
      loadHttpServerTimeouts({
        CICLO_HTTP_HEADERS_TIMEOUT_MS: '60000',
        CICLO_HTTP_REQUEST_TIMEOUT_MS: '30000',
      });
    expect(headersLonger).toThrow(CicloError);
    expect(headersLonger).toThrow(
      /CICLO_HTTP_HEADERS_TIMEOUT_MS: must not be longer than CICLO_HTTP_REQUEST_TIMEOUT_MS/,
    );
    expect(() => loadHttpServerTimeouts({ CICLO_HTTP_KEEP_ALIVE_TIMEOUT_MS: '5s' })).toThrow(
      /CICLO_HTTP_KEEP_ALIVE_TIMEOUT_MS: .*whole number/,
    );
  });
});
