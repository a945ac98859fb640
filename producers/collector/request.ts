/**
 * A Segment request judged call by call, so that one bad call never takes good ones with it (Snowplow's
 * "non-lossy" rule; Segment's libraries treat a 400 as final and drop the whole batch). Each call of a
 * batch, or the one call of /v1/track and the like, gets one verdict:
 *
 * - `accepted`: mapped to a touchpoint (mapping.ts), to produce;
 * - `ignored`: a call ciclo records nowhere (`group`, segment.ts IGNORED_CALL_TYPES), answered 2xx;
 * - `invalid`: every problem with it, and the call as sent, for the dead-letter topic: nothing is lost;
 * - `forbidden`: a call the write key may not send (rights.ts), written nowhere.
 *
 * Only a body that is no request at all (a batch without a list of calls, a shared context nested too
 * deep) is refused whole. Problems carry the field's path in the request (`batch.3.properties.total`).
 * Pure: the HTTP layer (routes.ts) publishes and answers (answer.ts).
 */
import type { Touchpoint } from '../../schemas/touchpoint';
import { validateWith, type ValidationProblem } from '../../schemas/validation';
import { markContractChecked, prefixProblems } from '../edge/check';
import { cutAt, MAX_CALL_DEPTH, nestsDeeperThan } from './depth';
import { isObject } from './draft';
import { mapSegmentCall, type BatchEnvelope, type ClampedTime, type CollectContext } from './mapping';
import { forbiddenCall } from './rights';
import {
  ANY_CALL_TYPES,
  isCallType,
  SegmentBatch,
  SegmentGroup,
  sentAtMillis,
  type AnyCallType,
  type IgnoredCallType,
} from './segment';

export type CallVerdict =
  | {
      readonly kind: 'accepted';
      readonly index: number;
      readonly touchpoint: Touchpoint;
      readonly clamped?: ClampedTime;
    }
  | {
      readonly kind: 'ignored';
      readonly index: number;
      readonly type: IgnoredCallType;
      readonly reason: string;
    }
  | {
      readonly kind: 'invalid';
      readonly index: number;
      /** The call as sent (cut at MAX_CALL_DEPTH when it nests deeper), for its dead letter. */
      readonly call: unknown;
      /** Where the call is in the request: `batch.<index>`, or the route's type for a single call. */
      readonly at: string;
      readonly problems: readonly ValidationProblem[];
    }
  | {
      readonly kind: 'forbidden';
      readonly index: number;
      readonly problems: readonly ValidationProblem[];
    };

/** The route a request came in on: one call of a type, or a batch. */
export type SegmentRoute = AnyCallType | 'batch';

export type JudgedRequest =
  | {
      readonly ok: true;
      /** One per call, in the request's order. */
      readonly verdicts: readonly CallVerdict[];
      /** The accepted calls' touchpoints, in order, marked as checked by the contract. */
      readonly touchpoints: readonly Touchpoint[];
      /** The accepted calls whose event time was clamped (path `batch.<index>`, or '' for a single call). */
      readonly clamped: readonly ClampedTime[];
    }
  /** Not a request at all: refused whole, nothing of it kept. */
  | { readonly ok: false; readonly problems: readonly ValidationProblem[] };

export const IGNORED_REASONS: Readonly<Record<IgnoredCallType, string>> = {
  group: 'group calls are not recorded: no stage model reads the accounts a customer belongs to',
};

/**
 * Calls a batch may carry. Half a MB of real calls is a few thousand (Segment's own limit is on bytes:
 * 500 KB a batch, 32 KB a call); more means calls of a few bytes each, whose dead letters would turn one
 * request into many times its size on Kafka. Such a batch is answered 413, and a client splits it.
 */
export const MAX_BATCH_CALLS = 5000;

/** The number of calls a request carries, as sent (rate limits and counters count calls). */
export function callCount(route: SegmentRoute, body: unknown): number {
  if (route !== 'batch') return 1;
  const batch = isObject(body) ? body.batch : undefined;
  return Array.isArray(batch) ? batch.length : 1;
}

