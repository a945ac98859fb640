/** `ciclo import <cdnow|csv|ndjson> <file> [--mapping m.json]`: produce touchpoints from a file; ids come from the rows. */
import fs from 'node:fs';
import type { Command } from 'commander';
import type { CicloConfig } from '../../infra/config';
import { CicloError } from '../../infra/errors';
import { parseCsvMapping, type CsvMapping } from '../../producers/import/csv';
import { IMPORT_FORMATS, importFile, type ImportFormat } from '../../producers/import/import';
import { drawProgress } from '../progress';
import { openTouchpointSink } from '../touchpoint-sink';

export function registerImportCommand(program: Command, getConfig: () => CicloConfig): void {
  program
    .command('import')
    .description('import touchpoints from a file (importing the same file twice changes nothing downstream)')
    .argument('<format>', IMPORT_FORMATS.join(' | '))
    .argument('<file>', 'input file')
    .option(
      '--mapping <file>',
      'for csv: JSON mapping of columns to touchpoint fields (see producers/README.md)',
    )
    .action(async (format: string, file: string, opts: { mapping?: string }) => {
      if (!(IMPORT_FORMATS as readonly string[]).includes(format))
        throw new CicloError(
          'CONFIG_INVALID',
          `unknown import format "${format}": use one of ${IMPORT_FORMATS.join(', ')}`,
        );
      if (!fs.existsSync(file)) throw new CicloError('CONFIG_INVALID', `${file} does not exist`);
      if ((format === 'csv') !== (opts.mapping !== undefined))
        throw new CicloError(
          'CONFIG_INVALID',
          format === 'csv' ? 'import csv needs --mapping <file.json>' : `--mapping is for csv, not ${format}`,
        );
      const csvMapping = opts.mapping === undefined ? undefined : readCsvMapping(opts.mapping);
      const { endpoints } = getConfig();
      const { producer, serde, topic } = await openTouchpointSink(endpoints, 'ciclo-import');
      try {
        const report = await importFile({
          format: format as ImportFormat,
          ...(csvMapping ? { csvMapping } : {}),
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

function readCsvMapping(file: string): CsvMapping {
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CicloError(
      'CONFIG_INVALID',
      `mapping ${file} cannot be read as JSON: ${(err as Error).message}`,
    );
  }
  return parseCsvMapping(json, file);
}
