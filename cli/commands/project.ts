/** `ciclo project [--group id] [--metrics-port n]`: run the ClickHouse projector until Ctrl-C. */
import type { Command } from 'commander';
import type { CicloConfig } from '../../infra/config';
import { createLogger } from '../../infra/log';
import { startProjector } from '../../projections/projector/projector';
import { loadInstallationSecret } from '../../infra/privacy/installation-secret';
import { projectorGroupOf } from '../../schemas/topics';
import { startMetricsEndpoint, withMetricsOptions, type MetricsOptions } from '../metrics-endpoint';

export function registerProjectCommand(program: Command, getConfig: () => CicloConfig): void {
  const command = program
    .command('project')
    .description('project touchpoints, stage changes and snapshots into ClickHouse (runs until stopped)')
    .option('--group <id>', 'consumer group', projectorGroupOf('ciclo'));
  withMetricsOptions(command).action(async (opts: { group: string } & MetricsOptions) => {
    const config = getConfig();
    const log = createLogger({ level: config.logLevel, name: 'projector' });
    const { metrics, endpoint } = await startMetricsEndpoint(opts, log);
    const projector = await startProjector({
      endpoints: config.endpoints,
      groupId: opts.group,
      log,
      secret: loadInstallationSecret(config.home, config.pseudonymSecret),
      ...(metrics ? { metrics } : {}),
    }).catch(async (err: unknown) => {
      await endpoint?.close();
      throw err;
    });
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await projector.stop();
    await endpoint?.close();
    log.info(projector.counters, 'projector stopped');
  });
}
