import http from 'node:http';
import net from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { ClickHouseEngine } from '../../infra/clickhouse/engine';
import { CicloError } from '../../infra/errors';
import { createLogger } from '../../infra/log';
import { loopbackInject } from '../../test/support/loopback';
import { dashboardAccess } from './config';
import { buildDashboard, startDashboard, type DashboardDeps } from './server';

/** An engine that records every query and answers as `rows` says (no rows by default), or fails as told. */
function fakeEngine(
  fail?: Error,
  rows: (sql: string) => Record<string, unknown>[] = () => [],
): ClickHouseEngine & { readonly queries: string[] } {
  const queries: string[] = [];
  return {
    name: 'fake',
    queries,
    command: () => Promise.resolve(),
    insert: () => Promise.resolve(),
    query: <T>(sql: string): Promise<T[]> => {
      queries.push(sql);
      return fail ? Promise.reject(fail) : Promise.resolve(rows(sql) as T[]);
    },
    close: () => Promise.resolve(),
  };
}

const log = createLogger({ level: 'silent' });
const apps: FastifyInstance[] = [];
/** The app under test, closed after each test even when an expectation fails. */
function dashboard(
  engine: ClickHouseEngine,
  more: Partial<Omit<DashboardDeps, 'engine' | 'database' | 'modelId' | 'log'>> = {},
): FastifyInstance {
  const app = buildDashboard({ engine, database: 'ciclo', modelId: 'five-stage', log, ...more });
  apps.push(app);
  return app;
}

