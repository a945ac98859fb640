/**
 * Delivery of calls to the collector's /v1/batch: queue, batch, send, settle, retry.
 *
 * Consumes calls made by the page. Produces `/v1/batch` requests (text/plain JSON with the write key in the
 * body: a CORS "simple request", so no preflight). Guarantee: at-least-once. A call is stored (localStorage)
 * before anything is sent and leaves the queue only when the collector answered for it: accepted (2xx), or
 * rejected for good (400 naming it, 413 alone), which is reported on the console with the collector's
 * reasons. Everything else (no answer, 429, 5xx, other 4xx) is retried with backoff, across page loads.
 * Calls pending when the page goes away are also sent with sendBeacon and kept: the next page sends them
 * again, and their messageId (hence eventId) makes the copy a duplicate that downstream drops.
 *
 * Batches go out when `flushAt` calls are waiting, or `flushInterval` ms after the first, and at once when
 * the page is hidden; never more than one request at a time, so calls arrive in order.
 */
import { nextDelay, retryAfterMs, type RetryPolicy } from './backoff';
import type { Call } from './calls';
import type { KeyValueStore, Report, Timers, Transport } from './ports';
import {
  QUEUE_KEY_PREFIX,
  enqueue,
  isAbandoned,
  utf8Bytes,
  merge,
  parseQueue,
  takeBatch,
  without,
  type QueueLimits,
} from './queue';
import { settle } from './settle';

export interface DeliverySettings {
  readonly writeKey: string;
  /** The collector's base URL, e.g. https://collect.example.com */
  readonly host: string;
  readonly flushAt: number;
  readonly flushInterval: number;
  readonly retry: RetryPolicy;
  readonly limits: QueueLimits;
  /** Calls per batch at most (the collector's body limit is 512 KB; maxBatchBytes keeps under it). */
  readonly maxBatchCalls: number;
  readonly maxBatchBytes: number;
  /** Bodies up to this size go with `keepalive` (fetch) or as beacons: browsers allow 64 KB in flight. */
  readonly keepaliveBytes: number;
  /** Another page's queue not acknowledged for this long is taken over (see queue.ts). */
  readonly staleMs: number;
}

export interface DeliveryDeps {
  readonly store: KeyValueStore;
  readonly transport: Transport;
  readonly timers: Timers;
  readonly clock: () => number;
  readonly random: () => number;
  readonly report: Report;
  /** This page's own key in the store (QUEUE_KEY_PREFIX + a random page id). */
  readonly queueKey: string;
}

export class Delivery {
  private items: Call[] = [];
  private readonly inFlight = new Set<string>();
  private settings: DeliverySettings | undefined;
  /** Consecutive attempts without an answer that settled anything; 0 while the collector answers. */
  private failures = 0;
  /** No automatic attempt before this time (ms): the current backoff. */
  private notBefore = 0;
  private timer: unknown;
  private timerAt = Infinity;
  private draining: Promise<boolean> | undefined;
  private maxCalls = Infinity;
  private released = false;
  /** Whether this page's queue is in the store now (written, not removed). */
  private stored = false;
  private readonly reported = new Set<string>();

  constructor(private readonly deps: DeliveryDeps) {}

  /** Calls waiting (including those in flight). */
  get pending(): readonly Call[] {
    return this.items;
  }

  /** Starts sending: takes over queues abandoned by closed pages, then sends what is waiting. */
  start(settings: DeliverySettings): void {
    this.settings = settings;
    this.maxCalls = settings.maxBatchCalls;
    const { store, clock } = this.deps;
    for (const key of store.keys()) {
      if (!key.startsWith(QUEUE_KEY_PREFIX) || key === this.deps.queueKey) continue;
      const queue = parseQueue(store.get(key));
      if (queue && !isAbandoned(queue, clock(), settings.staleMs)) continue;
      if (queue) this.items = merge(this.items, queue.items);
      store.remove(key);
    }
    this.persist();
    if (this.items.length > 0) this.wake(0);
  }

  add(call: Call, limits: QueueLimits): void {
    this.dropIfTakenOver();
    const { items, dropped } = enqueue(this.items, call, limits);
    for (const d of dropped) {
      this.deps.report(
        'error',
        d === call
          ? `call dropped: larger than ${limits.maxCallBytes} bytes`
          : `queue full (${limits.maxItems} calls): oldest call dropped`,
        { messageId: d.messageId, type: d.type, event: d.event },
      );
    }
    this.items = items;
    this.persist();
    if (this.settings) this.wake(items.length >= this.settings.flushAt ? 0 : this.settings.flushInterval);
  }

  /** Sends everything now, backoff or not; true once the queue is empty. */
  flush(): Promise<boolean> {
    this.notBefore = 0;
    return this.drain();
  }

  /** The page is hidden (maybe for good): send now, unless the collector is known to be down. */
  hidden(): void {
    if (this.failures === 0) void this.drain();
  }

  /**
   * The page is going away (pagehide): beacon what is not in flight, unless the collector is known to be
   * down, and release the queue so the next page load takes it over at once.
   */
  pageHidden(): void {
    const s = this.settings;
    if (s && this.failures === 0) {
      const beaconed = new Set<string>();
      for (;;) {
        const chunk = takeBatch(
          this.items,
          new Set([...this.inFlight, ...beaconed]),
          s.maxBatchCalls,
          s.keepaliveBytes,
        );
        if (chunk.length === 0) break;
        const body = this.body(chunk, s);
        if (utf8Bytes(body) > s.keepaliveBytes || !this.deps.transport.beacon(this.url(s), body)) break;
        for (const c of chunk) beaconed.add(c.messageId);
      }
    }
    this.released = true;
    this.persist();
  }

