/**
 * Endpoints may carry credentials (`CLICKHOUSE_URL=http://user:password@host:8123`, a registry behind basic
 * auth). Every endpoint ciclo prints, logs or puts in an error message goes through `redactUrl`, so a
 * password never reaches a terminal, a log or a bug report; `redactUrlsIn` does the same for every URL in a
 * message ciclo did not word itself (a client's error), before the CLI prints it. `splitUrlCredentials` is
 * for clients that will not take credentials in a URL: Node's fetch throws on them, with the whole URL in
 * its message.
 */

const SECRET_PARAMS = /^(password|pass|passwd|pwd|secret|token|api[-_]?key|access[-_]?key)$/i;
const HIDDEN = '***';

/**
 * The URL with its password (and any secret-looking query parameter) replaced by `***`; the user name is
 * kept, since it tells which account is used. Text that is not a URL (a broker list) is returned as is.
 */
export function redactUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return text;
  }
  let changed = false;
  if (url.password) {
    url.password = HIDDEN;
    changed = true;
  }
  for (const name of [...url.searchParams.keys()]) {
    if (SECRET_PARAMS.test(name)) {
      url.searchParams.set(name, HIDDEN);
      changed = true;
    }
  }
  if (!changed) return text; // as given: new URL() would add a trailing slash and normalise case
  return url.toString().replaceAll(encodeURIComponent(HIDDEN), HIDDEN);
}

/** The URL without its user info, and that user info as an HTTP Basic `Authorization` value. */
export function splitUrlCredentials(text: string): { url: string; authorization?: string } {
  const url = new URL(text);
  if (!url.username && !url.password) return { url: text };
  const user = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  url.username = '';
  url.password = '';
  return {
    url: url.toString(),
    authorization: `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`,
  };
}

const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]+/gi;

/** `text` with every URL in it passed through redactUrl. */
export function redactUrlsIn(text: string): string {
  return text.replace(URL_IN_TEXT, (url) => redactUrl(url));
}
