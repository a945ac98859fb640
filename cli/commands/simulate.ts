/** `ciclo simulate --customers N --seed S [--days D] [--start yyyy-mm-dd] --out file.ndjson` */
import fs from 'node:fs';
import type { Command } from 'commander';
import type { CicloConfig } from '../../infra/config';
import { CicloError } from '../../infra/errors';
import { DEFAULT_START, simulate } from '../../producers/simulate/simulate';

function positiveInt(flag: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0)
    throw new CicloError('CONFIG_INVALID', `${flag} must be a positive whole number, got "${raw}"`);
  return n;
}

export function registerSimulateCommand(program: Command, _getConfig: () => CicloConfig): void {
  program
    .command('simulate')
    .description('generate realistic customer journeys (same seed, same events) as NDJSON touchpoints')
    .requiredOption('--customers <n>', 'number of visitors to simulate')
    .option('--seed <s>', 'random seed', '1')
    .option('--days <d>', 'length of the simulated period', '365')
    .option('--start <yyyy-mm-dd>', 'first day', new Date(DEFAULT_START).toISOString().slice(0, 10))
    .requiredOption(
      '--out <file>',
      'NDJSON output (read by `ciclo import ndjson` and `ciclo lifecycle replay`)',
    )
    .action((opts: { customers: string; seed: string; days: string; start: string; out: string }) => {
      const start = Date.parse(`${opts.start}T00:00:00Z`);
      if (!/^\d{4}-\d{2}-\d{2}$/.test(opts.start) || Number.isNaN(start))
        throw new CicloError('CONFIG_INVALID', `--start must be yyyy-mm-dd, got "${opts.start}"`);
      const events = simulate({
        customers: positiveInt('--customers', opts.customers),
        seed: Number(opts.seed) | 0,
        days: positiveInt('--days', opts.days),
        start,
      });
      fs.writeFileSync(opts.out, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
      process.stdout.write(`wrote ${events.length} touchpoints to ${opts.out}\n`);
    });
}
