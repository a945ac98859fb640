/**
 * What the snippet's core needs from the browser, as small interfaces, so the core runs (and is unit-tested)
 * in Node with fakes and browser/main.ts is the only code that touches window, document and navigator.
 */
import type { CollectorAnswer } from './settle';

/** localStorage (or a cookie, or memory) as strings; `set` answers false when the value was not stored. */
export interface KeyValueStore {
  get(key: string): string | null;
  set(key: string, value: string): boolean;
  remove(key: string): void;
  keys(): string[];
}

export interface Transport {
  /** POST `body` as text/plain; undefined when no answer came (network error, collector down). */
  post(url: string, body: string, keepalive: boolean): Promise<CollectorAnswer | undefined>;
  /** navigator.sendBeacon with a text/plain Blob; false when the browser would not queue it. */
  beacon(url: string, body: string): boolean;
}

export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

/** The console, behind a seam: problems the site's developer should see (dropped calls, bad config). */
export type Report = (level: 'warn' | 'error', message: string, detail?: unknown) => void;

/** A store in memory, for when localStorage is unavailable (disabled, sandboxed iframes) and for tests. */
export function memoryStore(): KeyValueStore {
  const map = new Map<string, string>();
  return {
    get: (key) => map.get(key) ?? null,
    set: (key, value) => (map.set(key, value), true),
    remove: (key) => void map.delete(key),
    keys: () => [...map.keys()],
  };
}
