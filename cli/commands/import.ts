/** `ciclo import <cdnow|ndjson> <file>`: produce touchpoints from a file; ids come from the rows. */
import fs from 'node:fs';
import type { Command } from 'commander';
import type { CicloConfig } from '../../infra/config';
import { CicloError } from '../../infra/errors';
import { connectProducer } from '../../infra/kafka/producer';
import { createAvroRegistry } from '../../infra/registry/schema-registry';
import { IMPORT_FORMATS, importFile, type ImportFormat } from '../../producers/import/import';
import { CONTRACTS } from '../../schemas/contracts';
import { createSerde } from '../../schemas/serde';
import { TOPICS, valueSubject } from '../../schemas/topics';

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
      const serde = await createSerde(
        createAvroRegistry(endpoints.schemaRegistry.url),
        CONTRACTS.touchpoint,
        valueSubject(TOPICS.touchpoints.name),
      );
      const producer = await connectProducer({
        brokers: endpoints.kafka.brokers,
        clientId: 'ciclo-import',
        compression: true,
      });
      const tty = process.stderr.isTTY;
      try {
        const report = await importFile({
          format: format as ImportFormat,
          file,
          producer,
          serde,
          topic: TOPICS.touchpoints.name,
          receivedAt: Date.now(),
          onProgress: (done, total) => {
            if (!tty) return;
            const width = 30;
            const filled = Math.round((width * done) / Math.max(1, total));
            process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`);
          },
        });
        if (tty) process.stderr.write('\n');
        process.stdout.write(
          `rows read ${report.rowsRead}, events produced ${report.eventsProduced}, rows rejected ${report.rowsRejected}${report.rejectedFile ? ` (see ${report.rejectedFile})` : ''}\n`,
        );
      } finally {
        await producer.close();
      }
    });
}
