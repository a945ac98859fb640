/**
 * `ciclo import <cdnow|csv|ndjson> <file> [--mapping m.json]`: produce touchpoints from a file, sorted by
 * event time, in a lane of the run's own; ids come from the rows. `ciclo import --abort <run-id>` closes
 * the lane of a run that stopped without closing it.
 */
import fs from 'node:fs';
import type { Command } from 'commander';
import type { CicloConfig } from '../../infra/config';
import { CicloError, errorMessage } from '../../infra/errors';
import { connectProducer } from '../../infra/kafka/producer';
import { parseCsvMapping, type CsvMapping } from '../../producers/import/csv';
import {
  IMPORT_FORMATS,
  importFile,
  type ImportFormat,
  type ImportProgress,
  type LaneEvent,
} from '../../producers/import/import';
import { sendLaneControl } from '../../producers/import/lane';
import { loadUrlQueryAllowlist } from '../../producers/edge/url-query-allowlist';
import { isLaneId, newLaneId } from '../../schemas/lanes';
import { TOPICS } from '../../schemas/topics';
import { drawProgress } from '../progress';
import { loadInstallationSecret } from '../../infra/privacy/installation-secret';
import { openTouchpointSink, touchpointPartitions } from '../touchpoint-sink';

const say = (line: string): void => void process.stdout.write(`${line}\n`);
const warn = (line: string): void => void process.stderr.write(`${line}\n`);

export function registerImportCommand(program: Command, getConfig: () => CicloConfig): void {
  program
    .command('import')
    .description(
      'import touchpoints from a file, sorted by event time, in a lane of the run (importing the same file twice changes nothing downstream)',
    )
    .argument('[format]', IMPORT_FORMATS.join(' | '))
    .argument('[file]', 'input file')
    .option(
      '--mapping <file>',
      'for csv: JSON mapping of columns to touchpoint fields (see producers/README.md)',
    )
    .option(
      '--abort <run-id>',
      'close the lane of an import run that stopped without closing it (the id it printed at its start)',
    )
    .action(
      async (
        format: string | undefined,
        file: string | undefined,
        opts: { mapping?: string; abort?: string },
      ) => {
        if (opts.abort !== undefined) {
          if (format !== undefined || opts.mapping !== undefined)
            throw new CicloError('CONFIG_INVALID', '--abort <run-id> takes no format, file or mapping');
          await abortRun(getConfig, opts.abort);
          return;
        }
        if (format === undefined || file === undefined)
          throw new CicloError(
            'CONFIG_INVALID',
            'import needs <format> and <file> (or --abort <run-id> to close an abandoned run)',
          );
        if (!(IMPORT_FORMATS as readonly string[]).includes(format))
          throw new CicloError(
            'CONFIG_INVALID',
            `unknown import format "${format}": use one of ${IMPORT_FORMATS.join(', ')}`,
          );
        if (!fs.existsSync(file)) throw new CicloError('CONFIG_INVALID', `${file} does not exist`);
        if ((format === 'csv') !== (opts.mapping !== undefined))
          throw new CicloError(
            'CONFIG_INVALID',
            format === 'csv'
              ? 'import csv needs --mapping <file.json>'
              : `--mapping is for csv, not ${format}`,
          );
        const csvMapping = opts.mapping === undefined ? undefined : readCsvMapping(opts.mapping);
        await runImport(getConfig, format as ImportFormat, file, csvMapping);
      },
    );
}

