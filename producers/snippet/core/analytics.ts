/**
 * The public API, as analytics.js has it (https://segment.com/docs/connections/sources/catalog/libraries/website/javascript/):
 * `load`, `page`, `identify`, `track`, `alias`, `flush`, `reset`, `user`. Calls made before `load` are
 * queued (and stored) and go out once the write key and host are known.
 *
 * Identity: an anonymous id, made once per browser and kept in localStorage with a cookie as fallback
 * (either survives the other being cleared), and the user id given to `identify`, sent with every call.
 */
import { MAX_RETRY_AFTER_MS, type RetryPolicy } from './backoff';
import {
  isProperties,
  makeCall,
  minimizedPage,
  pageFields,
  type Call,
  type CallType,
  type PageInfo,
  type Properties,
} from './calls';
import { Delivery, type DeliveryDeps, type DeliverySettings } from './delivery';
import type { KeyValueStore } from './ports';
import { DEFAULT_LIMITS } from './queue';

export const ANONYMOUS_ID_KEY = 'ciclo.anonymousId';
export const USER_ID_KEY = 'ciclo.userId';

/** What a site passes to `ciclo.load`. */
export interface LoadOptions {
  /** The write key of a snippet source (CICLO_WRITE_KEYS, listed in CICLO_SNIPPET_SOURCES). */
  readonly writeKey: string;
  /** The collector's base URL; defaults to where the snippet was loaded from. */
  readonly host?: string;
  /** Send as soon as this many calls wait (default 20). */
  readonly flushAt?: number;
  /** Send this long after the first waiting call, in ms (default 1000). */
  readonly flushInterval?: number;
  /** The longest wait between retries, in ms (default 30000). */
  readonly maxRetryDelay?: number;
  /**
   * Query parameters page URLs keep besides `utm_*` (default none), as the collector's
   * CICLO_URL_QUERY_ALLOWLIST: the others never leave the browser.
   */
  readonly queryAllowlist?: readonly string[];
}

const DEFAULTS = {
  flushAt: 20,
  flushInterval: 1000,
  retry: { baseMs: 1000, maxMs: 30_000 } satisfies RetryPolicy,
  maxBatchCalls: 100,
  maxBatchBytes: 450 * 1024,
  keepaliveBytes: 60 * 1024,
  // Longer than the longest wait between two attempts (a Retry-After, up to 10 minutes), during which a
  // page with calls waiting does not touch its queue.
  staleMs: MAX_RETRY_AFTER_MS + 5 * 60_000,
};

export interface AnalyticsDeps extends Omit<DeliveryDeps, 'store'> {
  /** Where the queue is kept: localStorage, or memory without it. */
  readonly queueStore: KeyValueStore;
  /** Where the ids are kept: localStorage with a cookie fallback. */
  readonly identityStore: KeyValueStore;
  readonly uuid: () => string;
  /** The page as it is now. */
  readonly page: () => PageInfo;
  readonly userAgent?: string | undefined;
  readonly locale?: string | undefined;
  /** The collector the snippet came from, when known. */
  readonly defaultHost?: string | undefined;
}

const positive = (v: unknown, fallback: number): number =>
  typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : fallback;

/** Options to settings, or the problem with them. */
export function settingsFrom(
  options: unknown,
  defaultHost: string | undefined,
): DeliverySettings | { problem: string } {
  const o = (isProperties(options) ? options : {}) as Partial<Record<keyof LoadOptions, unknown>>;
  if (typeof o.writeKey !== 'string' || o.writeKey === '') return { problem: 'load needs { writeKey }' };
  const host = typeof o.host === 'string' && o.host !== '' ? o.host : defaultHost;
  if (!host || !/^https?:\/\/[^/]/.test(host))
    return { problem: `load needs { host } as the collector's http(s) URL, got ${String(host)}` };
  const maxMs = positive(o.maxRetryDelay, DEFAULTS.retry.maxMs);
  return {
    ...DEFAULTS,
    writeKey: o.writeKey,
    host,
    flushAt: positive(o.flushAt, DEFAULTS.flushAt),
    flushInterval: positive(o.flushInterval, DEFAULTS.flushInterval),
    retry: { baseMs: Math.min(DEFAULTS.retry.baseMs, maxMs), maxMs },
    limits: DEFAULT_LIMITS,
  };
}

export class Analytics {
  private readonly delivery: Delivery;
  private loaded = false;
  /** Until load says otherwise, calls keep only `utm_*` parameters. */
  private queryAllowlist: readonly string[] = [];

