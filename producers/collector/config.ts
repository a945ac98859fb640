/**
 * The collector's configuration: write keys per source, which sources are browser snippets, limits, CORS,
 * and what of URLs and IP addresses a touchpoint keeps. Parsed with zod from an environment record once, at the entry point (cli/commands/collect.ts), then
 * passed in; every invalid variable is reported at once. Frozen after parsing.
 */
import { z } from 'zod';
import { CicloError } from '../../infra/errors';
import type { QueryAllowlist } from '../edge/url-minimization';
import { UrlQueryAllowlistVariable } from '../edge/url-query-allowlist';
import { IP_RETENTIONS, type IpRetention } from './ip-address';

export interface WriteKeyOwner {
  readonly name: string;
  readonly kind: 'api' | 'snippet';
}

export interface CollectorConfig {
  /** Write key -> the source it belongs to. A source may have several keys (rotation). */
  readonly writeKeys: ReadonlyMap<string, WriteKeyOwner>;
  /** Largest accepted request body for /v1 calls, in bytes (Segment's batch limit is 500 KB). */
  readonly bodyLimitBytes: number;
  /** Origins allowed to call /v1 from a browser: `true` for any. */
  readonly corsOrigins: true | readonly string[];
  /** ISO 4217 code for money sent without a currency. */
  readonly defaultCurrency: string;
  /** How long a request waits for Kafka to acknowledge its events before answering 503. */
  readonly sendTimeoutMs: number;
  /** Retry-After on a 503, in seconds. */
  readonly retryAfterSeconds: number;
  /** Calls each write key may send (rate-limit.ts); undefined: no limit. */
  readonly rateLimit: RateLimit | undefined;
  /**
   * Query parameters a page URL or a link keeps besides `utm_*` (../edge/url-minimization.ts), also in
   * webhooks' links; none by default.
   */
  readonly urlQueryAllowlist: QueryAllowlist;
  /** What a touchpoint keeps of a call's `context.ip` (ip-address.ts): nothing by default. */
  readonly ipRetention: IpRetention;
}

/**
 * A token bucket per write key (rate-limit.ts): `callsPerSecond` sustained, up to `burst` at once. The key
 * of a browser snippet is shared by every visitor of a site, so the limit is the site's, not a visitor's.
 */
export interface RateLimit {
  readonly callsPerSecond: number;
  readonly burst: number;
}

export const DEFAULT_BODY_LIMIT_BYTES = 512 * 1024;

/**
 * 2,000 calls a second per key (7 million an hour) with bursts of 20,000: above what a busy shop's
 * visitors or backend send, and a small part of what one collector process takes (~78,000 a second,
 * bench/RESULTS.md), so one key, such as a public one in hostile hands, cannot take the collector or
 * flood the pipeline. Raise it for bulk senders, or turn it off (`CICLO_RATE_LIMIT=off`).
 */
export const DEFAULT_RATE_LIMIT: RateLimit = Object.freeze({ callsPerSecond: 2000, burst: 20_000 });

const SOURCE_NAME = /^[A-Za-z0-9._-]{1,64}$/;

const list = (s: string): string[] =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

/** "source:key,source:key"; the key is everything after the first colon. */
const writeKeyPairs = z
  .string()
  .transform(list)
  .pipe(
    z.array(
      z
        .string()
        .regex(
          /^[A-Za-z0-9._-]{1,64}:\S+$/,
          'each entry must be source:key (source: letters, digits, . _ -)',
        ),
    ),
  )
  .transform((pairs) =>
    pairs.map((p) => ({ source: p.slice(0, p.indexOf(':')), key: p.slice(p.indexOf(':') + 1) })),
  )
  .superRefine((pairs, ctx) => {
    const owner = new Map<string, string>();
    for (const { source, key } of pairs) {
      const previous = owner.get(key);
      if (previous !== undefined && previous !== source) {
        ctx.addIssue({
          code: 'custom',
          message: `the same key is given to sources "${previous}" and "${source}"`,
        });
      }
      owner.set(key, source);
    }
  });

const positiveInt = (what: string) =>
  z
    .string()
    .regex(/^\d+$/, `${what} must be a whole number`)
    .transform(Number)
    .pipe(z.number().int().positive(`${what} must be > 0`));

