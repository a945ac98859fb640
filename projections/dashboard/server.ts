/**
 * The dashboard's HTTP service (fastify): one static page at `/` (page.html: inline CSS, hand-written SVG
 * charts, no external assets, so it works offline) and a read-only JSON API under /api/* that the page
 * calls. Each API route runs an existing report function (projections/reports) and a pure shaping step
 * (shape.ts); no SQL lives here. Query parameters are validated with zod and reach SQL only through the
 * report functions, which format every value with the validated-literal helpers in projections/sql.ts.
 *
 * Every request passes access.ts first: a Host header the dashboard does not answer to is 403
 * HOST_NOT_ALLOWED, an /api request without the configured token 401 TOKEN_REQUIRED; answers name
 * customers only when a token is configured. It refuses to listen beyond loopback without a token.
 *
 * Consumes: ClickHouse (the projected tables). Produces: HTML and JSON over HTTP. Failures are answers, not
 * crashes: an unreachable ClickHouse is 503 CLICKHOUSE_UNREACHABLE, a missing schema 503 NOT_MIGRATED, a bad
 * parameter 400 BAD_QUERY, each with a hint the page shows in its banner.
 */
import { clvAccuracy } from './clv-accuracy';
import fs from 'node:fs';
import path from 'node:path';
import fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
} from 'fastify';
import { z } from 'zod';
import { connectClickHouseServer, type ClickHouseEngine } from '../../infra/clickhouse/engine';
import { CicloError } from '../../infra/errors';
import {
  DEFAULT_HTTP_SERVER_TIMEOUTS,
  fastifyTimeoutOptions,
  type HttpServerTimeouts,
} from '../../infra/http-timeouts';
import type { Logger } from '../../infra/log';
import { cachedFor } from '../../infra/metrics/cache';
import { probePipeline, type PipelineReport, type PipelineTargets } from '../../infra/pipeline-health/probe';
import { DEFAULT_MODEL_ID, PRESET_IDS } from '../../processors/domain/model';
import { loadModel } from '../../processors/runtime/model-file';
import { cacReport, churnReport, clvReport, funnelReport, npsReport } from '../reports/analytics';
import { cohortReport, type ReportRange } from '../reports/cohorts';
import { identifier } from '../sql';
import { assertListenable, decideAccess, namesCustomers } from './access';
import { dashboardAccess, type DashboardAccess } from './config';
import { DASHBOARD_ERRORS, toDashboardError, type DashboardErrorCode } from './errors';
import { blendedCac, clvHistogram, cohortHeatmap, funnelView, observedChurn } from './shape';

/** The page is not compiled: read it from the source tree, from src (tests) or from dist/. */
export const PAGE_FILE = fs.existsSync(path.join(__dirname, 'page.html'))
  ? path.join(__dirname, 'page.html')
  : path.resolve(__dirname, '..', '..', '..', 'projections', 'dashboard', 'page.html');

export const DEFAULT_DASHBOARD_PORT = 8070;
export const DEFAULT_DASHBOARD_HOST = '127.0.0.1';

const blankIsAbsent = (v: unknown): unknown => (v === '' ? undefined : v);

/** The query string every /api route accepts; unknown parameters are ignored. */
export const DashboardQuerySchema = z
  .object({
    model: z.preprocess(
      blankIsAbsent,
      z
        .string()
        .max(64)
        .regex(/^[a-z][a-z0-9-]*$/, 'model ids are lowercase words and -')
        .optional(),
    ),
    from: z.preprocess(blankIsAbsent, z.iso.date('from must be a date as yyyy-mm-dd').optional()),
    to: z.preprocess(blankIsAbsent, z.iso.date('to must be a date as yyyy-mm-dd').optional()),
  })
  .refine((q) => !q.from || !q.to || q.from < q.to, { message: 'from must be before to', path: ['to'] });
export type DashboardQuery = z.infer<typeof DashboardQuerySchema>;

export interface DashboardDeps {
  readonly engine: ClickHouseEngine;
  readonly database: string;
  /** The stage model the funnel and CAC use unless the page asks for another (`?model=`). */
  readonly modelId: string;
  readonly log: Logger;
  /** Token and extra host names (config.ts); none unless given. */
  readonly access?: DashboardAccess;
  /** The address it listens on, a host name the Host check accepts; DEFAULT_DASHBOARD_HOST unless given. */
  readonly listenHost?: string;
  /** How long a client may take (infra/http-timeouts.ts); the defaults unless given. */
  readonly timeouts?: HttpServerTimeouts;
  /** The pipeline's health for /api/pipeline (infra/pipeline-health); the panel says "not configured" without. */
  readonly pipeline?: () => Promise<PipelineReport>;
}

