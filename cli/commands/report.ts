/** `ciclo report <cohorts|clv|funnel|cac|churn|nps> [--from] [--to] [--model] [--json]` */
import type { Command } from 'commander';
import { connectClickHouseServer } from '../../infra/clickhouse/engine';
import type { CicloConfig } from '../../infra/config';
import { CicloError } from '../../infra/errors';
import { DEFAULT_MODEL_ID } from '../../processors/domain/model';
import {
  cacReport,
  churnReport,
  clvReport,
  funnelReport,
  npsReport,
} from '../../projections/reports/analytics';
import { cohortReport, formatCohortTable } from '../../projections/reports/cohorts';
import { formatTable } from '../table';

export const REPORTS = ['cohorts', 'clv', 'funnel', 'cac', 'churn', 'nps'] as const;
const say = (line: string): void => void process.stdout.write(`${line}\n`);

export function registerReportCommand(program: Command, getConfig: () => CicloConfig): void {
  program
    .command('report')
    .description('analytics from ClickHouse as a table, or JSON with --json')
    .argument('<report>', REPORTS.join(' | '))
    .option('--from <yyyy-mm-dd>', 'start of the period (inclusive)')
    .option('--to <yyyy-mm-dd>', 'end of the period (exclusive)')
    .option('--model <id>', 'stage model for funnel and CAC', DEFAULT_MODEL_ID)
    .option('--json', 'JSON output')
    .action(async (report: string, opts: { from?: string; to?: string; model: string; json?: boolean }) => {
      if (!(REPORTS as readonly string[]).includes(report)) {
        throw new CicloError(
          'CONFIG_INVALID',
          `unknown report "${report}": use one of ${REPORTS.join(', ')}`,
        );
      }
      const { clickhouse } = getConfig().endpoints;
      const engine = connectClickHouseServer({ url: clickhouse.url, urls: clickhouse.urls });
      const db = clickhouse.database;
      const range = { ...(opts.from ? { from: opts.from } : {}), ...(opts.to ? { to: opts.to } : {}) };
      const out = (data: unknown, table: string): void => say(opts.json ? JSON.stringify(data) : table);
      try {
        switch (report as (typeof REPORTS)[number]) {
          case 'cohorts': {
            const cells = await cohortReport(engine, db, range);
            out(cells, formatCohortTable(cells));
            break;
          }
          case 'nps': {
            const rows = await npsReport(engine, db, range);
            out(rows, formatTable(rows as never));
            break;
          }
          case 'churn': {
            const rows = await churnReport(engine, db, range);
            out(rows, formatTable(rows as never));
            break;
          }
          case 'cac': {
            const rows = await cacReport(engine, db, opts.model, range);
            out(rows, formatTable(rows as never));
            break;
          }
          case 'funnel': {
            const f = await funnelReport(engine, db, opts.model, range);
            out(f, `${formatTable(f.stages)}\n\n${formatTable(f.flows)}`);
            break;
          }
          case 'clv': {
            const c = await clvReport(engine, db);
            const { histogram, topAtRisk, ...summary } = c;
            out(
              c,
              `${formatTable([summary])}\n\n${formatTable(histogram)}\n\ntop customers likely gone (P(alive) < 0.5):\n${formatTable(topAtRisk)}`,
            );
            break;
          }
        }
      } finally {
        await engine.close();
      }
    });
}
