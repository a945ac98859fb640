/**
 * CDNOW transaction rows (the 1997-98 CD retailer data set) as touchpoints: each row is one
 * PurchaseCompleted at 00:00 UTC of its day. Pure.
 *
 * Event ids come from the row's identity, not its line number, so importing a file twice, or importing
 * the sample after the master file (the sample's rows are a subset of the master's), yields the same ids:
 * cdnow:<customer>:<yyyymmdd>:<k>, where k numbers a customer's rows on one day in (CDs, dollars) order.
 * Zero-dollar rows are kept: a zero-amount purchase is still a purchase (CDNOW has a few).
 */
import type { Touchpoint } from '../../schemas/touchpoint';
import { toMinorUnits } from '../collector/money';

export interface RejectedRow {
  readonly line: number;
  readonly text: string;
  readonly reason: string;
}

interface Row {
  line: number;
  customer: string;
  date: string;
  cds: number;
  dollars: string;
}

export function cdnowTouchpoints(
  text: string,
  receivedAt: number,
): { touchpoints: Touchpoint[]; rejected: RejectedRow[]; rows: number } {
  const rows: Row[] = [];
  const rejected: RejectedRow[] = [];
  let count = 0;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    const cols = raw.trim().split(/\s+/).filter(Boolean);
    if (cols.length === 0) return;
    if (/^[A-Za-z_]/.test(cols[0]!)) return; // header line (CDNOW_master.txt has one)
    count += 1;
    if (cols.length !== 4 && cols.length !== 5) {
      rejected.push({
        line,
        text: raw,
        reason: `expected 4 columns (master) or 5 (sample), found ${cols.length}`,
      });
      return;
    }
    const [customer, date, cds, dollars] =
      cols.length === 5 ? [cols[0]!, cols[2]!, cols[3]!, cols[4]!] : [cols[0]!, cols[1]!, cols[2]!, cols[3]!];
    const m = /^(\d{4})(\d{2})(\d{2})$/.exec(date);
    const day = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
    if (!m || new Date(day).toISOString().slice(0, 10) !== `${m[1]}-${m[2]}-${m[3]}`) {
      rejected.push({ line, text: raw, reason: `date "${date}" is not a real yyyymmdd date` });
      return;
    }
    if (!/^\d+$/.test(customer)) {
      rejected.push({ line, text: raw, reason: `customer id "${customer}" is not a number` });
      return;
    }
    if (!/^\d+$/.test(cds)) {
      rejected.push({ line, text: raw, reason: `CDs "${cds}" is not a whole number` });
      return;
    }
    rows.push({ line, customer: String(Number(customer)), date, cds: Number(cds), dollars });
  });

  const byDay = new Map<string, Row[]>();
  for (const r of rows) {
    const key = `${r.customer}:${r.date}`;
    byDay.set(key, [...(byDay.get(key) ?? []), r]);
  }
  const touchpoints: Touchpoint[] = [];
  for (const [key, dayRows] of byDay) {
    dayRows.sort((a, b) => a.cds - b.cds || Number(a.dollars) - Number(b.dollars));
    dayRows.forEach((r, k) => {
      const money = toMinorUnits(r.dollars, 'USD');
      if (!money.ok) {
        rejected.push({
          line: r.line,
          text: `${r.customer} ${r.date} ${r.cds} ${r.dollars}`,
          reason: `dollars "${r.dollars}": ${money.message}`,
        });
        return;
      }
      const [y, mo, d] = [r.date.slice(0, 4), r.date.slice(4, 6), r.date.slice(6, 8)];
      const eventId = `cdnow:${key}:${k}`;
      touchpoints.push({
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
              ? [{ sku: 'cd', name: 'CD', quantity: r.cds, unitPriceMinor: Math.floor(money.minor / r.cds) }]
              : [],
          amountMinor: money.minor,
          currency: 'USD',
        },
      });
    });
  }
  touchpoints.sort((a, b) => a.occurredAt - b.occurredAt || (a.eventId < b.eventId ? -1 : 1));
  rejected.sort((a, b) => a.line - b.line);
  return { touchpoints, rejected, rows: count };
}
