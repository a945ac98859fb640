/** `ciclo import <cdnow|ndjson> <file>`: produce touchpoints from a file; ids come from the rows. */
import fs from 'node:fs';
import type { Command } from 'commander';
import type { CicloConfig } from '../../infra/config';
import { CicloError } from '../../infra/errors';
import { IMPORT_FORMATS, importFile, type ImportFormat } from '../../producers/import/import';
import { drawProgress } from '../progress';
import { openTouchpointSink } from '../touchpoint-sink';

export function registerImportCommand(program: Command, getConfig: () => CicloConfig): void {
  program
    .command('import')
    .description('import touchpoints from a file (importing the same file twice changes nothing downstream)')
    .argument('<format>', IMPORT_FORMATS.join(' | '))
    .argument('<file>', 'input file')
    .action(async (format: string, file: string) => {
      if (!(IMPORT_FORMATS as readonly string[]).includes(format))
        throw new CicloError(
          'CONFIG_INVALID',
          `unknown import format "${format}": use one of ${IMPORT_FORMATS.join(', ')}`,
        );
      if (!fs.existsSync(file)) throw new CicloError('CONFIG_INVALID', `${file} does not exist`);
      const { endpoints } = getConfig();
      const { producer, serde, topic } = await openTouchpointSink(endpoints, 'ciclo-import');
      try {
        const report = await importFile({
          format: format as ImportFormat,
          file,
          producer,
          serde,
          topic,
          receivedAt: Date.now(),
          onProgress: (done, total) => drawProgress('importing', done, total),
        });
        process.stdout.write(
          `rows read ${report.rowsRead}, events produced ${report.eventsProduced}, rows rejected ${report.rowsRejected}${report.rejectedFile ? ` (see ${report.rejectedFile})` : ''}\n`,
        );
      } finally {
        await producer.close();
      }
    });
}
