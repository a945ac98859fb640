/** `ciclo stack up | down | status | logs` */
import type { Command } from 'commander';
import type { CicloConfig } from '../../infra/config';
import { CicloError } from '../../infra/errors';
import type { ServiceName } from '../../infra/stack/service';
import { createStack, type ServiceReport } from '../../infra/stack/stack';

const SERVICE_NAMES: readonly ServiceName[] = ['kafka', 'clickhouse', 'postgresql', 'schema-registry'];
const say = (line: string): void => void process.stdout.write(`${line}\n`);

export function formatStatus(reports: readonly ServiceReport[]): string {
  const rows = reports.map((r) => [
    r.name,
    r.health.healthy ? 'healthy' : r.running ? 'starting' : 'down',
    r.health.version ?? '-',
    r.address,
    r.managed ? 'managed' : 'external',
  ]);
  const header = ['SERVICE', 'STATE', 'VERSION', 'ADDRESS', 'MODE'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  return [header, ...rows]
    .map((row) =>
      row
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function registerStackCommands(program: Command, getConfig: () => CicloConfig): void {
  const stack = program
    .command('stack')
    .description('run the native Kafka, ClickHouse, PostgreSQL and Schema Registry services');

  stack
    .command('up')
    .description('install what is missing, start and health-check every service (no-op when healthy)')
    .action(async () => {
      const started = Date.now();
      const reports = await createStack(getConfig()).up(say);
      say(formatStatus(reports));
      say(`stack up in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    });

  stack
    .command('down')
    .description('stop every service ciclo started; external services are left alone')
    .action(async () => createStack(getConfig()).down(say));

  stack
    .command('status')
    .description('print each service with its state, version and address')
    .option('--json', 'one JSON array')
    .action(async (opts: { json?: boolean }) => {
      const reports = await createStack(getConfig()).status();
      say(opts.json ? JSON.stringify(reports) : formatStatus(reports));
      if (reports.some((r) => !r.health.healthy)) process.exitCode = 3;
    });

  stack
    .command('logs')
    .description('print the last lines of each service log')
    .argument('[service]', `one of ${SERVICE_NAMES.join(', ')}`)
    .option('-n, --lines <n>', 'lines per service', '40')
    .action((service: string | undefined, opts: { lines: string }) => {
      if (service !== undefined && !SERVICE_NAMES.includes(service as ServiceName)) {
        throw new CicloError(
          'CONFIG_INVALID',
          `unknown service "${service}": use one of ${SERVICE_NAMES.join(', ')}`,
        );
      }
      say(
        createStack(getConfig()).logs(
          service as ServiceName | undefined,
          Number.parseInt(opts.lines, 10) || 40,
        ),
      );
    });
}
