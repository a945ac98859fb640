import { loadUrlQueryAllowlist } from './url-query-allowlist';

describe('CICLO_URL_QUERY_ALLOWLIST', () => {
  it('is a comma-separated list of names, trimmed, empty entries left out, frozen; none by default', () => {
    const allowlist = loadUrlQueryAllowlist({ CICLO_URL_QUERY_ALLOWLIST: 'page, ref,,variant' });
    expect(allowlist).toEqual(['page', 'ref', 'variant']);
    expect(Object.isFrozen(allowlist)).toBe(true);
    expect(loadUrlQueryAllowlist({})).toEqual([]);
  });

  it('refuses an entry that is not a parameter name, naming it', () => {
    expect(() => loadUrlQueryAllowlist({ CICLO_URL_QUERY_ALLOWLIST: 'page,a=b' })).toThrow(
      /CICLO_URL_QUERY_ALLOWLIST\.1: each entry must be a query parameter name/,
    );
  });
});