export const CollectorEnvSchema = z
  .object({
    /** Write keys per source: "web:wk_abc,backend:wk_def". */
    CICLO_WRITE_KEYS: writeKeyPairs.default([]),
    /** Sources whose keys are used by browser snippets (their touchpoints get source.kind "snippet"). */
    CICLO_SNIPPET_SOURCES: z
      .string()
      .transform(list)
      .pipe(z.array(z.string().regex(SOURCE_NAME, 'each source name: letters, digits, . _ -')))
      .default([]),
    CICLO_COLLECTOR_BODY_LIMIT: positiveInt('CICLO_COLLECTOR_BODY_LIMIT (bytes)').default(
      DEFAULT_BODY_LIMIT_BYTES,
    ),
    /** "*" or a comma-separated list of origins such as https://shop.example. */
    CICLO_CORS_ORIGINS: z
      .string()
      .transform((s) => (s.trim() === '*' ? ('*' as const) : list(s)))
      .default('*'),
    CICLO_DEFAULT_CURRENCY: z
      .string()
      .regex(/^[A-Z]{3}$/, 'must be a three-letter ISO 4217 code such as USD')
      .default('USD'),
    CICLO_COLLECTOR_SEND_TIMEOUT_MS: positiveInt('CICLO_COLLECTOR_SEND_TIMEOUT_MS').default(10_000),
    /** Calls per second per write key, or "off". */
    CICLO_RATE_LIMIT: z
      .string()
      .regex(/^(off|\d+)$/, 'must be calls per second per write key (a whole number), or off')
      .transform((v) => (v === 'off' ? ('off' as const) : Number(v)))
      .pipe(z.union([z.literal('off'), z.number().int().positive('must be > 0, or off')]))
      .optional(),
    /** Calls a key may send at once before the rate applies; default 10 seconds' worth. */
    CICLO_RATE_LIMIT_BURST: positiveInt('CICLO_RATE_LIMIT_BURST (calls)').optional(),
    /** Query parameters kept besides utm_*: "page,ref" (../edge/url-query-allowlist.ts). */
    CICLO_URL_QUERY_ALLOWLIST: UrlQueryAllowlistVariable,
    /** What of context.ip is kept: none, or truncated (IPv4 /24, IPv6 /48). */
    CICLO_COLLECTOR_IP: z.enum(IP_RETENTIONS, { error: 'must be none or truncated' }).default('none'),
  })
  .superRefine((env, ctx) => {
    const sources = new Set(env.CICLO_WRITE_KEYS.map((p) => p.source));
    for (const name of env.CICLO_SNIPPET_SOURCES) {
      if (!sources.has(name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['CICLO_SNIPPET_SOURCES'],
          message: `source "${name}" has no write key in CICLO_WRITE_KEYS`,
        });
      }
    }
  });

/** Reads the collector's variables from an environment record; throws CONFIG_INVALID naming each bad one. */
export function loadCollectorConfig(env: Readonly<Record<string, string | undefined>>): CollectorConfig {
  const parsed = CollectorEnvSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new CicloError('CONFIG_INVALID', `invalid collector environment:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const snippets = new Set(e.CICLO_SNIPPET_SOURCES);
  return collectorConfig({
    writeKeys: new Map(
      e.CICLO_WRITE_KEYS.map(({ source, key }) => [
        key,
        { name: source, kind: snippets.has(source) ? 'snippet' : 'api' },
      ]),
    ),
    bodyLimitBytes: e.CICLO_COLLECTOR_BODY_LIMIT,
    corsOrigins: e.CICLO_CORS_ORIGINS === '*' ? true : e.CICLO_CORS_ORIGINS,
    defaultCurrency: e.CICLO_DEFAULT_CURRENCY,
    sendTimeoutMs: e.CICLO_COLLECTOR_SEND_TIMEOUT_MS,
    rateLimit: rateLimitOf(e.CICLO_RATE_LIMIT, e.CICLO_RATE_LIMIT_BURST),
    urlQueryAllowlist: e.CICLO_URL_QUERY_ALLOWLIST,
    ipRetention: e.CICLO_COLLECTOR_IP,
  });
}

function rateLimitOf(rate: number | 'off' | undefined, burst: number | undefined): RateLimit | undefined {
  if (rate === 'off') return undefined;
  if (rate === undefined) return burst === undefined ? DEFAULT_RATE_LIMIT : { ...DEFAULT_RATE_LIMIT, burst };
  return { callsPerSecond: rate, burst: burst ?? rate * 10 };
}

/** A complete, frozen config from the given fields and the defaults (tests build theirs with it). */
export function collectorConfig(fields: Partial<CollectorConfig> = {}): CollectorConfig {
  return Object.freeze({
    writeKeys: fields.writeKeys ?? new Map<string, WriteKeyOwner>(),
    bodyLimitBytes: fields.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES,
    corsOrigins: fields.corsOrigins ?? true,
    defaultCurrency: fields.defaultCurrency ?? 'USD',
    sendTimeoutMs: fields.sendTimeoutMs ?? 10_000,
    retryAfterSeconds: fields.retryAfterSeconds ?? 5,
    rateLimit: 'rateLimit' in fields ? fields.rateLimit : DEFAULT_RATE_LIMIT,
    urlQueryAllowlist: Object.freeze([...(fields.urlQueryAllowlist ?? [])]),
    ipRetention: fields.ipRetention ?? 'none',
  });
}
