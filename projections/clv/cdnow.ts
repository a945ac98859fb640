/**
 * The CDNOW transaction files (Fader & Hardie's public dataset: the 1997 cohort of CDNOW's first-time buyers,
 * followed to June 1998) parsed into per-customer purchase histories. A pure function over the text: the
 * caller reads the file.
 *
 * Two layouts, told apart by their column count (whitespace-separated, CRLF or LF):
 * - `CDNOW_sample.txt`, 5 columns: customer id, sample id, yyyymmdd, number of CDs, dollars;
 * - `CDNOW_master.txt`, 4 columns: customer id, yyyymmdd, number of CDs, dollars; it may open with a header
 *   line (`customer_id date number_of_cds dollar_value`), which is skipped.
 *
 * Several transactions by one customer on one day are one purchase (summed), as in the published analyses.
 */
import { parseCompactDay } from './dates';

export type CdnowFormat = 'sample' | 'master';

/** Everything one customer bought on one day. */
export interface PurchaseDay {
  /** Days since 1970-01-01 (see dates.ts). */
  readonly day: number;
  readonly transactions: number;
  readonly cds: number;
  readonly dollars: number;
}

export interface CustomerPurchases {
  readonly customerId: string;
  /** One entry per distinct purchase day, in date order; never empty. */
  readonly days: readonly PurchaseDay[];
}

export type CdnowParseResult =
  | {
      readonly ok: true;
      readonly format: CdnowFormat;
      readonly transactions: number;
      /** In order of first appearance in the file. */
      readonly customers: readonly CustomerPurchases[];
    }
  | { readonly ok: false; readonly line: number; readonly reason: string };

type DayTotals = { transactions: number; cds: number; dollars: number };

const COLUMNS: Record<CdnowFormat, number> = { sample: 5, master: 4 };
const DIGITS = /^\d+$/;
const AMOUNT = /^\d+(\.\d+)?$/;
const HEADER = /^[A-Za-z_]/;

export function parseCdnow(text: string): CdnowParseResult {
  const lines = text.split(/\r?\n/);
  const firstLine = lines.findIndex((l) => l.trim() !== '');
  let format: CdnowFormat | undefined;
  let transactions = 0;
  const byCustomer = new Map<string, Map<number, DayTotals>>();
  const fail = (index: number, reason: string): CdnowParseResult => ({ ok: false, line: index + 1, reason });

  for (let i = 0; i < lines.length; i++) {
    const fields = lines[i]!.trim().split(/\s+/);
    if (fields[0] === '') continue; // blank line
    if (i === firstLine && HEADER.test(fields[0]!)) continue; // the master file's header
    if (format === undefined) {
      if (fields.length === COLUMNS.sample) format = 'sample';
      else if (fields.length === COLUMNS.master) format = 'master';
      else {
        return fail(
          i,
          `expected 5 columns (CDNOW_sample) or 4 columns (CDNOW_master), found ${fields.length}`,
        );
      }
    }
    if (fields.length !== COLUMNS[format]) {
      return fail(
        i,
        `expected ${COLUMNS[format]} columns like the first row (${format} format), found ${fields.length}`,
      );
    }
    const [customerId, dateText, cdsText, dollarsText] =
      format === 'sample'
        ? [fields[0]!, fields[2]!, fields[3]!, fields[4]!]
        : [fields[0]!, fields[1]!, fields[2]!, fields[3]!];
    if (!DIGITS.test(customerId)) return fail(i, `customer id "${customerId}" is not a number`);
    if (format === 'sample' && !DIGITS.test(fields[1]!))
      return fail(i, `sample id "${fields[1]}" is not a number`);
    const day = parseCompactDay(dateText);
    if (day === undefined) return fail(i, `date "${dateText}" is not a real yyyymmdd date`);
    if (!DIGITS.test(cdsText)) return fail(i, `number of CDs "${cdsText}" is not a whole number`);
    if (!AMOUNT.test(dollarsText))
      return fail(i, `dollar value "${dollarsText}" is not a non-negative amount`);

    transactions++;
    let days = byCustomer.get(customerId);
    if (!days) byCustomer.set(customerId, (days = new Map<number, DayTotals>()));
    const sameDay = days.get(day);
    if (sameDay) {
      sameDay.transactions++;
      sameDay.cds += Number(cdsText);
      sameDay.dollars += Number(dollarsText);
    } else {
      days.set(day, { transactions: 1, cds: Number(cdsText), dollars: Number(dollarsText) });
    }
  }
  if (format === undefined) return { ok: false, line: lines.length, reason: 'no transactions found' };

  const customers: CustomerPurchases[] = [];
  for (const [customerId, days] of byCustomer) {
    customers.push({
      customerId,
      days: [...days].map(([day, d]) => ({ day, ...d })).sort((p, q) => p.day - q.day),
    });
  }
  return { ok: true, format, transactions, customers };
}
