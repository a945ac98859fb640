/**
 * Who gets an answer from the dashboard, decided per request from its Host and Authorization headers. Pure:
 * the server (server.ts) only passes the headers in and turns a refusal into its answer.
 *
 * - Listening beyond loopback needs a token (`assertListenable`): anyone who reaches the port could read
 *   every report otherwise.
 * - The Host header must name loopback (`localhost`, `*.localhost`, which RFC 6761 section 6.3 reserves for
 *   loopback, 127.0.0.0/8, ::1), an IP address, the host the dashboard listens on, or a configured name.
 *   A page on an attacker's domain that re-resolves that domain to 127.0.0.1 (DNS rebinding) still sends
 *   its own domain as Host, and is refused. IP addresses pass because rebinding needs a name; Vite's dev
 *   server applies the same rule (https://vite.dev/config/server-options#server-allowedhosts).
 * - With a token configured, every /api request must bear it (compared in constant time), and only then
 *   may an answer name customers. Without one, no answer names a customer: on loopback any local process,
 *   or a page open in the browser that gets past the Host check, could read it.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { CicloError } from '../../infra/errors';
import type { DashboardAccess } from './config';

export type AccessDecision =
  | { readonly kind: 'allowed' }
  | {
      readonly kind: 'refused';
      readonly code: 'HOST_NOT_ALLOWED' | 'TOKEN_REQUIRED';
      readonly message: string;
    };

const unbracket = (host: string): string => host.replace(/^\[(.*)\]$/, '$1').toLowerCase();

/** Whether a host (a listen address or a Host header's name) is this machine's loopback. */
export function isLoopbackHost(host: string): boolean {
  const h = unbracket(host);
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  const v4 = h.startsWith('::ffff:') ? h.slice('::ffff:'.length) : h;
  if (isIP(v4) === 4) return v4.startsWith('127.');
  return h === '::1';
}

/** Refuses a dashboard that would listen beyond loopback without a token, saying how to fix it. */
export function assertListenable(listenHost: string, access: DashboardAccess): void {
  if (access.token !== undefined || isLoopbackHost(listenHost)) return;
  throw new CicloError(
    'CONFIG_INVALID',
    `the dashboard would listen on ${listenHost}, beyond loopback, where anyone who reaches it could read ` +
      'every report: set CICLO_DASHBOARD_TOKEN (16+ characters, e.g. `openssl rand -hex 16`), or listen on ' +
      '127.0.0.1 (--host)',
  );
}

/** The host name of a Host header (`name`, `name:port`, `[v6]:port`), lower case; undefined when absent. */
export function hostnameOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const h = header.trim();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end > 0 ? h.slice(1, end).toLowerCase() : undefined;
  }
  // One colon separates a port; more means an unbracketed IPv6 literal, which a Host header may not be.
  const parts = h.split(':');
  if (parts.length > 2) return undefined;
  return parts[0]!.toLowerCase() || undefined;
}

export function isAllowedHost(
  header: string | undefined,
  listenHost: string,
  access: DashboardAccess,
): boolean {
  const name = hostnameOf(header);
  if (name === undefined) return false;
  return (
    isLoopbackHost(name) ||
    isIP(name) !== 0 ||
    name === unbracket(listenHost) ||
    access.allowedHosts.includes(name)
  );
}

/** The token of an `Authorization: Bearer <token>` header. */
export function bearerToken(authorization: string | undefined): string | undefined {
  const match = /^bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  return match?.[1];
}

/** Constant time whatever the lengths: both sides are hashed to 32 bytes first. */
export function tokenMatches(presented: string | undefined, expected: string): boolean {
  if (presented === undefined) return false;
  const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

export function decideAccess(
  request: { readonly path: string; readonly host?: string; readonly authorization?: string },
  listenHost: string,
  access: DashboardAccess,
): AccessDecision {
  if (!isAllowedHost(request.host, listenHost, access)) {
    return {
      kind: 'refused',
      code: 'HOST_NOT_ALLOWED',
      message: `the dashboard does not answer to host "${hostnameOf(request.host) ?? ''}"`,
    };
  }
  // The page itself holds no data; it asks for the token when the API wants one.
  if (!request.path.startsWith('/api/') || access.token === undefined) return { kind: 'allowed' };
  return tokenMatches(bearerToken(request.authorization), access.token)
    ? { kind: 'allowed' }
    : { kind: 'refused', code: 'TOKEN_REQUIRED', message: 'this dashboard answers only with its token' };
}

/**
 * Whether API answers may name customers: only with a token configured, since every /api request that
 * decideAccess lets through then bore it.
 */
export function namesCustomers(access: DashboardAccess): boolean {
  return access.token !== undefined;
}