/** A GET with a Host header of our choosing (fetch always sends the address it connects to). */
async function getWithHost(
  app: FastifyInstance,
  path: string,
  host: string,
): Promise<{ status: number; body: string }> {
  await loopbackInject(app, { url: '/favicon.ico' }); // listening
  const address = app.server.address() as net.AddressInfo;
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: address.port, path, headers: { host } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

const TOKEN = 'tok_0123456789abcdef';
const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

/** A CLV table with one customer likely gone, whose id must not leak without the token. */
const oneAtRisk = (sql: string): Record<string, unknown>[] => {
  if (sql.includes('probability_alive < 0.5 ORDER BY'))
    return [
      {
        customer_id: 'cus_private_42',
        predicted_clv_minor: 1000,
        probability_alive: 0.2,
        historic_clv_minor: 5000,
      },
    ];
  if (sql.includes('count() AS customers')) return [{ customers: 1, mean: 1000, p50: 1000, p90: 1000 }];
  return [];
};
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

describe('the pipeline panel', () => {
  it("answers the pipeline's health, also while ClickHouse is away, and says when it has none", async () => {
    const report = {
      healthy: true,
      stages: [{ stage: 'processor', name: 'ciclo-processor-five-stage', health: 'ok', detail: 'caught up' }],
      lag: [{ group: 'ciclo-processor-five-stage', topic: 'ciclo.touchpoints', partition: 0, lag: 0 }],
    } as const;
    const away = fakeEngine(new Error('connect ECONNREFUSED 127.0.0.1:8123'));
    const app = dashboard(away, { pipeline: () => Promise.resolve(report) });
    const res = await loopbackInject(app, { url: '/api/pipeline' });
    expect([res.statusCode, res.json()]).toEqual([200, { configured: true, ...report }]);
    const none = await loopbackInject(dashboard(fakeEngine()), { url: '/api/pipeline' });
    expect(none.json()).toEqual({ configured: false });
  });

  it('needs the token like every /api route', async () => {
    const app = dashboard(fakeEngine(), {
      access: dashboardAccess({ token: TOKEN }),
      pipeline: () => Promise.resolve({ healthy: true, stages: [], lag: [] }),
    });
    expect((await loopbackInject(app, { url: '/api/pipeline' })).statusCode).toBe(401);
    const res = await loopbackInject(app, { url: '/api/pipeline', headers: bearer(TOKEN) });
    expect(res.statusCode).toBe(200);
  });
});

describe('who the dashboard answers', () => {
  it.each([
    'localhost:8070',
    '127.0.0.1:8070',
    '[::1]:8070',
    'app.localhost',
    '192.168.1.5:8070',
    'dash.example',
  ])('answers to Host %s', async (host) => {
    const app = dashboard(fakeEngine(), { access: dashboardAccess({ allowedHosts: ['dash.example'] }) });
    expect((await getWithHost(app, '/api/cohorts', host)).status).toBe(200);
  });

  it('refuses any other host name (DNS rebinding) with 403 before a query runs', async () => {
    const engine = fakeEngine();
    const app = dashboard(engine);
    for (const path of ['/', '/api/cohorts']) {
      const res = await getWithHost(app, path, 'attacker.example:8070');
      expect(res.status).toBe(403);
      expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'HOST_NOT_ALLOWED' } });
    }
    expect(engine.queries).toEqual([]);
  });

  it('with a token, answers the API only to requests bearing it; the page needs none', async () => {
    const engine = fakeEngine();
    const app = dashboard(engine, { access: dashboardAccess({ token: TOKEN }) });
    expect((await loopbackInject(app, { url: '/' })).statusCode).toBe(200);
    for (const headers of [{}, bearer('tok_wrong_but_long_enough'), { authorization: `Basic ${TOKEN}` }]) {
      const res = await loopbackInject(app, { url: '/api/cohorts', headers });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ error: { code: 'TOKEN_REQUIRED' } });
    }
    expect(engine.queries).toEqual([]);
    expect((await loopbackInject(app, { url: '/api/cohorts', headers: bearer(TOKEN) })).statusCode).toBe(200);
  });

  it('names customers only with a token', async () => {
    const open = await loopbackInject(dashboard(fakeEngine(undefined, oneAtRisk)), { url: '/api/clv' });
    expect(open.statusCode).toBe(200);
    expect(open.json()).toMatchObject({ customers: 1 });
    expect(open.json()).not.toHaveProperty('topAtRisk');
    expect(open.body).not.toContain('cus_private_42');

    const app = dashboard(fakeEngine(undefined, oneAtRisk), { access: dashboardAccess({ token: TOKEN }) });
    const withToken = await loopbackInject(app, { url: '/api/clv', headers: bearer(TOKEN) });
    expect(withToken.json()).toMatchObject({ topAtRisk: [{ customerId: 'cus_private_42' }] });
  });

  it('refuses to listen beyond loopback without a token, and listens with one', async () => {
    const options = { clickhouse: fakeEngine(), database: 'ciclo', port: 0, log };
    await expect(startDashboard({ ...options, host: '0.0.0.0' })).rejects.toThrow(CicloError);
    await expect(startDashboard({ ...options, host: '0.0.0.0' })).rejects.toThrow(/CICLO_DASHBOARD_TOKEN/);
    const running = await startDashboard({
      ...options,
      host: '0.0.0.0',
      access: dashboardAccess({ token: TOKEN }),
    });
    try {
      const res = await fetch(`${running.url}api/meta`, { headers: bearer(TOKEN) });
      expect(res.status).toBe(200);
    } finally {
      await running.stop();
    }
  });

  it('cuts off a client that never finishes its headers', async () => {
    const app = dashboard(fakeEngine(), {
      timeouts: { headersMs: 200, requestMs: 400, keepAliveMs: 200, idleMs: 5_000 },
    });
    await loopbackInject(app, { url: '/favicon.ico' });
    const { port } = app.server.address() as net.AddressInfo;
    const closedAfter = await new Promise<number>((resolve, reject) => {
      const started = Date.now();
      const socket = net.connect(port, '127.0.0.1', () =>
        socket.write('GET /api/cohorts HTTP/1.1\r\nHost: lo'),
      );
      socket.on('error', reject);
      socket.on('close', () => resolve(Date.now() - started));
      socket.resume();
    });
    expect(closedAfter).toBeLessThan(2_000);
  });
});
