/**
 * CDNOW transaction rows (the 1997-98 CD retailer data set) as touchpoints: each row is one
 * PurchaseCompleted at 00:00 UTC of its day. Pure.
 *
 * Event ids come from the row's identity, not its line number, so importing a file twice, or importing
 * the sample after the master file (the sample's rows are a subset of the master's), yields the same ids:
 * cdnow:<customer>:<yyyymmdd>:<k>, where k numbers a customer's rows on one day in (CDs, dollars) order.
 * A row is therefore a draft until the customer's other rows of that day are known (rows.ts): its group is
 * `cdnow:<customer>:<yyyymmdd>:`, the prefix of its id. Zero-dollar rows are kept: a zero-amount purchase
 * is still a purchase (CDNOW has a few). A row whose dollars cannot be read is rejected but keeps its k, as
 * it always has, so the ids of the customer's other rows that day do not depend on it being fixed.
 */
import type { Touchpoint } from '../../schemas/touchpoint';
import { toMinorUnits } from '../edge/money';
import { mapAll, type DraftIds, type MappedRow, type RejectedRow, type SourceRow } from './rows';

/** A valid row before its id: customer (without leading zeros), yyyymmdd, CDs, dollars as written. */
export interface CdnowDraft {
  readonly customer: string;
  readonly date: string;
  readonly cds: number;
  readonly dollars: string;
}

/** One line of a CDNOW file (master: 4 columns, sample: 5, the second an id of the sample's own). */
export function cdnowRow(raw: string): MappedRow<CdnowDraft> {
  const cols = raw.trim().split(/\s+/).filter(Boolean);
  if (cols.length === 0) return { kind: 'skipped' };
  if (/^[A-Za-z_]/.test(cols[0]!)) return { kind: 'skipped' }; // header line (CDNOW_master.txt has one)
  if (cols.length !== 4 && cols.length !== 5)
    return {
      kind: 'rejected',
      reason: `expected 4 columns (master) or 5 (sample), found ${cols.length}`,
    };
  const [customer, date, cds, dollars] =
    cols.length === 5 ? [cols[0]!, cols[2]!, cols[3]!, cols[4]!] : [cols[0]!, cols[1]!, cols[2]!, cols[3]!];
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(date);
  const day = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
  if (!m || new Date(day).toISOString().slice(0, 10) !== `${m[1]}-${m[2]}-${m[3]}`)
    return { kind: 'rejected', reason: `date "${date}" is not a real yyyymmdd date` };
  if (!/^\d+$/.test(customer))
    return { kind: 'rejected', reason: `customer id "${customer}" is not a number` };
  if (!/^\d+$/.test(cds)) return { kind: 'rejected', reason: `CDs "${cds}" is not a whole number` };
  const id = String(Number(customer));
  const money = toMinorUnits(dollars, 'USD');
  return {
    kind: 'draft',
    at: day,
    group: `cdnow:${id}:${date}:`,
    draft: { customer: id, date, cds: Number(cds), dollars },
    ...(money.ok ? {} : { rejected: `dollars "${dollars}": ${money.message}` }),
  };
}

/**
 * A customer's rows of one day in the order that numbers them: CDs, then dollars; rows equal in both are
 * interchangeable (their touchpoints differ only in k), and unreadable dollars come last.
 */
function byCdsAndDollars(a: CdnowDraft, b: CdnowDraft): number {
  if (a.cds !== b.cds) return a.cds - b.cds;
  const [x, y] = [Number(a.dollars), Number(b.dollars)];
  if (Number.isNaN(x) !== Number.isNaN(y)) return Number.isNaN(x) ? 1 : -1;
  if (x !== y && !Number.isNaN(x)) return x - y;
  return a.dollars < b.dollars ? -1 : a.dollars > b.dollars ? 1 : 0;
}

export function cdnowIds(receivedAt: number): DraftIds<CdnowDraft> {
  return {
    idsFollowGroups: true,
    touchpoints(group, drafts) {
      const out: Touchpoint[] = [];
      [...drafts].sort(byCdsAndDollars).forEach((r, k) => {
        const money = toMinorUnits(r.dollars, 'USD');
        if (!money.ok) return; // rejected when read; it keeps its k
        const eventId = `${group}${k}`;
        const [y, mo, d] = [r.date.slice(0, 4), r.date.slice(4, 6), r.date.slice(6, 8)];
        out.push({
          eventId,
          type: 'PurchaseCompleted',
          customerId: `cdnow-${r.customer}`,
          occurredAt: Date.UTC(Number(y), Number(mo) - 1, Number(d)),
          receivedAt,
          source: { kind: 'import', name: 'cdnow' },
          payload: {
            orderId: eventId,
            lineItems:
              r.cds > 0
                ? [
                    {
                      sku: 'cd',
                      name: 'CD',
                      quantity: r.cds,
                      unitPriceMinor: Math.floor(money.minor / r.cds),
                    },
                  ]
                : [],
            amountMinor: money.minor,
            currency: 'USD',
          },
        });
      });
      return out;
    },
  };
}

/** A whole CDNOW text at once (tests, small files): touchpoints in the import's order, rejected rows. */
export function cdnowTouchpoints(
  text: string,
  receivedAt: number,
): { touchpoints: Touchpoint[]; rejected: RejectedRow[]; rows: number } {
  const rows: SourceRow[] = text.split(/\r?\n/).map((line, i) => ({ line: i + 1, text: line }));
  return mapAll(rows, (row) => cdnowRow(row.text), receivedAt, cdnowIds(receivedAt));
}