/** A preset's stages in lifecycle order; a custom model's id is not a file we can read, so it has none. */
function stagesOf(modelId: string): { id: string; name: string; kind: string }[] {
  return (PRESET_IDS as readonly string[]).includes(modelId) ? loadModel(modelId).stages : [];
}

/**
 * The HTTP service with every route, not yet listening: `await app.listen({ port, host })` serves it,
 * `app.inject()` tests it, `app.close()` stops it.
 */
export function buildDashboard(deps: DashboardDeps): FastifyInstance {
  const database = identifier(deps.database);
  const log = deps.log.child({ component: 'dashboard' });
  const loggerInstance: FastifyBaseLogger = log;
  const app = fastify({
    loggerInstance,
    // A dashboard polls; per-request lines would drown the log. Failures are logged below.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    ...fastifyTimeoutOptions(deps.timeouts ?? DEFAULT_HTTP_SERVER_TIMEOUTS),
  });
  const page = fs.readFileSync(PAGE_FILE, 'utf8');
  const { engine } = deps;
  const access = deps.access ?? dashboardAccess();
  const listenHost = deps.listenHost ?? DEFAULT_DASHBOARD_HOST;

  const refuse = (reply: FastifyReply, code: DashboardErrorCode, message: string): FastifyReply => {
    const { status, hint } = DASHBOARD_ERRORS[code];
    return reply
      .code(status)
      .header('cache-control', 'no-store')
      .send({ error: { code, status, message, ...(hint ? { hint } : {}) } });
  };

  app.addHook('onRequest', (request, reply, done) => {
    const decision = decideAccess(
      {
        path: request.url.split('?')[0] ?? '',
        ...(request.headers.host !== undefined ? { host: request.headers.host } : {}),
        ...(request.headers.authorization !== undefined
          ? { authorization: request.headers.authorization }
          : {}),
      },
      listenHost,
      access,
    );
    if (decision.kind === 'allowed') return done();
    log.warn({ code: decision.code, url: request.url }, 'dashboard request refused');
    void refuse(reply, decision.code, decision.message);
  });

  const fail = (reply: FastifyReply, err: unknown, route: string): FastifyReply => {
    const e = toDashboardError(err, database);
    log.warn({ route, code: e.code, err }, 'dashboard query failed');
    return reply.code(e.status).send({ error: e });
  };

  /** One read-only API route: validate the query, run the report, answer with its shaped result. */
  const api = (
    route: string,
    load: (q: { range: ReportRange; modelId: string }) => Promise<unknown>,
  ): void => {
    app.get(`/api/${route}`, async (request, reply) => {
      void reply.header('cache-control', 'no-store');
      const parsed = DashboardQuerySchema.safeParse(request.query);
      if (!parsed.success)
        return refuse(reply, 'BAD_QUERY', parsed.error.issues.map((i) => i.message).join('; '));
      const q = parsed.data;
      const range: ReportRange = { ...(q.from ? { from: q.from } : {}), ...(q.to ? { to: q.to } : {}) };
      try {
        return reply.send(await load({ range, modelId: q.model ?? deps.modelId }));
      } catch (err) {
        return fail(reply, err, route);
      }
    });
  };

  app.get('/', (_request, reply) =>
    reply.header('cache-control', 'no-store').type('text/html; charset=utf-8').send(page),
  );
  app.get('/favicon.ico', (_request, reply) => reply.code(204).send());

  app.get('/api/meta', (_request, reply) =>
    reply.send({ database, modelId: deps.modelId, models: PRESET_IDS }),
  );
  app.get('/api/health', async (_request, reply) => {
    void reply.header('cache-control', 'no-store');
    try {
      await engine.query('SELECT 1 AS ok');
      return reply.send({ status: 'ok' });
    } catch (err) {
      return fail(reply, err, 'health');
    }
  });

  // Kafka's view of the pipeline, not ClickHouse's: answered whether or not ClickHouse is up.
  app.get('/api/pipeline', async (_request, reply) => {
    void reply.header('cache-control', 'no-store');
    if (!deps.pipeline) return reply.send({ configured: false });
    try {
      return reply.send({ configured: true, ...(await deps.pipeline()) });
    } catch (err) {
      return fail(reply, err, 'pipeline');
    }
  });

  api('cohorts', async ({ range }) => cohortHeatmap(await cohortReport(engine, database, range)));
  api('funnel', async ({ range, modelId }) =>
    funnelView(await funnelReport(engine, database, modelId, range), stagesOf(modelId)),
  );
  api('clv', async () => {
    const { histogram, topAtRisk, ...summary } = await clvReport(engine, database);
    // The at-risk list is a list of customer ids: only for a dashboard with a token (access.ts).
    return { ...summary, bins: clvHistogram(histogram), ...(namesCustomers(access) ? { topAtRisk } : {}) };
  });
  // The page's date range is not a holdout window: the default one (clv-accuracy.ts) is used.
  api('clv-accuracy', async () => clvAccuracy(engine, database));
  api('cac', async ({ range, modelId }) => {
    const channels = await cacReport(engine, database, modelId, range);
    return { channels, blended: blendedCac(channels) };
  });
  api('nps', async ({ range }) => ({ months: await npsReport(engine, database, range) }));
  api('churn', async ({ range }) => {
    const rows = await churnReport(engine, database, range.from ? { from: range.from } : {});
    return { months: observedChurn(rows, range.to) };
  });

  app.setNotFoundHandler((_request, reply) =>
    reply.code(404).send({ error: { code: 'NOT_FOUND', status: 404, message: 'no such page' } }),
  );
  return app;
}

