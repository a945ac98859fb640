/**
 * The snippet's entry point (bundled to dist/snippet/ciclo.min.js): wires the core to the browser
 * (localStorage with a cookie fallback, fetch, sendBeacon, timers, page lifecycle events), installs the
 * global `ciclo`, and replays the calls the loader stub queued before this script arrived.
 * The only file that touches window, document and navigator.
 */
import { Analytics, type LoadOptions } from '../core/analytics';
import { pageInfo } from '../core/calls';
import { memoryStore, type KeyValueStore, type Transport } from '../core/ports';
import { QUEUE_KEY_PREFIX } from '../core/queue';

const PREFIX = '[ciclo]';

function uuid(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  // crypto.randomUUID exists only in secure contexts; getRandomValues everywhere (RFC 9562 version 4).
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** localStorage, when the browser lets the page use it (it throws in some private modes and sandboxes). */
function localStore(): KeyValueStore | undefined {
  try {
    const ls = window.localStorage;
    const probe = `${PREFIX}probe`;
    ls.setItem(probe, '1');
    ls.removeItem(probe);
    return {
      get: (key) => ls.getItem(key),
      set: (key, value) => {
        try {
          ls.setItem(key, value);
          return true;
        } catch {
          return false; // quota exceeded
        }
      },
      remove: (key) => ls.removeItem(key),
      keys: () => Object.keys(ls),
    };
  } catch {
    return undefined;
  }
}

const cookieAttributes = `; path=/; SameSite=Lax${location.protocol === 'https:' ? '; Secure' : ''}`;

/** First-party cookies for the ids: a year, the whole site, not sent cross-site. */
const cookies: KeyValueStore = {
  get: (key) => {
    const name = `${encodeURIComponent(key)}=`;
    const found = document.cookie.split('; ').find((c) => c.startsWith(name));
    return found === undefined ? null : decodeURIComponent(found.slice(name.length));
  },
  set: (key, value) => {
    document.cookie = `${encodeURIComponent(key)}=${encodeURIComponent(value)}; max-age=31536000${cookieAttributes}`;
    return true;
  },
  remove: (key) => {
    document.cookie = `${encodeURIComponent(key)}=; max-age=0${cookieAttributes}`;
  },
  keys: () => [],
};

/**
 * Ids in both: localStorage first, the cookie when localStorage was cleared (or is unavailable); reading
 * puts the id back into whichever of the two lost it.
 */
function both(primary: KeyValueStore | undefined, fallback: KeyValueStore): KeyValueStore {
  if (!primary) return fallback;
  return {
    get: (key) => {
      const p = primary.get(key);
      const f = fallback.get(key);
      if (p !== null && f !== p) fallback.set(key, p);
      if (p === null && f !== null) primary.set(key, f);
      return p ?? f;
    },
    set: (key, value) => primary.set(key, value) && fallback.set(key, value),
    remove: (key) => {
      primary.remove(key);
      fallback.remove(key);
    },
    keys: () => primary.keys(),
  };
}

const transport: Transport = {
  async post(url, body, keepalive) {
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'text/plain' },
        body,
        keepalive,
        credentials: 'omit',
      });
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      return { status: res.status, retryAfter: res.headers.get('Retry-After'), body: parsed };
    } catch {
      return undefined;
    }
  },
  beacon(url, body) {
    try {
      return navigator.sendBeacon(url, new Blob([body], { type: 'text/plain' }));
    } catch {
      return false;
    }
  },
};

type Method = 'load' | 'page' | 'identify' | 'track' | 'alias' | 'flush' | 'reset' | 'user';

function install(): void {
  const w = window as unknown as { ciclo?: unknown };
  const existing = w.ciclo;
  if (existing && !Array.isArray(existing)) return; // loaded twice: the first one holds
  const stub = Array.isArray(existing) ? (existing as unknown[][]) : [];

  // The collector this script came from: the default host.
  const script = document.currentScript as HTMLScriptElement | null;
  let defaultHost: string | undefined;
  try {
    defaultHost = script?.src ? new URL(script.src).origin : undefined;
  } catch {
    defaultHost = undefined;
  }

  const local = localStore();
  const analytics = new Analytics({
    queueStore: local ?? memoryStore(),
    identityStore: both(local, cookies),
    queueKey: QUEUE_KEY_PREFIX + uuid(),
    transport,
    timers: { set: (fn, ms) => setTimeout(fn, ms), clear: (h) => clearTimeout(h as number) },
    clock: () => Date.now(),
    random: Math.random,
    uuid,
    report: (level, message, detail) =>
      detail === undefined ? console[level](PREFIX, message) : console[level](PREFIX, message, detail),
    page: () => pageInfo(location, document.referrer, document.title),
    userAgent: navigator.userAgent,
    locale: navigator.language,
    defaultHost,
  });

  const api = {
    load: (options: LoadOptions) => analytics.load(options),
    page: (...args: unknown[]) => analytics.page(...args),
    identify: (userId?: unknown, traits?: unknown) => analytics.identify(userId, traits),
    track: (event: unknown, properties?: unknown) => analytics.track(event, properties),
    alias: (userId: unknown, previousId?: unknown) => analytics.alias(userId, previousId),
    flush: () => analytics.flush(),
    reset: () => analytics.reset(),
    user: () => analytics.user(),
  } satisfies Record<Method, unknown>;
  w.ciclo = api;

  const { lifecycle } = analytics;
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') lifecycle.hidden();
  });
  window.addEventListener('pagehide', () => lifecycle.pageHidden());
  window.addEventListener('pageshow', (e) => {
    if (e.persisted) lifecycle.pageShown();
  });
  window.addEventListener('online', () => lifecycle.online());

  for (const entry of stub) {
    const [method, ...args] = entry as [Method, ...unknown[]];
    const fn = api[method] as ((...a: unknown[]) => unknown) | undefined;
    if (typeof fn === 'function') fn(...args);
  }
}

install();
