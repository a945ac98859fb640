/**
 * What of a URL a touchpoint keeps. Query strings and fragments carry whatever a site put there (emails,
 * names, order and session ids, reset tokens, search terms) and user info carries credentials, while
 * attribution needs only the site, the page and the campaign. So, before a URL lands in a touchpoint:
 *
 * - a page URL, or a link clicked in an email, keeps its scheme, host, port and path, and of its query only
 *   the `utm_*` parameters (the campaign) and the parameters the installation allows by name
 *   (CICLO_URL_QUERY_ALLOWLIST); user info (`user:pass@`) and the fragment are dropped. A path with a query
 *   (`/shop?q=1`) is kept the same way.
 *   `https://ana:pw@shop.example:8443/cart?email=ana%40example.com&utm_source=news#pay`
 *   -> `https://shop.example:8443/cart?utm_source=news`
 * - a referrer keeps its origin only, `scheme://host[:port]/`: what browsers send for a cross-origin request
 *   under their default Referrer-Policy, `strict-origin-when-cross-origin`
 *   (https://www.w3.org/TR/referrer-policy/#referrer-policy-strict-origin-when-cross-origin; the default in
 *   Chrome 85+, Firefox 87+ and Safari, https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/Referrer-Policy).
 *   The channel ciclo derives from a referrer is its host, which stays.
 *   `https://www.google.com/search?q=ana+lima` -> `https://www.google.com/`
 * - something that is not a URL is cut at its first `?` or `#`.
 *
 * A URL with no host and a path that is no path (`mailto:ana@example.com`, `data:...`) keeps its scheme only.
 * Kept parameters are kept as sent (their encoding and order). Pure and free of Node's modules: the collector,
 * the webhooks and the browser snippet (producers/snippet/core/calls.ts) all run this one module.
 */

/** Names of query parameters kept besides `utm_*`, as parameter names compare: decoded, case-sensitive. */
export type QueryAllowlist = readonly string[];

/** `scheme:` at the start: an absolute URL, or meant to be one (RFC 3986, section 3.1). */
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;

/** The base references without a scheme (`/shop?x=1`, `//host/path`) are read against; it never shows. */
const BASE = 'http://base.invalid';

/** Whether a query parameter (its name decoded) is kept. */
export function isKeptParameter(name: string, allowlist: QueryAllowlist): boolean {
  return name.startsWith('utm_') || allowlist.includes(name);
}

/** A query string (`?a=1&utm_source=x`, with or without its `?`) with only the kept parameters: `?utm_source=x`, or ''. */
export function minimizeQuery(search: string, allowlist: QueryAllowlist): string {
  const query = search.startsWith('?') ? search.slice(1) : search;
  if (query === '') return '';
  const kept = query
    .split('&')
    .filter((pair) => pair !== '' && isKeptParameter(parameterName(pair), allowlist));
  return kept.length > 0 ? `?${kept.join('&')}` : '';
}

function parameterName(pair: string): string {
  const equals = pair.indexOf('=');
  const raw = (equals < 0 ? pair : pair.slice(0, equals)).replace(/\+/g, ' ');
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw; // a stray '%': compared as sent
  }
}

/** Everything before the first '?' or '#'. */
function cutAtQuery(value: string): string {
  const at = value.search(/[?#]/);
  return at < 0 ? value : value.slice(0, at);
}

/** An absolute URL, or a reference starting with `/` read against BASE; undefined for anything else. */
function parse(value: string, absolute: boolean): URL | undefined {
  if (!absolute && !value.startsWith('/')) return undefined;
  try {
    return new URL(value, BASE);
  } catch {
    return undefined;
  }
}

/**
 * A page URL, a link or a path as a touchpoint keeps it: scheme, host, port, path, and the `utm_*` and
 * allowed query parameters; no user info, no fragment. Not a URL: cut at the first '?' or '#'.
 */
export function minimizeUrl(value: string, allowlist: QueryAllowlist): string {
  if (!/[?#@]/.test(value)) return value; // no query, fragment or user info: nothing to drop
  const absolute = SCHEME.test(value);
  const url = parse(value, absolute);
  if (!url) return cutAtQuery(value);
  // No host and a path that is no path (mailto:, data:, urn:): the scheme only.
  if (url.host === '' && !url.pathname.startsWith('/')) return url.protocol;
  url.username = url.password = url.hash = '';
  url.search = minimizeQuery(url.search, allowlist);
  if (absolute) return url.href;
  // `//host/path` keeps its host (without BASE's scheme); `/path` is a path.
  return url.href.slice(value.startsWith('//') ? url.protocol.length : BASE.length);
}

/**
 * A referrer as a touchpoint keeps it: its origin, `scheme://host[:port]/` (as `strict-origin-when-cross-origin`
 * sends it). A URL without a host keeps its scheme; something that is not a URL is cut at the first '?' or '#'.
 */
export function minimizeReferrer(value: string): string {
  const absolute = SCHEME.test(value);
  const url = absolute || value.startsWith('//') ? parse(value, absolute) : undefined;
  if (!url) return cutAtQuery(value);
  if (url.host === '') return url.protocol;
  return `${absolute ? url.protocol : ''}//${url.host}/`;
}
