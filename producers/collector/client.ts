/**
 * A sender of Segment calls to a ciclo collector (`/v1/batch`), for the simulator, the demo and the
 * collector benchmark: what a server-side Segment library does. Batches are sent with a few in flight; a 503,
 * a 429 (rate limit) or a refused connection is retried after the collector's Retry-After (else exponential
 * backoff with jitter), because the collector answers so exactly when it kept nothing and will take the
 * events later. A 400, 401, 403 or 413 is not retried, and neither is a 2xx that lists calls the collector
 * refused (`rejected`): these senders make calls the collector must take, so it is a bug or a wrong key,
 * and the error says which events and why.
 */
import { CicloError } from '../../infra/errors';

export interface CollectorTarget {
  /** Base URL, e.g. http://127.0.0.1:8090 */
  readonly url: string;
  readonly writeKey: string;
}

export interface SendReport {
  readonly accepted: number;
  readonly requests: number;
  /** Requests answered 503 or failed to connect, and sent again. */
  readonly retries: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Retry-After in seconds (the collector's form) or an HTTP date, to milliseconds. */
function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

export interface SendOptions {
  /** Calls per request (default 200). */
  batchSize?: number;
  /**
   * Requests in flight (default 1: in order). With more, a request can overtake the one before it, and a
   * processor without a grace period at least that long applies the overtaken touchpoints as late.
   */
  concurrency?: number;
  /** Give up on one batch after this long of retrying. */
  retryForMs?: number;
  onProgress?: (accepted: number, total: number) => void;
}

/** One `/v1/batch` request body, ready to send: calls first..first+count-1 of what was prepared. */
export interface PreparedBatch {
  readonly first: number;
  readonly count: number;
  readonly body: string;
}

/**
 * The calls as `/v1/batch` request bodies of up to batchSize calls each, serialised once: for a sender
 * that sends the same calls more than once (a benchmark), so that its requests cost it no JSON work.
 */
export function prepareBatches(calls: readonly unknown[], batchSize = DEFAULT_BATCH_SIZE): PreparedBatch[] {
  const batches: PreparedBatch[] = [];
  for (let first = 0; first < calls.length; first += batchSize) {
    const batch = calls.slice(first, first + batchSize);
    batches.push({ first, count: batch.length, body: JSON.stringify({ batch }) });
  }
  return batches;
}

export function sendToCollector(
  target: CollectorTarget,
  calls: readonly unknown[],
  options: SendOptions = {},
): Promise<SendReport> {
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  // Each body is built when its turn comes, so a large send never holds all of them at once.
  const batches = Math.ceil(calls.length / batchSize);
  return send(
    target,
    calls.length,
    batches,
    (i) => {
      const first = i * batchSize;
      const batch = calls.slice(first, first + batchSize);
      return { first, count: batch.length, body: JSON.stringify({ batch }) };
    },
    options,
  );
}

/** sendToCollector for bodies built beforehand (prepareBatches); options.batchSize does not apply. */
export function sendPreparedToCollector(
  target: CollectorTarget,
  batches: readonly PreparedBatch[],
  options: Omit<SendOptions, 'batchSize'> = {},
): Promise<SendReport> {
  const total = batches.reduce((n, b) => n + b.count, 0);
  return send(target, total, batches.length, (i) => batches[i]!, options);
}

const DEFAULT_BATCH_SIZE = 200;

/** Whether a 2xx answer lists calls the collector refused (dead-lettered or forbidden). */
function refusedIn(answer: string): boolean {
  try {
    const rejected = (JSON.parse(answer) as { rejected?: unknown } | null)?.rejected;
    return Array.isArray(rejected) && rejected.length > 0;
  } catch {
    return false;
  }
}

async function send(
  target: CollectorTarget,
  total: number,
  batchCount: number,
  batchAt: (i: number) => PreparedBatch,
  options: SendOptions,
): Promise<SendReport> {
  const concurrency = options.concurrency ?? 1;
  const retryForMs = options.retryForMs ?? 120_000;
  const endpoint = `${target.url.replace(/\/$/, '')}/v1/batch`;
  const authorization = `Basic ${Buffer.from(`${target.writeKey}:`).toString('base64')}`;
  let accepted = 0;
  let requests = 0;
  let retries = 0;
  let next = 0;

  const sendBatch = async ({ first, count, body }: PreparedBatch): Promise<void> => {
    const giveUpAt = Date.now() + retryForMs;
    for (let attempt = 0; ; attempt++) {
      let status: number;
      let wait: number | undefined;
      let detail: string;
      try {
        requests += 1;
        const res = await fetch(endpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization },
          body,
        });
        status = res.status;
        detail = await res.text();
        const refused = status >= 200 && status < 300 ? refusedIn(detail) : false;
        if (status >= 200 && status < 300 && !refused) {
          accepted += count;
          options.onProgress?.(accepted, total);
          return;
        }
        if (refused || status === 400 || status === 401 || status === 403 || status === 413)
          throw new CicloError(
            'COLLECTOR_REFUSED',
            `the collector at ${endpoint} answered ${status} for events ${first}-${first + count - 1}: ${detail.slice(0, 2000)}`,
          );
        wait = retryAfterMs(res.headers.get('retry-after'));
      } catch (err) {
        if (err instanceof CicloError) throw err;
        status = 0;
        detail = (err as Error).message;
      }
      if (Date.now() > giveUpAt)
        throw new CicloError(
          'COLLECTOR_UNAVAILABLE',
          `the collector at ${endpoint} did not accept events ${first}-${first + count - 1} in ${retryForMs / 1000}s (last: ${status || 'no connection'} ${detail.slice(0, 300)})`,
          { retriable: true },
        );
      retries += 1;
      const backoff = Math.min(10_000, 200 * 2 ** attempt);
      await sleep(wait ?? backoff / 2 + Math.random() * (backoff / 2));
    }
  };

  const worker = async (): Promise<void> => {
    while (next < batchCount) await sendBatch(batchAt(next++));
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, batchCount) }, worker));
  return { accepted, requests, retries };
}
