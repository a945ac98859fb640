/** `ciclo migrate`: apply the ClickHouse migrations (idempotent). */
import type { Command } from 'commander';
import { connectClickHouseServer } from '../../infra/clickhouse/engine';
import type { CicloConfig } from '../../infra/config';
import { migrate } from '../../projections/migrations/migrate';

const say = (line: string): void => void process.stdout.write(`${line}\n`);

export function registerMigrateCommand(program: Command, getConfig: () => CicloConfig): void {
  program
    .command('migrate')
    .description('apply the ClickHouse migrations that are not applied yet')
    .action(async () => {
      const { clickhouse } = getConfig().endpoints;
      const engine = connectClickHouseServer({ url: clickhouse.url });
      try {
        const report = await migrate(engine, clickhouse.database);
        for (const m of report.applied) say(`applied ${m}`);
        say(
          `${report.applied.length} applied, ${report.alreadyApplied.length} already applied (database ${clickhouse.database})`,
        );
      } finally {
        await engine.close();
      }
    });
}
