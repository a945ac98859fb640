/**
 * `ciclo clv fit --cdnow <file> --calibration-end <yyyy-mm-dd> [--json]`: fits the BG/NBD and Gamma-Gamma
 * models to a CDNOW transaction file. Needs no service: this file reads the file and prints; the math is in
 * projections/clv. `ciclo clv refit` fits on ClickHouse, writes customer_clv and sends P(alive) to the processor.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { connectClickHouseServer } from '../../infra/clickhouse/engine';
import { clvPredictions, refitFromClickHouse, type ClickHouseRefit } from '../../projections/clv/refit';
import { produceTouchpoints } from '../../producers/import/import';
import type { ServiceEndpoints } from '../../infra/config';
import { loadInstallationSecret } from '../../infra/privacy/installation-secret';
import { openTouchpointSink } from '../touchpoint-sink';
import type { CicloConfig } from '../../infra/config';
import { CicloError, errorMessage } from '../../infra/errors';
import { fitCdnow, type CdnowFit } from '../../projections/clv/fit-cdnow';
import { parseCdnow, type CustomerPurchases } from '../../projections/clv/cdnow';
import { formatIsoDay, parseIsoDay } from '../../projections/clv/dates';
import { registerClvValidate } from './clv-validate';

const say = (line: string): void => void process.stdout.write(`${line}\n`);

/** What `ciclo clv fit --json` prints: the fitted parameters and the customers in the calibration summary. */
export interface ClvFitReport {
  readonly bgnbd: {
    readonly r: number;
    readonly alpha: number;
    readonly a: number;
    readonly b: number;
    readonly logLikelihood: number;
  };
  readonly gammaGamma: { readonly p: number; readonly q: number; readonly gamma: number };
  readonly customers: number;
}

export function toClvFitReport(fit: CdnowFit): ClvFitReport {
  const { r, alpha, a, b } = fit.bgNbd.params;
  const { p, q, gamma } = fit.gammaGamma.params;
  return {
    bgnbd: { r, alpha, a, b, logLikelihood: fit.bgNbd.logLikelihood },
    gammaGamma: { p, q, gamma },
    customers: fit.customers,
  };
}