export interface DashboardOptions {
  /**
   * The ClickHouse to read: an HTTP endpoint (`endpoints.clickhouse` works as is), for which the dashboard
   * opens and on stop closes its own client, or an engine the caller owns and closes.
   */
  readonly clickhouse: { readonly url: string; readonly urls?: readonly string[] } | ClickHouseEngine;
  readonly database: string;
  readonly modelId?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  readonly host?: string;
  readonly log: Logger;
  /** Token and extra host names; without a token it listens on loopback only. */
  readonly access?: DashboardAccess;
  readonly timeouts?: HttpServerTimeouts;
  /** What the pipeline-health panel looks at; no panel data without. */
  readonly pipeline?: PipelineTargets;
}

/** How long the pipeline's health is reused: each open page polls, the broker is asked once. */
const PIPELINE_CACHE_MS = 5000;

export interface RunningDashboard {
  /** Where the page is served, e.g. http://127.0.0.1:8070/ */
  readonly url: string;
  /** Stops accepting requests, waits for those in flight, closes the client it opened. */
  stop(): Promise<void>;
}

export async function startDashboard(options: DashboardOptions): Promise<RunningDashboard> {
  const host = options.host ?? DEFAULT_DASHBOARD_HOST;
  const access = options.access ?? dashboardAccess();
  assertListenable(host, access);
  const owned = !('query' in options.clickhouse);
  const engine =
    'query' in options.clickhouse
      ? options.clickhouse
      : connectClickHouseServer({
          url: options.clickhouse.url,
          ...(options.clickhouse.urls ? { urls: options.clickhouse.urls } : {}),
          requestTimeoutMs: 15_000,
        });
  const app = buildDashboard({
    engine,
    database: options.database,
    modelId: options.modelId ?? DEFAULT_MODEL_ID,
    log: options.log,
    access,
    listenHost: host,
    ...(options.timeouts ? { timeouts: options.timeouts } : {}),
    ...(options.pipeline
      ? { pipeline: cachedFor(PIPELINE_CACHE_MS, () => probePipeline(options.pipeline!)) }
      : {}),
  });
  const wanted = options.port ?? DEFAULT_DASHBOARD_PORT;
  try {
    await app.listen({ port: wanted, host });
  } catch (err) {
    await app.close();
    if (owned) await engine.close();
    if ((err as { code?: unknown }).code === 'EADDRINUSE')
      throw new CicloError('PORT_TAKEN', `port ${wanted} on ${host} is taken: choose another with --port`, {
        cause: err,
      });
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  // An IPv6 literal needs brackets in a URL; a wildcard address is reachable on loopback.
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const url = `http://${shown}:${port}/`;
  options.log.info(
    { url, database: options.database, token: access.token !== undefined },
    'dashboard listening',
  );
  let stopped: Promise<void> | undefined;
  return {
    url,
    stop: () =>
      (stopped ??= (async () => {
        await app.close();
        if (owned) await engine.close();
      })()),
  };
}
