import { formatTable } from './table';
import { printable } from './terminal-text';

describe('printable', () => {
  it('shows control characters as escapes, so they cannot act on the terminal', () => {
    expect(printable('newsletter')).toBe('newsletter');
    expect(printable('\u001b[2J\u001b[1;1Hpaid')).toBe('\\x1b[2J\\x1b[1;1Hpaid'); // clear screen, home
    expect(printable('\u001b]0;pwned\u0007')).toBe('\\x1b]0;pwned\\x07'); // window title
    expect(printable('fake\rreal')).toBe('fake\\rreal');
    expect(printable('a\nb\tc\u0008')).toBe('a\\nb\\tc\\x08');
    expect(printable('\u009b31m')).toBe('\\x9b31m'); // 8-bit CSI
    expect(printable('\u007f')).toBe('\\x7f');
  });

  it('shows bidirectional controls, which reorder text unseen, and keeps other unicode', () => {
    expect(printable('abc\u202edcba')).toBe('abc\\u202edcba');
    expect(printable('\u2066x\u2069')).toBe('\\u2066x\\u2069');
    expect(printable('café · 東京 · 🙂')).toBe('café · 東京 · 🙂');
  });
});

describe('formatTable', () => {
  it('aligns columns right, with - for missing values', () => {
    expect(
      formatTable([
        { channel: 'newsletter', customers: 4, cac: 25 },
        { channel: 'paid-search', customers: 3, cac: null },
      ]).split('\n'),
    ).toEqual(['    channel  customers  cac', ' newsletter          4   25', 'paid-search          3    -']);
    expect(formatTable([])).toBe('(no data)');
  });

  it('prints visitor-supplied strings escaped, each within its column', () => {
    const table = formatTable([
      { channel: '\u001b[31mfree-money\u001b[0m', customers: 1 },
      { channel: 'a\nb', customers: 2 },
    ]);
    expect(table.replaceAll('\n', '')).not.toMatch(/\p{Cc}/u); // newlines only between rows
    expect(table.split('\n')).toEqual([
      '                  channel  customers',
      '\\x1b[31mfree-money\\x1b[0m          1',
      '                     a\\nb          2',
    ]);
  });
});
