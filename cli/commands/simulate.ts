/**
 * `ciclo simulate --customers N --seed S [--days D] [--start yyyy-mm-dd] (--out file.ndjson | --collector URL)`:
 * deterministic customer journeys, written as NDJSON touchpoints or sent as Segment calls through a running
 * collector (write key from --write-key or CICLO_WRITE_KEY), exactly as a website and backend would.
 */
import fs from 'node:fs';
import type { Command } from 'commander';
import type { CicloConfig } from '../../infra/config';
import { CicloError } from '../../infra/errors';
import { sendToCollector } from '../../producers/collector/client';
import { toSegmentCall } from '../../producers/simulate/segment-calls';
import { DEFAULT_START, simulate } from '../../producers/simulate/simulate';
import { drawProgress } from '../progress';

function positiveInt(flag: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0)
    throw new CicloError('CONFIG_INVALID', `${flag} must be a positive whole number, got "${raw}"`);
  return n;
}

interface SimulateOptions {
  customers: string;
  seed: string;
  days: string;
  start: string;
  purchaseGaps: string;
  out?: string;
  collector?: string;
  writeKey?: string;
  concurrency: string;
}

export function registerSimulateCommand(program: Command, _getConfig: () => CicloConfig): void {
  program
    .command('simulate')
    .description(
      'generate realistic customer journeys (same seed, same events) as NDJSON or through the collector',
    )
    .requiredOption('--customers <n>', 'number of visitors to simulate')
    .option('--seed <s>', 'random seed', '1')
    .option('--days <d>', 'length of the simulated period', '365')
    .option('--start <yyyy-mm-dd>', 'first day', new Date(DEFAULT_START).toISOString().slice(0, 10))
    .option('--purchase-gaps <regular|poisson>', 'gaps between purchases (see SimulationOptions)', 'regular')
    .option('--out <file>', 'NDJSON output (read by `ciclo import ndjson` and `ciclo lifecycle replay`)')
    .option(
      '--collector <url>',
      'send the journeys as Segment calls to a running collector, e.g. http://127.0.0.1:8090',
    )
    .option('--write-key <key>', 'write key for --collector (default: CICLO_WRITE_KEY)')
    .option(
      '--concurrency <n>',
      'requests in flight for --collector; above 1 requests overtake each other, so run the processor with --grace',
      '1',
    )
    .action(async (opts: SimulateOptions) => {
      if ((opts.out === undefined) === (opts.collector === undefined))
        throw new CicloError('CONFIG_INVALID', 'give exactly one of --out <file> and --collector <url>');
      const start = Date.parse(`${opts.start}T00:00:00Z`);
      if (!/^\d{4}-\d{2}-\d{2}$/.test(opts.start) || Number.isNaN(start))
        throw new CicloError('CONFIG_INVALID', `--start must be yyyy-mm-dd, got "${opts.start}"`);
      const events = simulate({
        customers: positiveInt('--customers', opts.customers),
        seed: Number(opts.seed) | 0,
        days: positiveInt('--days', opts.days),
        start,
        purchaseGaps: purchaseGapsOf(opts.purchaseGaps),
      });
      if (opts.out !== undefined) {
        fs.writeFileSync(opts.out, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
        process.stdout.write(`wrote ${events.length} touchpoints to ${opts.out}\n`);
        return;
      }
      const writeKey = opts.writeKey ?? process.env.CICLO_WRITE_KEY;
      if (!writeKey)
        throw new CicloError(
          'CONFIG_INVALID',
          '--collector needs a write key: --write-key <key> or CICLO_WRITE_KEY',
        );
      let url: URL;
      try {
        url = new URL(opts.collector!);
      } catch {
        throw new CicloError('CONFIG_INVALID', `--collector must be a URL, got "${opts.collector}"`);
      }
      const report = await sendToCollector({ url: url.toString(), writeKey }, events.map(toSegmentCall), {
        concurrency: positiveInt('--concurrency', opts.concurrency),
        onProgress: (done, total) => drawProgress('sent', done, total),
      });
      process.stdout.write(
        `sent ${report.accepted} touchpoints to ${url.origin} in ${report.requests} requests (${report.retries} retried)\n`,
      );
    });
}

function purchaseGapsOf(value: string): 'regular' | 'poisson' {
  if (value !== 'regular' && value !== 'poisson')
    throw new CicloError('CONFIG_INVALID', `--purchase-gaps must be regular or poisson, got "${value}"`);
  return value;
}