async function runImport(
  getConfig: () => CicloConfig,
  format: ImportFormat,
  file: string,
  csvMapping: CsvMapping | undefined,
): Promise<void> {
  const config = getConfig();
  // What URLs keep besides utm_*: the collector's variable, read once here (and so before any connection).
  const urlQueryAllowlist = loadUrlQueryAllowlist(process.env);
  const sink = await openTouchpointSink(
    config.endpoints,
    loadInstallationSecret(config.home, config.pseudonymSecret),
    'ciclo-import',
  );
  const { producer, serde, topic, partitions } = sink;
  const receivedAt = Date.now();
  const lane = newLaneId(receivedAt);
  say(`import run ${lane}`);

  // First Ctrl-C: stop between rows or sends and close the lane; a second one leaves at once.
  const interrupt = new AbortController();
  const onSignal = (): void => {
    if (!interrupt.signal.aborted) {
      warn('\ninterrupted: stopping, then closing the lane (Ctrl-C again to leave at once)');
      interrupt.abort(new Error('the import was interrupted'));
      return;
    }
    warn(`left without closing lane ${lane}: run \`ciclo import --abort ${lane}\``);
    process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const progress = progressBar();
  try {
    const report = await importFile({
      format,
      ...(csvMapping ? { csvMapping } : {}),
      file,
      producer,
      serde,
      topic,
      receivedAt,
      urlQueryAllowlist,
      lane,
      partitions,
      signal: interrupt.signal,
      onProgress: progress,
      onLane: (event) => sayLane(event, progress.end),
      privacy: sink.privacy,
    });
    progress.end();
    if (report.eventsProduced === 0) say('nothing to produce: no lane opened');
    say(
      `rows read ${report.rowsRead}, events produced ${report.eventsProduced}${report.eventsSuppressed > 0 ? `, events of forgotten people dropped ${report.eventsSuppressed}` : ''}, rows rejected ${report.rowsRejected}${report.rejectedFile ? ` (see ${report.rejectedFile})` : ''}`,
    );
  } catch (err) {
    progress.end();
    if (!interrupt.signal.aborted) throw err;
    warn('import interrupted: the touchpoints sent so far stay; importing the file again sends the rest');
    process.exitCode = 130;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await sink.close();
  }
}

function sayLane(event: LaneEvent, endProgress: () => void): void {
  endProgress();
  switch (event.kind) {
    case 'opened':
      say(
        `lane ${event.lane} opened on ${event.partitions} partitions, from ${new Date(event.startsAt).toISOString()}`,
      );
      return;
    case 'closed':
      if (event.afterFailure) warn(`the run stopped early: lane ${event.lane} closed`);
      else say(`lane ${event.lane} closed`);
      return;
    case 'close-failed':
      warn(
        `the run stopped early and lane ${event.lane} could not be closed (${errorMessage(event.error)}): ` +
          `run \`ciclo import --abort ${event.lane}\``,
      );
      return;
    default: {
      const never: never = event;
      return never;
    }
  }
}

/** `ciclo import --abort <run-id>`: the close records of an abandoned run, on every partition. */
async function abortRun(getConfig: () => CicloConfig, lane: string): Promise<void> {
  if (!isLaneId(lane))
    throw new CicloError(
      'CONFIG_INVALID',
      `--abort takes a run id as \`ciclo import\` printed it (such as import-20261201T101500Z-k3x9q1; ` +
        `letters, digits and . _ : -, at most 64): ${JSON.stringify(lane)} is not one`,
    );
  const { endpoints } = getConfig();
  const topic = TOPICS.touchpoints.name;
  const partitions = await touchpointPartitions(endpoints, topic);
  const producer = await connectProducer({ brokers: endpoints.kafka.brokers, clientId: 'ciclo-import' });
  try {
    await sendLaneControl(producer, topic, { kind: 'close', lane }, partitions);
  } finally {
    await producer.close();
  }
  say(`lane ${lane} closed on ${partitions} partitions`);
}

/**
 * The run's progress on stderr (a terminal only): rows read, with the share of the file's bytes as the bar,
 * then touchpoints produced of the total. Redrawn at most every 100 ms.
 */
function progressBar(): ((p: ImportProgress) => void) & { end: () => void } {
  const stream = process.stderr;
  let last = 0;
  let open = false;
  let finished: ImportProgress | undefined;
  const draw = (p: ImportProgress): void => {
    if (p.phase === 'reading') {
      const width = 30;
      const filled = Math.round((width * p.bytes) / Math.max(1, p.totalBytes));
      stream.write(`\rreading   [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.rows} rows`);
      open = true;
    } else {
      drawProgress('producing', p.produced, p.total, stream);
      open = p.produced < p.total;
    }
  };
  const update = (p: ImportProgress): void => {
    if (!stream.isTTY) return;
    const now = Date.now();
    const phaseEnd = p.phase === 'producing' && p.produced >= p.total;
    finished = p;
    if (now - last < 100 && !phaseEnd) return;
    last = now;
    draw(p);
    finished = undefined;
  };
  return Object.assign(update, {
    end: (): void => {
      if (!stream.isTTY) return;
      if (finished) draw(finished);
      finished = undefined;
      if (open) stream.write('\n');
      open = false;
    },
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