  constructor(private readonly deps: AnalyticsDeps) {
    this.delivery = new Delivery({ ...deps, store: deps.queueStore });
  }

  load(options: LoadOptions): void {
    if (this.loaded) return this.deps.report('warn', 'load was called more than once; the first one holds');
    const settings = settingsFrom(options, this.deps.defaultHost);
    if ('problem' in settings) return this.deps.report('error', settings.problem);
    this.loaded = true;
    const allowlist: unknown = options.queryAllowlist; // a page's script: checked, not trusted
    if (Array.isArray(allowlist))
      this.queryAllowlist = allowlist.filter((name): name is string => typeof name === 'string');
    this.delivery.start(settings);
  }

  /** `page()`, `page(name)`, `page(name, properties)`, `page(category, name, properties)`, `page(properties)`. */
  page(...args: unknown[]): void {
    const page = this.currentPage();
    this.enqueue('page', pageFields(args, page, this.queryAllowlist), page);
  }

  /** `identify(userId, traits)`, or `identify(traits)` for the current user. */
  identify(userIdOrTraits?: unknown, traits?: unknown): void {
    const given = typeof userIdOrTraits === 'number' ? String(userIdOrTraits) : userIdOrTraits;
    if (typeof given === 'string' && given !== '') this.deps.identityStore.set(USER_ID_KEY, given);
    const t = isProperties(given) ? given : traits;
    this.enqueue('identify', isProperties(t) ? { traits: t } : {});
  }

  track(event: unknown, properties?: unknown): void {
    if (typeof event !== 'string' || event === '')
      return this.deps.report('error', 'track needs an event name', { event });
    this.enqueue('track', { event, ...(isProperties(properties) ? { properties } : {}) });
  }

  /**
   * Merges `previousId` (default: this browser's anonymous id) into `userId`. The collector takes from a
   * browser's key only an alias of the call's own anonymous id (producers/collector/rights.ts): an alias of
   * a user id could merge two customers, and belongs to a server.
   */
  alias(userId: unknown, previousId?: unknown): void {
    const to = typeof userId === 'number' ? String(userId) : userId;
    if (typeof to !== 'string' || to === '')
      return this.deps.report('error', 'alias needs a userId', { userId });
    const from =
      typeof previousId === 'string' || typeof previousId === 'number'
        ? String(previousId)
        : this.anonymousId();
    this.enqueue('alias', { userId: to, previousId: from });
  }

  /** Sends what is waiting now; resolves true once nothing is waiting. */
  flush(): Promise<boolean> {
    return this.delivery.flush();
  }

  /** Forgets the user (logout): no user id, a new anonymous id. Queued calls keep their ids. */
  reset(): void {
    this.deps.identityStore.remove(USER_ID_KEY);
    this.deps.identityStore.set(ANONYMOUS_ID_KEY, this.deps.uuid());
  }

  user(): { userId: string | undefined; anonymousId: string } {
    return { userId: this.userId(), anonymousId: this.anonymousId() };
  }

  /** The browser's lifecycle, wired by browser/main.ts. */
  get lifecycle(): Pick<Delivery, 'hidden' | 'pageHidden' | 'pageShown' | 'online' | 'pending'> {
    return this.delivery;
  }

  private userId(): string | undefined {
    return this.deps.identityStore.get(USER_ID_KEY) ?? undefined;
  }

  private anonymousId(): string {
    const stored = this.deps.identityStore.get(ANONYMOUS_ID_KEY);
    if (stored) return stored;
    const id = this.deps.uuid();
    this.deps.identityStore.set(ANONYMOUS_ID_KEY, id);
    return id;
  }

  /** The page as calls carry it: its URLs minimized (calls.ts, minimizedPage). */
  private currentPage(): PageInfo {
    return minimizedPage(this.deps.page(), this.queryAllowlist);
  }

  private enqueue(type: CallType, fields: Partial<Call>, page: PageInfo = this.currentPage()): void {
    const call = makeCall(
      type,
      {
        messageId: `ciclo-${this.deps.uuid()}`,
        now: this.deps.clock(),
        anonymousId: this.anonymousId(),
        userId: this.userId(),
        page,
        userAgent: this.deps.userAgent,
        locale: this.deps.locale,
      },
      fields,
    );
    this.delivery.add(call, DEFAULT_LIMITS);
  }
}

export type { Properties };
