import type { FastifyInstance } from 'fastify';
import { loopbackInject } from '../../test/support/loopback';
import { API_KEY, basicAuth, testCollector, type TestCollector, type TestCollectorOptions } from './fakes';

const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

/** The collector under test, closed after each test even when an expectation fails. */
function setup(options: TestCollectorOptions = {}): TestCollector {
  const collector = testCollector(options);
  apps.push(collector.app);
  return collector;
}

const orderCompleted = {
  userId: 'cus_8c1f2a',
  event: 'Order Completed',
  timestamp: '2026-03-14T09:29:00Z',
  properties: {
    order_id: 'ord_1042',
    total: 32.97,
    currency: 'EUR',
    products: [{ sku: 'CD-0042', price: 12.99 }],
  },
};

describe('GET /health and the rest', () => {
  it('reports Kafka connectivity and what the collector has done', async () => {
    let up = true;
    const { app } = setup({ kafkaStatus: () => Promise.resolve({ up, detail: '1 broker(s)' }) });
    await loopbackInject(app, {
      method: 'POST',
      url: '/v1/track',
      headers: { authorization: basicAuth(API_KEY) },
      payload: orderCompleted,
    });
    const healthy = await loopbackInject(app, { method: 'GET', url: '/health' });
    expect(healthy.statusCode).toBe(200);
    expect(healthy.json()).toMatchObject({
      status: 'ok',
      kafka: { up: true, detail: '1 broker(s)' },
      counters: { received: 1, produced: 1, invalid: 0 },
    });
    up = false;
    expect((await loopbackInject(app, { method: 'GET', url: '/health' })).statusCode).toBe(503);
  });

  it('answers 404 in the same format for unknown routes', async () => {
    const { app } = setup();
    const res = await loopbackInject(app, { method: 'POST', url: '/v1/group' });
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
