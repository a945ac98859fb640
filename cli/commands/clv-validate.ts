/**
 * `ciclo clv validate (--cdnow <file> | from ClickHouse) --calibration-end <date> --holdout-end <date>
 * [--json]`: fits the BG/NBD on the calibration period and compares its forecast of each customer's repeat
 * purchases in the holdout period with what they bought (projections/clv/holdout.ts). Users see how well
 * the model forecasts before they trust P(alive).
 */
import type { Command } from 'commander';
import { connectClickHouseServer } from '../../infra/clickhouse/engine';
import type { CicloConfig } from '../../infra/config';
import { CicloError } from '../../infra/errors';
import type { CustomerPurchases } from '../../projections/clv/cdnow';
import { toValidationReport, validateHoldout, type ClvValidationReport } from '../../projections/clv/holdout';
import { purchaseDays, toHistories } from '../../projections/clv/refit';
import { formatTable } from '../table';
import { dayOption, readCdnowFile } from './clv';

export function formatValidation(report: ClvValidationReport): string {
  const pct = report.relativeError === null ? '-' : `${(report.relativeError * 100).toFixed(1)}%`;
  return [
    `BG/NBD fitted on ${report.customers} customers to ${report.calibrationEnd}, ` +
      `forecasting the ${report.holdoutWeeks.toFixed(1)} weeks to ${report.holdoutEnd}:`,
    `repeat purchases predicted ${report.predictedRepeatPurchases.toFixed(1)}, actual ` +
      `${report.actualRepeatPurchases} (${pct}); mean absolute error per customer ` +
      `${report.meanAbsoluteError.toFixed(3)}`,
    '',
    'Holdout repeat purchases per customer, by repeat purchases in the calibration period:',
    formatTable(
      report.byFrequency.map((r) => ({
        calibration: r.frequency,
        customers: r.customers,
        actual: r.actualMean.toFixed(3),
        predicted: r.predictedMean.toFixed(3),
      })),
    ),
  ].join('\n');
}

export function registerClvValidate(clv: Command, getConfig: () => CicloConfig): void {
  clv
    .command('validate')
    .description(
      'fit on a calibration period and compare the forecast with the holdout period that follows (a CDNOW file, or the purchases in ClickHouse)',
    )
    .option('--cdnow <file>', 'CDNOW_sample.txt or CDNOW_master.txt (without it: purchases in ClickHouse)')
    .requiredOption('--calibration-end <yyyy-mm-dd>', 'last day of the calibration period (inclusive)')
    .requiredOption('--holdout-end <yyyy-mm-dd>', 'last day of the holdout period (inclusive)')
    .option('--json', 'one JSON object with predictedRepeatPurchases, actualRepeatPurchases, byFrequency...')
    .action(async (opts: { cdnow?: string; calibrationEnd: string; holdoutEnd: string; json?: boolean }) => {
      const calibrationEnd = dayOption('--calibration-end', opts.calibrationEnd);
      const holdoutEnd = dayOption('--holdout-end', opts.holdoutEnd);
      const histories = opts.cdnow ? readCdnowFile(opts.cdnow) : await historiesInClickHouse(getConfig());
      const result = validateHoldout(histories, calibrationEnd, holdoutEnd);
      if (!result.ok)
        throw new CicloError(
          'CONFIG_INVALID',
          `${result.reason} (--calibration-end ${opts.calibrationEnd}, --holdout-end ${opts.holdoutEnd})`,
        );
      const report = toValidationReport(result.validation, opts.calibrationEnd, opts.holdoutEnd);
      process.stdout.write(`${opts.json ? JSON.stringify(report) : formatValidation(report)}\n`);
    });
}

async function historiesInClickHouse(config: CicloConfig): Promise<CustomerPurchases[]> {
  const { clickhouse } = config.endpoints;
  const engine = connectClickHouseServer({ url: clickhouse.url, urls: clickhouse.urls });
  try {
    return toHistories(await purchaseDays(engine, clickhouse.database));
  } finally {
    await engine.close();
  }
}
