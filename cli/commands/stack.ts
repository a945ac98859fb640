/** `ciclo stack up | down | status | logs` */
import type { Command } from 'commander';
import type { CicloConfig } from '../../infra/config';
import { CicloError } from '../../infra/errors';
import type { ServiceKind } from '../../infra/stack/service';
import { readStackShape, validShape, type StackShape } from '../../infra/stack/shape';
import { createStack, describeShape, type ServiceReport } from '../../infra/stack/stack';

const SERVICE_KINDS: readonly ServiceKind[] = [
  'kafka',
  'zookeeper',
  'clickhouse',
  'postgresql',
  'schema-registry',
];
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
    .option('--brokers <n>', 'Kafka brokers in KRaft mode (3: a test cluster on one machine)')
    .option('--clickhouse-replicas <n>', 'ClickHouse replicas with ZooKeeper (2: a replicated cluster)')
    .option('--port-offset <n>', 'added to every port, to run a second stack beside the first')
    .addHelpText(
      'after',
      '\nWithout a flag the stack keeps the shape of its last `up` (one node the first time).',
    )
    .action(async (opts: { brokers?: string; clickhouseReplicas?: string; portOffset?: string }) => {
      const started = Date.now();
      const config = getConfig();
      const stack = createStack(config, requestedShape(readStackShape(config.home), opts));
      say(`stack: ${describeShape(stack.shape)}`);
      const reports = await stack.up(say);
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
    .argument('[service]', `a service's name (kafka-2) or one of ${SERVICE_KINDS.join(', ')}`)
    .option('-n, --lines <n>', 'lines per service', '40')
    .action((service: string | undefined, opts: { lines: string }) => {
      const stack = createStack(getConfig());
      const names = stack.services.map((s) => s.name);
      if (
        service !== undefined &&
        !names.includes(service) &&
        !SERVICE_KINDS.includes(service as ServiceKind)
      ) {
        throw new CicloError(
          'CONFIG_INVALID',
          `unknown service "${service}": use one of ${[...new Set([...SERVICE_KINDS, ...names])].join(', ')}`,
        );
      }
      say(stack.logs(service, Number.parseInt(opts.lines, 10) || 40));
    });
}

/** The recorded shape with what the flags change; the flags' values are checked, each by its name. */
export function requestedShape(
  recorded: StackShape,
  opts: { brokers?: string; clickhouseReplicas?: string; portOffset?: string },
): StackShape {
  const wholeNumber = (v: string | undefined, fallback: number): number =>
    v === undefined ? fallback : /^\d+$/.test(v.trim()) ? Number(v) : Number.NaN;
  return validShape({
    brokers: wholeNumber(opts.brokers, recorded.brokers),
    clickhouseReplicas: wholeNumber(opts.clickhouseReplicas, recorded.clickhouseReplicas),
    portOffset: wholeNumber(opts.portOffset, recorded.portOffset),
  });
}
