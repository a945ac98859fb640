/**
 * What a collector answer means for the calls of a batch (producers/collector/README.md, "Answers"):
 * - 2xx: delivered, Kafka has them.
 * - 400: the collector produced none of them and lists each problem with its path, `batch.<i>.<field>`.
 *   The calls it names can never succeed: they are dropped, with the collector's reasons; the others are
 *   sent again at once. A problem naming no call (an unreadable body) drops the whole batch.
 * - 413: the batch is too large; it is split (or, a single call, dropped).
 * - 429, 5xx, no answer: transient, retried with backoff, honouring Retry-After.
 * - any other 4xx (401 unknown write key, 404 wrong host): the calls are fine but the configuration is not;
 *   they are kept and retried at the longest backoff, so they go out once it is fixed.
 * Pure.
 */
import type { Call } from './calls';

export interface CollectorAnswer {
  readonly status: number;
  /** The Retry-After header, as sent. */
  readonly retryAfter: string | null;
  /** The parsed JSON body, when there was one. */
  readonly body: unknown;
}

export interface DroppedCall {
  readonly call: Call;
  readonly reasons: readonly string[];
}

export type Settlement =
  | { readonly kind: 'delivered' }
  | { readonly kind: 'rejected'; readonly dropped: readonly DroppedCall[] }
  | { readonly kind: 'too-large' }
  | { readonly kind: 'retry'; readonly retryAfter: string | null }
  | { readonly kind: 'refused'; readonly status: number; readonly code: string | undefined };

interface Problem {
  path?: unknown;
  message?: unknown;
}

function problemsOf(body: unknown): Problem[] {
  const problems = (body as { problems?: unknown } | null)?.problems;
  return Array.isArray(problems) ? (problems as Problem[]) : [];
}

function reasonOf(p: Problem): string {
  return `${typeof p.path === 'string' ? p.path : ''}: ${typeof p.message === 'string' ? p.message : 'invalid'}`;
}

/** `answer` is undefined when the request got no answer (network error, collector down). */
export function settle(answer: CollectorAnswer | undefined, batch: readonly Call[]): Settlement {
  if (!answer) return { kind: 'retry', retryAfter: null };
  const { status } = answer;
  if (status >= 200 && status < 300) return { kind: 'delivered' };
  if (status === 429 || status >= 500) return { kind: 'retry', retryAfter: answer.retryAfter };
  if (status === 413) return { kind: 'too-large' };
  if (status === 400) {
    const byIndex = new Map<number, string[]>();
    const unattributed: string[] = [];
    for (const p of problemsOf(answer.body)) {
      const m = typeof p.path === 'string' ? /^batch\.(\d+)(\.|$)/.exec(p.path) : null;
      const index = m ? Number(m[1]) : -1;
      if (index >= 0 && index < batch.length)
        byIndex.set(index, [...(byIndex.get(index) ?? []), reasonOf(p)]);
      else unattributed.push(reasonOf(p));
    }
    if (byIndex.size === 0) {
      const reasons = unattributed.length > 0 ? unattributed : ['the collector refused the request (400)'];
      return { kind: 'rejected', dropped: batch.map((call) => ({ call, reasons })) };
    }
    return {
      kind: 'rejected',
      dropped: [...byIndex].map(([i, reasons]) => ({ call: batch[i]!, reasons })),
    };
  }
  const code = (answer.body as { code?: unknown } | null)?.code;
  return { kind: 'refused', status, code: typeof code === 'string' ? code : undefined };
}
