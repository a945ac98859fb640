/**
 * What a collector answer means for the calls of a batch (producers/collector/README.md, "Answers"):
 * - 2xx: delivered: Kafka has them. The collector judges each call; those it lists under `rejected`
 *   (dead-lettered as invalid, or forbidden for a browser's key) are done too, and reported with its reasons.
 * - 400, 403: the collector produced none of them and lists each problem with its path, `batch.<i>.<field>`.
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
  /** `dropped`: the calls the collector took but refused (dead-lettered or forbidden), to report. */
  | { readonly kind: 'delivered'; readonly dropped: readonly DroppedCall[] }
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

/** The calls a 2xx answer lists as refused (`rejected: [{index, outcome, problems}]`), with the reasons. */
function refusedIn(body: unknown, batch: readonly Call[]): DroppedCall[] {
  const rejected = (body as { rejected?: unknown } | null)?.rejected;
  if (!Array.isArray(rejected)) return [];
  const dropped: DroppedCall[] = [];
  for (const r of rejected as { index?: unknown; outcome?: unknown; problems?: unknown }[]) {
    const call = typeof r.index === 'number' ? batch[r.index] : undefined;
    if (!call) continue;
    const problems = Array.isArray(r.problems) ? (r.problems as Problem[]) : [];
    const outcome = typeof r.outcome === 'string' ? r.outcome : 'rejected';
    dropped.push({ call, reasons: [outcome, ...problems.map(reasonOf)] });
  }
  return dropped;
}

/** `answer` is undefined when the request got no answer (network error, collector down). */
export function settle(answer: CollectorAnswer | undefined, batch: readonly Call[]): Settlement {
  if (!answer) return { kind: 'retry', retryAfter: null };
  const { status } = answer;
  if (status >= 200 && status < 300) return { kind: 'delivered', dropped: refusedIn(answer.body, batch) };
  if (status === 429 || status >= 500) return { kind: 'retry', retryAfter: answer.retryAfter };
  if (status === 413) return { kind: 'too-large' };
  if (status === 400 || status === 403) {
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
      const reasons =
        unattributed.length > 0 ? unattributed : [`the collector refused the request (${status})`];
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
