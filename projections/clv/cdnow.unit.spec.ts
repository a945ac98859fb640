import { parseCdnow, type CdnowParseResult } from './cdnow';
import { parseIsoDay } from './dates';

const day = (iso: string): number => parseIsoDay(iso)!;

function parsed(text: string): Extract<CdnowParseResult, { ok: true }> {
  const result = parseCdnow(text);
  if (!result.ok) throw new Error(`line ${result.line}: ${result.reason}`);
  return result;
}

describe('parseCdnow', () => {
  it('reads the 5-column sample layout, one purchase per customer and day', () => {
    const result = parsed(
      [
        ' 00004 0001 19970101  2   29.33',
        ' 00004 0001 19970118  2   29.73',
        ' 00004 0001 19970118  1   10.00',
        ' 00021 0002 19970101  3   63.34',
      ].join('\r\n') + '\r\n',
    );
    expect(result.format).toBe('sample');
    expect(result.transactions).toBe(4);
    expect(result.customers).toEqual([
      {
        customerId: '00004',
        days: [
          { day: day('1997-01-01'), transactions: 1, cds: 2, dollars: 29.33 },
          { day: day('1997-01-18'), transactions: 2, cds: 3, dollars: expect.closeTo(39.73, 10) as number },
        ],
      },
      { customerId: '00021', days: [{ day: day('1997-01-01'), transactions: 1, cds: 3, dollars: 63.34 }] },
    ]);
  });

  it('reads the 4-column master layout after its header, with days sorted whatever the file order', () => {
    const result = parsed(
      [
        ' customer_id  date number_of_cds  dollar_value',
        ' 00002 19970301  1   12.00',
        ' 00002 19970112  5   77.00',
        '',
      ].join('\n'),
    );
    expect(result.format).toBe('master');
    expect(result.customers[0]!.days.map((d) => d.day)).toEqual([day('1997-01-12'), day('1997-03-01')]);
  });

  it('names the line and the problem when a row cannot be read', () => {
    const header = ' customer_id  date number_of_cds  dollar_value';
    expect(parseCdnow(`${header}\n 00001 19970101 1 11.77\n 00001 19970230 1 5.00`)).toEqual({
      ok: false,
      line: 3,
      reason: 'date "19970230" is not a real yyyymmdd date',
    });
    expect(parseCdnow(' 00001 19970101 1 11.77\n 00001 0001 19970102 1 5.00')).toEqual({
      ok: false,
      line: 2,
      reason: 'expected 4 columns like the first row (master format), found 5',
    });
    expect(parseCdnow(' 00001 19970101 1')).toMatchObject({ ok: false, line: 1 });
    expect(parseCdnow(' 00001 19970101 1 -3.00')).toMatchObject({
      ok: false,
      reason: expect.stringContaining('-3.00') as string,
    });
    expect(parseCdnow(' 00001 19970101 x 3.00')).toMatchObject({
      ok: false,
      reason: expect.stringContaining('CDs') as string,
    });
    expect(parseCdnow(' abc 19970101 1 3.00\n 00001 19970101 1 3.00')).toMatchObject({ ok: true });
    expect(parseCdnow(' 00001 19970101 1 3.00\n abc 19970101 1 3.00')).toMatchObject({
      ok: false,
      line: 2,
      reason: 'customer id "abc" is not a number',
    });
  });

  it('refuses a text without transactions', () => {
    expect(parseCdnow('\n  \n')).toMatchObject({ ok: false, reason: 'no transactions found' });
    expect(parseCdnow(' customer_id  date number_of_cds  dollar_value\n')).toMatchObject({ ok: false });
  });
});
