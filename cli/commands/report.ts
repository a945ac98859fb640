/** `ciclo report <cohorts> [--from] [--to] [--json]` */
import type { Command } from 'commander';
import { connectClickHouseServer } from '../../infra/clickhouse/engine';
import type { CicloConfig } from '../../infra/config';
import { CicloError } from '../../infra/errors';
import { cohortReport, formatCohortTable } from '../../projections/reports/cohorts';

const REPORTS = ['cohorts'] as const;
const say = (line: string): void => void process.stdout.write(`${line}\n`);

export function registerReportCommand(program: Command, getConfig: () => CicloConfig): void {
  program
    .command('report')
    .description('analytics from ClickHouse as a table, or JSON with --json')
    .argument('<report>', REPORTS.join(' | '))
    .option('--from <yyyy-mm-dd>', 'start of the period (inclusive)')
    .option('--to <yyyy-mm-dd>', 'end of the period (exclusive)')
    .option('--json', 'JSON output')
    .action(async (report: string, opts: { from?: string; to?: string; json?: boolean }) => {
      if (!(REPORTS as readonly string[]).includes(report)) {
        throw new CicloError(
          'CONFIG_INVALID',
          `unknown report "${report}": use one of ${REPORTS.join(', ')}`,
        );
      }
      const { clickhouse } = getConfig().endpoints;
      const engine = connectClickHouseServer({ url: clickhouse.url });
      try {
        const range = { ...(opts.from ? { from: opts.from } : {}), ...(opts.to ? { to: opts.to } : {}) };
        const cells = await cohortReport(engine, clickhouse.database, range);
        say(opts.json ? JSON.stringify(cells) : formatCohortTable(cells));
      } finally {
        await engine.close();
      }
    });
}