/** One call at `index` of type `type` (already known to be a call type), judged. */
function judgeCall(
  type: AnyCallType,
  call: unknown,
  index: number,
  prefix: string,
  ctx: CollectContext,
  envelope: BatchEnvelope | undefined,
): CallVerdict {
  const at = prefix || type;
  if (nestsDeeperThan(call, MAX_CALL_DEPTH)) {
    const problem = {
      path: prefix,
      rule: 'too_deep',
      message: `nests deeper than ${MAX_CALL_DEPTH} levels`,
    };
    return { kind: 'invalid', index, at, call: cutAt(call, MAX_CALL_DEPTH), problems: [problem] };
  }
  const forbidden = forbiddenCall(ctx.source, type, call);
  if (forbidden) return { kind: 'forbidden', index, problems: prefixProblems(prefix, [forbidden]) };
  if (type === 'group') {
    const checked = validateWith(SegmentGroup, call);
    if (!checked.ok)
      return { kind: 'invalid', index, at, call, problems: prefixProblems(prefix, checked.problems) };
    return { kind: 'ignored', index, type, reason: IGNORED_REASONS[type] };
  }
  const mapped = mapSegmentCall(type, call, ctx, envelope);
  if (!mapped.ok)
    return { kind: 'invalid', index, at, call, problems: prefixProblems(prefix, mapped.problems) };
  return mapped.clamped
    ? { kind: 'accepted', index, touchpoint: mapped.value, clamped: { ...mapped.clamped, path: prefix } }
    : { kind: 'accepted', index, touchpoint: mapped.value };
}

function judged(verdicts: CallVerdict[]): JudgedRequest {
  const touchpoints: Touchpoint[] = [];
  const clamped: ClampedTime[] = [];
  for (const v of verdicts) {
    if (v.kind !== 'accepted') continue;
    touchpoints.push(v.touchpoint);
    if (v.clamped) clamped.push(v.clamped);
  }
  // Every touchpoint here is one checkTouchpoint returned (mapSegmentCall): publishing need not check again.
  return { ok: true, verdicts, touchpoints: markContractChecked(touchpoints), clamped };
}

/**
 * A request body, judged: a verdict per call, or (when the body is no request at all) every problem. For
 * a single-call route the body is the call: its verdict is index 0, its problems' paths the call's own.
 */
export function judgeSegmentRequest(route: SegmentRoute, body: unknown, ctx: CollectContext): JudgedRequest {
  if (route !== 'batch') return judged([judgeCall(route, body, 0, '', ctx, undefined)]);
  const parsed = validateWith(SegmentBatch, body);
  if (!parsed.ok) return parsed;
  // The shared context is merged into every call: one nested too deep spoils them all.
  if (nestsDeeperThan(parsed.value.context, MAX_CALL_DEPTH))
    return {
      ok: false,
      problems: [
        { path: 'context', rule: 'too_deep', message: `nests deeper than ${MAX_CALL_DEPTH} levels` },
      ],
    };
  // Segment's batch carries sentAt on the envelope (analytics.js, analytics-node); a call may carry its own.
  const envelope: BatchEnvelope = {
    context: parsed.value.context,
    sentAt: sentAtMillis(parsed.value.sentAt),
  };
  return judged(
    parsed.value.batch.map((call, index) => {
      const prefix = `batch.${index}`;
      const type = isObject(call) ? call.type : undefined;
      if (!isCallType(type)) {
        const problem = {
          path: `${prefix}.type`,
          rule: 'invalid_value',
          message: `must be one of ${ANY_CALL_TYPES.join(', ')}`,
        };
        const kept = nestsDeeperThan(call, MAX_CALL_DEPTH) ? cutAt(call, MAX_CALL_DEPTH) : call;
        return { kind: 'invalid', index, at: prefix, call: kept, problems: [problem] };
      }
      return judgeCall(type, call, index, prefix, ctx, envelope);
    }),
  );
}