export function formatClvFit(fit: CdnowFit, calibrationEnd: string): string {
  const report = toClvFitReport(fit);
  const rows = [
    ['BG/NBD', 'r', report.bgnbd.r.toFixed(4)],
    ['BG/NBD', 'alpha', report.bgnbd.alpha.toFixed(4)],
    ['BG/NBD', 'a', report.bgnbd.a.toFixed(4)],
    ['BG/NBD', 'b', report.bgnbd.b.toFixed(4)],
    ['BG/NBD', 'log-likelihood', report.bgnbd.logLikelihood.toFixed(2)],
    ['Gamma-Gamma', 'p', report.gammaGamma.p.toFixed(4)],
    ['Gamma-Gamma', 'q', report.gammaGamma.q.toFixed(4)],
    ['Gamma-Gamma', 'gamma', report.gammaGamma.gamma.toFixed(4)],
  ];
  const header = ['MODEL', 'PARAMETER', 'VALUE'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const table = [header, ...rows].map((row) =>
    row
      .map((c, i) => (i === 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
  const excluded = fit.gammaGamma.zeroSpendExcluded;
  return [
    ...table,
    `customers: ${fit.customers} with a first purchase by ${calibrationEnd}, ${fit.repeatCustomers} of them ` +
      `with repeat purchases (Gamma-Gamma fitted on ${fit.gammaGamma.customers}` +
      `${excluded > 0 ? `; ${excluded} left out for spending $0` : ''})`,
  ].join('\n');
}

function readTransactions(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : errorMessage(err);
    throw new CicloError('CONFIG_INVALID', `--cdnow: cannot read ${file}: ${why}`, { cause: err });
  }
}

/** A date option as a day number; CONFIG_INVALID naming the option otherwise. */
export function dayOption(option: string, text: string): number {
  const day = parseIsoDay(text);
  if (day === undefined)
    throw new CicloError(
      'CONFIG_INVALID',
      `${option}: "${text}" is not a real date in yyyy-mm-dd form (e.g. 1997-09-30)`,
    );
  return day;
}

/** A CDNOW transaction file's customers; every expected failure is a CicloError naming what is wrong. */
export function readCdnowFile(file: string): readonly CustomerPurchases[] {
  const resolved = path.resolve(file);
  const parsed = parseCdnow(readTransactions(resolved));
  if (!parsed.ok) {
    throw new CicloError('EVENT_INVALID', `${resolved}:${parsed.line}: ${parsed.reason}`);
  }
  return parsed.customers;
}

/** Fits the models to a CDNOW file; every expected failure is a CicloError naming what is wrong. */
export function fitCdnowFile(file: string, calibrationEndText: string): CdnowFit {
  const calibrationEnd = dayOption('--calibration-end', calibrationEndText);
  const resolved = path.resolve(file);
  const fit = fitCdnow(readCdnowFile(file), calibrationEnd);
  if (!fit.ok) {
    throw new CicloError(
      'CONFIG_INVALID',
      `${resolved}: ${fit.reason} (--calibration-end ${calibrationEndText})`,
    );
  }
  return fit;
}

export function registerClvCommands(program: Command, getConfig: () => CicloConfig): void {
  const clv = program.command('clv').description('customer lifetime value models (BG/NBD and Gamma-Gamma)');

  clv
    .command('fit')
    .description('fit BG/NBD and Gamma-Gamma to a CDNOW transaction file (no service needed)')
    .requiredOption('--cdnow <file>', 'CDNOW_sample.txt or CDNOW_master.txt')
    .requiredOption('--calibration-end <yyyy-mm-dd>', 'last day of the calibration period (inclusive)')
    .option('--json', 'one JSON object: {"bgnbd":{...},"gammaGamma":{...},"customers":N}')
    .action((opts: { cdnow: string; calibrationEnd: string; json?: boolean }) => {
      const fit = fitCdnowFile(opts.cdnow, opts.calibrationEnd);
      for (const [model, converged] of [
        ['BG/NBD', fit.bgNbd.converged],
        ['Gamma-Gamma', fit.gammaGamma.converged],
      ] as const) {
        if (!converged) process.stderr.write(`ciclo: warning: the ${model} fit did not converge\n`);
      }
      say(opts.json ? JSON.stringify(toClvFitReport(fit)) : formatClvFit(fit, opts.calibrationEnd));
    });

  registerClvValidate(clv, getConfig);

  clv
    .command('refit')
    .description(
      'fit on the customers in ClickHouse and write expected purchases, P(alive) and predicted CLV back',
    )
    .option('--json', 'print the fitted parameters as JSON')
    .option('--no-publish', 'do not send the predictions to the lifecycle processor (ciclo.touchpoints)')
    .action(async (opts: { json?: boolean; publish: boolean }) => {
      const { endpoints } = getConfig();
      const { clickhouse } = endpoints;
      const engine = connectClickHouseServer({ url: clickhouse.url, urls: clickhouse.urls });
      try {
        const result = await refitFromClickHouse(engine, clickhouse.database, Date.now());
        // P(alive) back to the processor, whose stage rules may use it (five-stage: low-probability-alive).
        const published = opts.publish
          ? await publishClvPredictions(
              endpoints,
              loadInstallationSecret(getConfig().home, getConfig().pseudonymSecret),
              result,
            )
          : 0;
        const summary = {
          bgnbd: result.bgNbd.params,
          gammaGamma: result.gammaGamma.params,
          customers: result.customers.length,
          asOf: formatIsoDay(result.asOfDay),
          published,
        };
        process.stdout.write(
          `${opts.json ? JSON.stringify(summary) : `refit ${summary.customers} customers as of ${summary.asOf}: BG/NBD ${JSON.stringify(summary.bgnbd)}, Gamma-Gamma ${JSON.stringify(summary.gammaGamma)}; ${published} predictions sent to the processor`}\n`,
        );
      } finally {
        await engine.close();
      }
    });
}

/** Sends a fit's ClvPredicted touchpoints to ciclo.touchpoints; resolves with how many Kafka took. */
export async function publishClvPredictions(
  endpoints: ServiceEndpoints,
  secret: Buffer,
  result: ClickHouseRefit,
  touchpointTopic?: string,
): Promise<number> {
  const sink = await openTouchpointSink(endpoints, secret, 'ciclo-clv-refit', touchpointTopic);
  const { producer, serde, topic, partitions } = sink;
  try {
    return await produceTouchpoints(
      producer,
      serde,
      topic,
      clvPredictions(result, result.currencyOf, Date.now()),
      { partitions },
    );
  } finally {
    await sink.close();
  }
}
