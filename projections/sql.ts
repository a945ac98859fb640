/**
 * The one place values reach SQL. Debian's ClickHouse 18.16 has no server-side query parameters, so every
 * value is validated here and formatted as a literal; nothing else in ciclo builds SQL from input.
 */
import { CicloError } from '../infra/errors';

export function identifier(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(name))
    throw new CicloError('CONFIG_INVALID', `"${name}" is not a valid ClickHouse identifier`);
  return name;
}

export function stringLiteral(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** A yyyy-mm-dd date, checked to be a real calendar date. */
export function dateLiteral(value: string, what = 'date'): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  const d = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : undefined;
  if (!m || !d || d.toISOString().slice(0, 10) !== value)
    throw new CicloError('CONFIG_INVALID', `${what} must be a real date as yyyy-mm-dd, got "${value}"`);
  return `toDate('${value}')`;
}

export function integerLiteral(value: number, what = 'value'): string {
  if (!Number.isSafeInteger(value))
    throw new CicloError('CONFIG_INVALID', `${what} must be a whole number, got ${value}`);
  return String(value);
}
