/** `ciclo project`: run the ClickHouse projector until Ctrl-C. */
import type { Command } from 'commander';
import type { CicloConfig } from '../../infra/config';
import { createLogger } from '../../infra/log';
import { startProjector } from '../../projections/projector/projector';

export function registerProjectCommand(program: Command, getConfig: () => CicloConfig): void {
  program
    .command('project')
    .description('project touchpoints, stage changes and snapshots into ClickHouse (runs until stopped)')
    .option('--group <id>', 'consumer group', 'ciclo-projector')
    .action(async (opts: { group: string }) => {
      const config = getConfig();
      const log = createLogger({ level: config.logLevel, name: 'projector' });
      const projector = await startProjector({ endpoints: config.endpoints, groupId: opts.group, log });
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await projector.stop();
      log.info(projector.counters, 'projector stopped');
    });
}
