/**
 * `ciclo dashboard [--port 8070] [--host 127.0.0.1] [--model id]`: the web dashboard over ClickHouse
 * (cohort retention, stages and flows, CLV, CAC/ROI, NPS, churn). Read-only; serves until SIGINT/SIGTERM,
 * then stops accepting requests, lets those in flight finish and closes its ClickHouse client. Reads its own
 * variables (CICLO_DASHBOARD_TOKEN, CICLO_DASHBOARD_HOSTS, CICLO_HTTP_*_TIMEOUT_MS; for the pipeline panel
 * CICLO_COLLECTOR_URL and CICLO_PROCESSOR_METRICS_URL) here, once.
 */
import type { Command } from 'commander';
import type { CicloConfig } from '../../infra/config';
import { loadHttpServerTimeouts } from '../../infra/http-timeouts';
import { createLogger } from '../../infra/log';
import { loadPipelineHealthConfig } from '../../infra/pipeline-health/config';
import { redactUrl } from '../../infra/url-credentials';
import { DEFAULT_MODEL_ID } from '../../processors/domain/model';
import { parsePort, untilSignal } from '../serve';
import { loadDashboardAccess } from '../../projections/dashboard/config';
import {
  DEFAULT_DASHBOARD_HOST,
  DEFAULT_DASHBOARD_PORT,
  startDashboard,
} from '../../projections/dashboard/server';

const say = (line: string): void => void process.stdout.write(`${line}\n`);

export function registerDashboardCommand(program: Command, getConfig: () => CicloConfig): void {
  program
    .command('dashboard')
    .description('serve the web dashboard (cohorts, stages, CLV, CAC/ROI, NPS, churn) from ClickHouse')
    .option('--port <port>', 'port to listen on (0: any free port)', String(DEFAULT_DASHBOARD_PORT))
    .option(
      '--host <host>',
      'interface to listen on (beyond loopback only with CICLO_DASHBOARD_TOKEN set)',
      DEFAULT_DASHBOARD_HOST,
    )
    .option('--model <id>', 'default stage model for the funnel and CAC', DEFAULT_MODEL_ID)
    .option(
      '--topics-prefix <prefix>',
      "the pipeline panel's namespace of topics and groups (process --topics-prefix, demo --namespace)",
      'ciclo',
    )
    .action(async (opts: { port: string; host: string; model: string; topicsPrefix: string }) => {
      const port = parsePort(opts.port);
      const { endpoints, logLevel } = getConfig();
      const access = loadDashboardAccess(process.env);
      const timeouts = loadHttpServerTimeouts(process.env);
      const pipeline = loadPipelineHealthConfig(process.env);
      const log = createLogger({ level: logLevel, name: 'ciclo-dashboard' });
      const dashboard = await startDashboard({
        clickhouse: endpoints.clickhouse,
        database: endpoints.clickhouse.database,
        modelId: opts.model,
        port,
        host: opts.host,
        log,
        access,
        timeouts,
        pipeline: { brokers: endpoints.kafka.brokers, prefix: opts.topicsPrefix, ...pipeline },
      });
      say(
        `ciclo dashboard on ${dashboard.url} (ClickHouse ${redactUrl(endpoints.clickhouse.url)}, database ${endpoints.clickhouse.database}); Ctrl-C to stop`,
      );
      // The token itself is never printed: whoever set it has it.
      say(
        access.token !== undefined
          ? `token required: open ${dashboard.url}#token=<CICLO_DASHBOARD_TOKEN>`
          : 'no CICLO_DASHBOARD_TOKEN: loopback only, and no customer ids in its answers',
      );
      const signal = await untilSignal(['SIGINT', 'SIGTERM']);
      log.info({ signal }, 'shutting down: refusing new requests, finishing those in flight');
      await dashboard.stop();
      log.info('dashboard stopped');
    });
}
