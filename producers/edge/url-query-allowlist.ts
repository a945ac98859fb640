/**
 * CICLO_URL_QUERY_ALLOWLIST: the query parameters a page URL or a link keeps besides `utm_*`
 * (url-minimization.ts), by name, comma-separated (`page,ref`); none by default. One variable for every way
 * in that keeps URLs: the collector parses it with the rest of its config (../collector/config.ts, whose
 * webhooks use the same list), `ciclo import` on its own (cli/commands/import.ts); each once, at its entry
 * point, then passes the list in. Apart from url-minimization.ts because the browser snippet bundles that
 * one, and it stays free of zod.
 */
import { z } from 'zod';
import { CicloError } from '../../infra/errors';
import type { QueryAllowlist } from './url-minimization';

/** The variable's schema, for a component's environment schema: "page, ref,," -> ['page', 'ref']. */
export const UrlQueryAllowlistVariable = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  )
  .pipe(
    z.array(
      z.string().regex(/^[^\s&=#?]+$/, 'each entry must be a query parameter name (no spaces, &, =, # or ?)'),
    ),
  )
  .default([]);

const UrlQueryAllowlistEnv = z.object({ CICLO_URL_QUERY_ALLOWLIST: UrlQueryAllowlistVariable });

/** CICLO_URL_QUERY_ALLOWLIST of an environment record, frozen; throws CONFIG_INVALID naming each bad entry. */
export function loadUrlQueryAllowlist(env: Readonly<Record<string, string | undefined>>): QueryAllowlist {
  const parsed = UrlQueryAllowlistEnv.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new CicloError('CONFIG_INVALID', `invalid URL query allowlist:\n${lines.join('\n')}`);
  }
  return Object.freeze([...parsed.data.CICLO_URL_QUERY_ALLOWLIST]);
}
