import { APPLIED_TOKEN, archiveHas, fnv1a, hashesOf, isAppliedArchive, tokensOf } from './applied-archive';

/** 32-bit numbers spread over the whole range, the top bits included. */
const spread = (n: number, seed: number): number[] =>
  Array.from({ length: n }, (_, i) => Math.imul(seed * 1_000_003 + i, 2_654_435_761) >>> 0);

describe('applied-archive tokens', () => {
  it('writes each hash as six base64url digits, lowest six bits first', () => {
    // 0xffffffff: five digits of 63 ('_'), then bits 30 and 31 (3, 'D').
    expect(tokensOf([0, 1, 63, 64, 0xffffffff])).toBe('AAAAAA' + 'BAAAAA' + '_AAAAA' + 'ABAAAA' + '_____D');
    expect(tokensOf([])).toBe('');
  });

  it('reads back what it wrote, for lists short and long (past the scratch it first writes into)', () => {
    for (const n of [0, 1, 2, 63, 64, 65, 1000, 8192]) {
      const hashes = spread(n, n);
      const tokens = tokensOf(hashes);
      expect(tokens).toHaveLength(n * APPLIED_TOKEN);
      expect(isAppliedArchive(tokens)).toBe(true);
      expect(hashesOf(tokens)).toEqual(hashes);
    }
  });

  it('gives each list its own string: a later, shorter call leaves an earlier result as it was', () => {
    const long = spread(100, 7);
    const first = tokensOf(long);
    const second = tokensOf(spread(3, 8));
    expect(hashesOf(first)).toEqual(long);
    expect(second).toHaveLength(3 * APPLIED_TOKEN);
  });

  it('finds a hash only at a token boundary', () => {
    const ids = ['evt-1', 'evt-2', 'evt-3'].map(fnv1a);
    const archive = tokensOf(ids);
    for (const h of ids) expect(archiveHas(archive, h)).toBe(true);
    expect(archiveHas(archive, fnv1a('evt-4'))).toBe(false);
  });
});
