/** `ciclo migrate`: apply the ClickHouse migrations (idempotent), on one server or ON CLUSTER. */
import type { Command } from 'commander';
import type { CicloConfig } from '../../infra/config';
import { migrateConfigured } from '../../projections/migrations/migrate';

const say = (line: string): void => void process.stdout.write(`${line}\n`);

export function registerMigrateCommand(program: Command, getConfig: () => CicloConfig): void {
  program
    .command('migrate')
    .description('apply the ClickHouse migrations that are not applied yet')
    .option(
      '--cluster <name>',
      'a cluster of remote_servers: Replicated tables, Distributed tables over them and views, made ON CLUSTER ' +
        "(default CLICKHOUSE_CLUSTER, or the stack's cluster when it runs replicas); CLICKHOUSE_URL lists every server",
    )
    .action(async (options: { cluster?: string }) => {
      const { clickhouse } = getConfig().endpoints;
      const cluster = options.cluster ?? clickhouse.cluster;
      const report = await migrateConfigured(clickhouse, cluster === undefined ? {} : { cluster });
      for (const m of report.applied) say(`applied ${m}`);
      const where =
        cluster === undefined ? '' : ` ON CLUSTER ${cluster}, through ${clickhouse.urls.length} servers`;
      say(
        `${report.applied.length} applied, ${report.alreadyApplied.length} already applied (database ${clickhouse.database}${where})`,
      );
    });
}