  /** The page came back from the back/forward cache: own the queue again, unless another page took it. */
  pageShown(): void {
    this.released = false;
    this.persist();
    if (this.items.length > 0) this.wake(0);
  }

  /** The browser is back online: whatever the backoff says, try now. */
  online(): void {
    this.failures = 0;
    this.notBefore = 0;
    this.wake(0);
  }

  private url(s: DeliverySettings): string {
    return `${s.host.replace(/\/+$/, '')}/v1/batch`;
  }

  private body(batch: readonly Call[], s: DeliverySettings): string {
    return JSON.stringify({ batch, sentAt: new Date(this.deps.clock()).toISOString(), writeKey: s.writeKey });
  }

  /**
   * Another page took this queue over (it looked abandoned, or this page had released it): its calls are
   * that page's now, and sending or storing them here again would duplicate them.
   */
  private dropIfTakenOver(): void {
    if (!this.stored || this.deps.store.get(this.deps.queueKey) !== null) return;
    this.items = [];
    this.stored = false;
  }

  private persist(): void {
    const { store, queueKey, clock } = this.deps;
    this.dropIfTakenOver();
    if (this.items.length === 0) {
      this.stored = false;
      return store.remove(queueKey);
    }
    this.stored = store.set(
      queueKey,
      JSON.stringify({ ack: this.released ? 0 : clock(), items: this.items }),
    );
    if (!this.stored)
      this.reportOnce('storage', 'warn', 'could not store the queue: calls are kept in memory only');
  }

  private reportOnce(key: string, level: 'warn' | 'error', message: string, detail?: unknown): void {
    if (this.reported.has(key)) return;
    this.reported.add(key);
    this.deps.report(level, message, detail);
  }

  /** Makes sure an attempt happens in `delay` ms (or when the backoff ends, if later). */
  private wake(delay: number): void {
    const now = this.deps.clock();
    const at = Math.max(now + delay, this.notBefore);
    if (this.timer !== undefined && this.timerAt <= at) return;
    if (this.timer !== undefined) this.deps.timers.clear(this.timer);
    this.timerAt = at;
    this.timer = this.deps.timers.set(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      void this.drain();
    }, at - now);
  }

  private drain(): Promise<boolean> {
    // A released queue belongs to the next page that takes it over: this one sends nothing more.
    if (!this.settings || this.released) return Promise.resolve(this.items.length === 0);
    this.draining ??= this.sendAll(this.settings).finally(() => {
      this.draining = undefined;
    });
    return this.draining;
  }

  /** Sends batch after batch until the queue is empty (true) or an attempt fails and a retry is set (false). */
  private async sendAll(s: DeliverySettings): Promise<boolean> {
    for (;;) {
      if (this.released) return false;
      this.dropIfTakenOver();
      const batch = takeBatch(this.items, this.inFlight, this.maxCalls, s.maxBatchBytes);
      if (batch.length === 0) return this.items.length === 0;
      if (!(await this.send(batch, s))) return false;
    }
  }

  /** One request; true when it settled its calls (or some of them), false when they wait for a retry. */
  private async send(batch: readonly Call[], s: DeliverySettings): Promise<boolean> {
    const { transport, clock, random, report } = this.deps;
    const ids = batch.map((c) => c.messageId);
    const body = this.body(batch, s);
    for (const id of ids) this.inFlight.add(id);
    let answer;
    try {
      answer = await transport.post(this.url(s), body, utf8Bytes(body) <= s.keepaliveBytes);
    } finally {
      for (const id of ids) this.inFlight.delete(id);
    }
    const settlement = settle(answer, batch);
    switch (settlement.kind) {
      case 'delivered':
        for (const { call, reasons } of settlement.dropped) {
          report('error', 'the collector rejected a call; it was dropped', {
            messageId: call.messageId,
            type: call.type,
            event: call.event,
            reasons,
          });
        }
        this.settled(new Set(ids));
        return true;
      case 'rejected':
        for (const { call, reasons } of settlement.dropped) {
          report('error', 'the collector rejected a call; it was dropped', {
            messageId: call.messageId,
            type: call.type,
            event: call.event,
            reasons,
          });
        }
        this.settled(new Set(settlement.dropped.map((d) => d.call.messageId)));
        return true;
      case 'too-large':
        if (batch.length > 1) {
          this.maxCalls = Math.ceil(batch.length / 2);
          return true;
        }
        report('error', 'the collector refused a call as too large; it was dropped', { messageId: ids[0] });
        this.settled(new Set(ids));
        return true;
      case 'retry':
      case 'refused': {
        if (settlement.kind === 'refused') {
          this.reportOnce(
            `refused:${settlement.status}`,
            'error',
            `the collector refused the calls (${settlement.status} ${settlement.code ?? ''}): check writeKey and host; they are kept and retried`,
          );
        }
        this.failures += 1;
        const delay =
          settlement.kind === 'refused'
            ? s.retry.maxMs
            : nextDelay(this.failures, random, s.retry, retryAfterMs(settlement.retryAfter, clock()));
        this.notBefore = clock() + delay;
        this.persist();
        this.wake(delay);
        return false;
      }
      default: {
        const unreachable: never = settlement;
        throw new Error(`unknown settlement ${JSON.stringify(unreachable)}`);
      }
    }
  }

  private settled(messageIds: ReadonlySet<string>): void {
    this.failures = 0;
    this.notBefore = 0;
    this.items = without(this.items, messageIds);
    this.persist();
  }
}
