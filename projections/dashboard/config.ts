/**
 * Who may read the dashboard: its access token and the host names it answers to. Parsed with zod from the
 * environment once, at the entry point (`ciclo dashboard`, `ciclo demo --serve`), then passed in; frozen.
 *
 * - `CICLO_DASHBOARD_TOKEN`: with it, every /api request must bear it (`Authorization: Bearer <token>`;
 *   the page takes it from the address, `#token=<token>`), and answers may name customers. Without it the
 *   dashboard listens on loopback only and its answers never name a customer. 16 or more visible ASCII
 *   characters (`openssl rand -hex 16` makes one).
 * - `CICLO_DASHBOARD_HOSTS`: host names the dashboard answers to besides loopback names, IP addresses and
 *   the host it listens on (access.ts: the defence against DNS rebinding), comma-separated.
 */
import { z } from 'zod';
import { CicloError } from '../../infra/errors';

export interface DashboardAccess {
  /** The bearer token of /api requests; absent: no token, loopback only, customer ids withheld. */
  readonly token?: string;
  /** Extra host names (lower case) a request's Host header may name. */
  readonly allowedHosts: readonly string[];
}

const blankIsAbsent = (v: unknown): unknown => (typeof v === 'string' && v.trim() === '' ? undefined : v);

export const DashboardEnvSchema = z.object({
  CICLO_DASHBOARD_TOKEN: z.preprocess(
    blankIsAbsent,
    z
      .string()
      .regex(/^[\x21-\x7e]+$/, 'visible ASCII characters only (it travels in an HTTP header)')
      .min(16, 'at least 16 characters (`openssl rand -hex 16` makes one)')
      .optional(),
  ),
  CICLO_DASHBOARD_HOSTS: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((h) => h.trim().toLowerCase())
        .filter(Boolean),
    )
    .pipe(
      z.array(
        z
          .string()
          .regex(
            /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/,
            'each entry: a host name',
          ),
      ),
    )
    .default([]),
});

export function loadDashboardAccess(env: Readonly<Record<string, string | undefined>>): DashboardAccess {
  const parsed = DashboardEnvSchema.safeParse(env);
  if (!parsed.success) {
    // Never echo the token: name the variable and the rule.
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new CicloError('CONFIG_INVALID', `invalid dashboard environment:\n${lines.join('\n')}`);
  }
  return dashboardAccess({
    ...(parsed.data.CICLO_DASHBOARD_TOKEN !== undefined ? { token: parsed.data.CICLO_DASHBOARD_TOKEN } : {}),
    allowedHosts: parsed.data.CICLO_DASHBOARD_HOSTS,
  });
}

/** A complete, frozen access configuration: no token and no extra host unless given. */
export function dashboardAccess(fields: Partial<DashboardAccess> = {}): DashboardAccess {
  return Object.freeze({
    ...(fields.token !== undefined ? { token: fields.token } : {}),
    allowedHosts: Object.freeze([...(fields.allowedHosts ?? [])]),
  });
}
