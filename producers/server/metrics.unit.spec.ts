import { loopbackInject } from '../../test/support/loopback';
import { createCounters, type Counters } from '../edge/counters';
import { API_KEY, basicAuth, ORDER_COMPLETED_CALL, testCollectorsClosedAfterEach, WEB_KEY } from './fakes';
import { COLLECTOR_METRICS } from './metrics';

const setup = testCollectorsClosedAfterEach();

describe('GET /metrics', () => {
  it('gives a server key the counters in Prometheus text, and anyone else 401', async () => {
    const { app } = setup();
    await loopbackInject(app, {
      method: 'POST',
      url: '/v1/track',
      headers: { authorization: basicAuth(API_KEY) },
      payload: ORDER_COMPLETED_CALL,
    });
    await loopbackInject(app, { method: 'POST', url: '/v1/track', payload: ORDER_COMPLETED_CALL }); // no key
    const scrape = (key?: string) =>
      loopbackInject(app, {
        method: 'GET',
        url: '/metrics',
        ...(key ? { headers: { authorization: basicAuth(key) } } : {}),
      });

    expect((await scrape()).statusCode).toBe(401);
    expect((await scrape(WEB_KEY)).statusCode).toBe(401); // a browser key is public
    const res = await scrape(API_KEY);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.body).toContain('ciclo_collector_events_received_total 1\n');
    expect(res.body).toContain('ciclo_collector_events_produced_total 1\n');
    expect(res.body).toContain('ciclo_collector_events_discarded_total{reason="unauthorized"} 1\n');
    expect(res.body).toContain('ciclo_collector_events_discarded_total{reason="invalid"} 0\n');
    expect(res.body).toContain('ciclo_collector_events_clamped_total{source="snippet"} 0\n');
  });

  it('leaves no counter out', () => {
    // Each counter gets a value of its own; every one is read by some metric.
    const counters: Counters = createCounters();
    let n = 1000;
    for (const key of Object.keys(counters) as (keyof Counters)[]) if (key !== 'clamped') counters[key] = n++;
    counters.clamped = { snippet: n++, api: n++ };
    const read = new Set(COLLECTOR_METRICS.flatMap((m) => m.series(counters).map((s) => s.value)));
    expect(read.size).toBe(n - 1000);
    for (let v = 1000; v < n; v++) expect(read.has(v)).toBe(true);
  });
});
