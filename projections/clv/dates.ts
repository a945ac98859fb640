/**
 * Calendar days as integers (days since 1970-01-01, UTC), so that purchase times subtract exactly and
 * "several transactions on one day" is a plain equality. No clock is read here: every date is passed in.
 */

const MS_PER_DAY = 86_400_000;

/** Day number of a calendar date, or undefined when the date does not exist (1997-02-30). */
export function dayNumber(year: number, month: number, day: number): number | undefined {
  const ms = Date.UTC(year, month - 1, day);
  const date = new Date(ms);
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) {
    return undefined;
  }
  return ms / MS_PER_DAY;
}

/** `1997-09-30` to a day number; undefined unless it is a real date in exactly that form. */
export function parseIsoDay(text: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  return m ? dayNumber(Number(m[1]), Number(m[2]), Number(m[3])) : undefined;
}

/** `19970930` (CDNOW's date column) to a day number; undefined unless it is a real date in exactly that form. */
export function parseCompactDay(text: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(text);
  return m ? dayNumber(Number(m[1]), Number(m[2]), Number(m[3])) : undefined;
}

/** Day number to `1997-09-30`. */
export function formatIsoDay(day: number): string {
  return new Date(day * MS_PER_DAY).toISOString().slice(0, 10);
}

/** Days to weeks, the time unit of the published CDNOW fits (Fader, Hardie & Lee 2005). */
export const DAYS_PER_WEEK = 7;
