/**
 * The analyst views of migration 006 turn minor units into major ones with the ISO 4217 digits of money.ts
 * written out in SQL (`transform(currency, [codes], [digits], 2)`), which cannot import them: every such list
 * must say what `minorUnitExponent` says, for every three-letter code.
 */
import fs from 'node:fs';
import path from 'node:path';
import { minorUnitExponent } from './money';

const MIGRATIONS_DIR = path.resolve(__dirname, '..', '..', 'projections', 'migrations', 'sql');

const TRANSFORM = /transform\(currency,\s*\[([^\]]*)\],\s*\[([^\]]*)\],\s*(\d+)\)/g;

function allCodes(): string[] {
  const letters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  const codes: string[] = [];
  for (const a of letters) for (const b of letters) for (const c of letters) codes.push(a + b + c);
  return codes;
}

describe('minor-unit digits in the migrations', () => {
  const sql = fs
    .readdirSync(MIGRATIONS_DIR)
    .filter((f) => f.endsWith('.sql'))
    .map((f) => fs.readFileSync(path.join(MIGRATIONS_DIR, f), 'utf8'))
    .join('\n');
  const lists = [...sql.matchAll(TRANSFORM)];

  it('finds the lists of the purchases and marketing_spend views', () => {
    expect(lists.length).toBeGreaterThanOrEqual(2);
  });

  it.each(lists.map((m, i) => [i, m] as const))(
    'list %d gives every three-letter code the digits of producers/edge/money.ts',
    (_i, match) => {
      const codes = match[1]!.split(',').map((s) => s.trim().replace(/^'|'$/g, ''));
      const digits = match[2]!.split(',').map((s) => Number(s.trim()));
      const fallback = Number(match[3]);
      expect(codes).toHaveLength(digits.length);
      const sqlDigits = new Map(codes.map((code, i) => [code, digits[i]!]));
      const differing = allCodes().filter(
        (code) => (sqlDigits.get(code) ?? fallback) !== minorUnitExponent(code),
      );
      expect(differing).toEqual([]);
    },
  );
});
