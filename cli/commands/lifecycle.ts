/**
 * `ciclo lifecycle models` and `ciclo lifecycle replay --file <ndjson> --model <id|path> [--json]`: try a
 * stage model on history before it goes live. Replay runs the same pure fold as `ciclo process`, with
 * customers on the partitions Kafka would give them.
 */
import fs from 'node:fs';
import readline from 'node:readline';
import type { Command } from 'commander';
import type { CicloConfig } from '../../infra/config';
import { CicloError } from '../../infra/errors';
import { DEFAULT_MODEL_ID, PRESET_IDS } from '../../processors/domain/model';
import { loadModel } from '../../processors/runtime/model-file';
import { asImportRun, replay } from '../../processors/domain/replay';
import { TOPICS } from '../../schemas/topics';
import { TouchpointSchema, type Touchpoint } from '../../schemas/touchpoint';
import { formatProblems, validateWith } from '../../schemas/validation';
import { printable } from '../terminal-text';

const say = (line: string): void => void process.stdout.write(`${line}\n`);
const warn = (line: string): void => void process.stderr.write(`${line}\n`);

export async function readTouchpointsFile(
  file: string,
): Promise<{ touchpoints: Touchpoint[]; invalid: number }> {
  if (!fs.existsSync(file)) throw new CicloError('CONFIG_INVALID', `--file: ${file} does not exist`);
  const touchpoints: Touchpoint[] = [];
  let invalid = 0;
  let line = 0;
  const lines = readline.createInterface({ input: fs.createReadStream(file, 'utf8'), crlfDelay: Infinity });
  for await (const text of lines) {
    line += 1;
    if (!text.trim()) continue;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      warn(`${file}:${line}: not valid JSON`);
      invalid += 1;
      continue;
    }
    const checked = validateWith(TouchpointSchema, json);
    if (checked.ok) touchpoints.push(checked.value);
    else {
      warn(`${file}:${line}: ${formatProblems(checked.problems)}`);
      invalid += 1;
    }
  }
  return { touchpoints, invalid };
}

export function registerLifecycleCommands(program: Command, _getConfig: () => CicloConfig): void {
  const lifecycle = program
    .command('lifecycle')
    .description('stage models and replays of the lifecycle fold');

  lifecycle
    .command('models')
    .description('the available stage model ids, one per line (the default first)')
    .action(() => {
      for (const id of [DEFAULT_MODEL_ID, ...PRESET_IDS.filter((p) => p !== DEFAULT_MODEL_ID)]) say(id);
    });

  lifecycle
    .command('replay')
    .description('run the lifecycle fold over a file of touchpoints and print the stage changes')
    .requiredOption(
      '--file <ndjson>',
      'touchpoints, one JSON object per line (as `ciclo simulate --out` writes)',
    )
    .option(
      '--model <id|path>',
      'a model id (see `ciclo lifecycle models`) or a path to a model JSON file',
      DEFAULT_MODEL_ID,
    )
    .option(
      '--partitions <n>',
      'partitions to emulate (as the touchpoint topic has)',
      String(TOPICS.touchpoints.partitions),
    )
    .option('--grace <ms>', 'grace period for out-of-order events, in milliseconds of event time', '0')
    .option('--json', 'one StageChanged JSON object per line')
    .option(
      '--as-arrived',
      'fold the file in its own order, as live traffic would arrive (by default it is one import run: sorted by event time, as `ciclo import` writes it)',
    )
    .action(
      async (opts: {
        file: string;
        model: string;
        partitions: string;
        grace: string;
        json?: boolean;
        asArrived?: boolean;
      }) => {
        const partitions = Number(opts.partitions);
        const grace = Number(opts.grace);
        if (!Number.isInteger(partitions) || partitions < 1)
          throw new CicloError(
            'CONFIG_INVALID',
            `--partitions must be a positive whole number, got "${opts.partitions}"`,
          );
        if (!Number.isFinite(grace) || grace < 0)
          throw new CicloError('CONFIG_INVALID', `--grace must be milliseconds >= 0, got "${opts.grace}"`);
        const model = loadModel(opts.model);
        const { touchpoints, invalid } = await readTouchpointsFile(opts.file);
        const result = replay(opts.asArrived ? touchpoints : asImportRun('replay', touchpoints), model, {
          partitions,
          gracePeriodMs: grace,
        });
        for (const c of result.stageChanges) {
          say(
            opts.json
              ? JSON.stringify(c)
              : `${new Date(c.occurredAt).toISOString().slice(0, 10)}  ${printable(c.customerId).padEnd(20)} ${(c.fromStage ?? '-').padEnd(12)} -> ${c.toStage.padEnd(12)} ${c.ruleId}  (${c.reason ?? ''})`,
          );
        }
        const k = result.counters;
        warn(
          `replayed ${touchpoints.length} touchpoints ${opts.asArrived ? 'as they arrived' : 'in event-time order'} (${invalid} invalid, ${k.duplicates} duplicate, ${k.late} late: ${k.lateBehindCustomer} behind their customer, ${k.lateBehindInactivity} behind an inactivity change; ${k.clamped} clamped to their receivedAt, ${k.ignored} without customer) with ${model.id} v${model.version}: ${result.stageChanges.length} stage changes`,
        );
      },
    );
}
