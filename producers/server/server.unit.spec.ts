import net from 'node:net';
import { loopbackInject } from '../../test/support/loopback';
import { API_KEY, basicAuth, ORDER_COMPLETED_CALL, testCollectorsClosedAfterEach, WEB_KEY } from './fakes';

/** The collector under test, closed after each test even when an expectation fails. */
const setup = testCollectorsClosedAfterEach();

const orderCompleted = ORDER_COMPLETED_CALL;

describe('GET /health and the rest', () => {
  it('tells anyone only ok or degraded, and a server key the details', async () => {
    let up = true;
    const { app, logs } = setup({
      kafkaStatus: () =>
        Promise.resolve(
          up ? { up, detail: '1 broker(s)' } : { up, detail: 'connect ECONNREFUSED 10.0.4.7:9092' },
        ),
    });
    await loopbackInject(app, {
      method: 'POST',
      url: '/v1/track',
      headers: { authorization: basicAuth(API_KEY) },
      payload: orderCompleted,
    });
    const health = (key?: string) =>
      loopbackInject(app, {
        method: 'GET',
        url: '/health',
        ...(key ? { headers: { authorization: basicAuth(key) } } : {}),
      });

    const open = await health();
    expect([open.statusCode, open.json()]).toEqual([200, { status: 'ok' }]);
    expect((await health(WEB_KEY)).json()).toEqual({ status: 'ok' }); // a browser key is public
    const detailed = await health(API_KEY);
    expect(detailed.json()).toMatchObject({
      status: 'ok',
      kafka: { up: true, detail: '1 broker(s)' },
      counters: { received: 1, produced: 1, invalid: 0 },
    });

    up = false;
    const down = await health();
    expect([down.statusCode, down.json()]).toEqual([503, { status: 'degraded' }]);
    expect(down.body).not.toContain('10.0.4.7');
    expect((await health(API_KEY)).json()).toMatchObject({
      status: 'degraded',
      kafka: { up: false, detail: 'connect ECONNREFUSED 10.0.4.7:9092' },
    });
    // The error is in the log once, when Kafka went away, not at every probe.
    const warnings = logs().filter((l) => l.includes('Kafka unreachable'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('10.0.4.7');
  });

  it('cuts off a client that never finishes its headers', async () => {
    const { app } = setup({ timeouts: { headersMs: 200, requestMs: 400, keepAliveMs: 200, idleMs: 5_000 } });
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = new URL(address);
    const closedAfter = await new Promise<number>((resolve, reject) => {
      const started = Date.now();
      const socket = net.connect(Number(port), '127.0.0.1', () =>
        socket.write('POST /v1/track HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic '),
      );
      socket.on('error', reject);
      socket.on('close', () => resolve(Date.now() - started));
      socket.resume();
    });
    expect(closedAfter).toBeLessThan(2_000);
  });

  it('answers 404 in the same format for unknown routes', async () => {
    const { app } = setup();
    const res = await loopbackInject(app, { method: 'POST', url: '/v1/nope' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('on close, finishes the request in flight before stopping', async () => {
    const { app, producer } = setup();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let arrived!: () => void;
    const sending = new Promise<void>((resolve) => (arrived = resolve));
    const send = producer.send.bind(producer);
    producer.send = async (topic, messages) => {
      arrived();
      await gate;
      return send(topic, messages);
    };
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    const inFlight = fetch(`${address}/v1/track`, {
      method: 'POST',
      headers: { authorization: basicAuth(API_KEY), 'content-type': 'application/json' },
      body: JSON.stringify(orderCompleted),
    });
    // Closed only once the request is in the handler, waiting on Kafka: the case the test is about.
    await sending;
    const closed = app.close();
    release();
    const res = await inFlight;
    await closed;
    expect(res.status).toBe(202);
    expect(producer.sent).toHaveLength(1);
  });
});
