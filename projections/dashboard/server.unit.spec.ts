import type { FastifyInstance } from 'fastify';
import type { ClickHouseEngine } from '../../infra/clickhouse/engine';
import { createLogger } from '../../infra/log';
import { loopbackInject } from '../../test/support/loopback';
import { buildDashboard } from './server';

/** An engine that records every query and answers with no rows, or fails as told. */
function fakeEngine(fail?: Error): ClickHouseEngine & { readonly queries: string[] } {
  const queries: string[] = [];
  return {
    name: 'fake',
    queries,
    command: () => Promise.resolve(),
    insert: () => Promise.resolve(),
    query: <T>(sql: string): Promise<T[]> => {
      queries.push(sql);
      return fail ? Promise.reject(fail) : Promise.resolve([]);
    },
    close: () => Promise.resolve(),
  };
}

const log = createLogger({ level: 'silent' });
const apps: FastifyInstance[] = [];
/** The app under test, closed after each test even when an expectation fails. */
function dashboard(engine: ClickHouseEngine): FastifyInstance {
  const app = buildDashboard({ engine, database: 'ciclo', modelId: 'five-stage', log });
  apps.push(app);
  return app;
}
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
});

describe('dashboard API', () => {
  it('serves the page and answers every report with an empty result on empty tables', async () => {
    const engine = fakeEngine();
    const app = dashboard(engine);
    const page = await loopbackInject(app, { url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.body).toContain('Cohort retention');
    expect(page.body).not.toMatch(/<script[^>]+src=|<link[^>]+href="http/); // nothing from a CDN

    expect((await loopbackInject(app, { url: '/api/cohorts' })).json()).toEqual({ months: 0, rows: [] });
    expect((await loopbackInject(app, { url: '/api/funnel' })).json()).toEqual({
      customers: 0,
      stages: [],
      flows: [],
    });
    expect((await loopbackInject(app, { url: '/api/cac' })).json()).toEqual({
      channels: [],
      blended: { spend: 0, customers: 0, cac: null },
    });
    expect((await loopbackInject(app, { url: '/api/nps' })).json()).toEqual({ months: [] });
    expect((await loopbackInject(app, { url: '/api/churn' })).json()).toEqual({ months: [] });
    expect((await loopbackInject(app, { url: '/api/clv' })).json()).toMatchObject({ customers: 0, bins: [] });
  });

  it('passes a valid range and model to the report queries as literals', async () => {
    const engine = fakeEngine();
    const app = dashboard(engine);
    const res = await loopbackInject(app, {
      url: '/api/funnel?model=six-stage&from=2024-01-01&to=2024-07-01&x=1',
    });
    expect(res.statusCode).toBe(200);
    expect(engine.queries.join('\n')).toContain("model_id = 'six-stage'");
    expect(engine.queries.join('\n')).toContain("toDate(occurred_at) >= toDate('2024-01-01')");
  });

  it.each([
    ['from=2024-02-30', 'from must be a date'],
    ['from=2024-03-01&to=2024-02-01', 'from must be before to'],
    ["model=x'%20OR%201=1", 'model ids'],
  ])('rejects ?%s with 400 BAD_QUERY before any query runs', async (query, message) => {
    const engine = fakeEngine();
    const app = dashboard(engine);
    const res = await loopbackInject(app, { url: `/api/cac?${query}` });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: { code: 'BAD_QUERY' } });
    expect(res.json<{ error: { message: string } }>().error.message).toContain(message);
    expect(engine.queries).toEqual([]);
  });

  it('answers 503 CLICKHOUSE_UNREACHABLE with a hint when ClickHouse is away', async () => {
    const down = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), { code: 'ECONNREFUSED' });
    const app = dashboard(fakeEngine(down));
    for (const route of ['health', 'cohorts', 'clv']) {
      const res = await loopbackInject(app, { url: `/api/${route}` });
      expect(res.statusCode).toBe(503);
      const { error } = res.json<{ error: { code: string; hint?: string } }>();
      expect(error.code).toBe('CLICKHOUSE_UNREACHABLE');
      expect(error.hint).toContain('ciclo stack');
    }
  });
});
