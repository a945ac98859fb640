/**
 * The answer to a judged request (request.ts) once Kafka has everything it keeps: its touchpoints and the
 * dead letters of its invalid calls. Pure.
 *
 * - Some call produced: 202 `{success: true, accepted, eventIds}`, plus `ignored` and `rejected` when there
 *   are such calls. A 2xx is final for Segment's libraries and the snippet, which is right for every call in
 *   it: the accepted are on Kafka, the invalid are dead-lettered, and the forbidden can never succeed with
 *   this key.
 * - Nothing produced, something ignored (a lone `group`): 200, the same body with `accepted: 0`.
 * - Nothing produced or ignored: 403 `FORBIDDEN` when any call was forbidden, else 400 `INVALID_REQUEST`,
 *   with every problem at its path (`batch.<i>.<field>`) as before; the invalid calls are dead-lettered all
 *   the same.
 *
 * `rejected` lists each refused call: `{index, outcome: "dead-lettered" | "forbidden", problems}`.
 */
import { errorBody, type ErrorBody } from '../edge/replies';
import type { CallVerdict } from './request';

export interface RejectedCall {
  readonly index: number;
  readonly outcome: 'dead-lettered' | 'forbidden';
  readonly problems: readonly { readonly path: string; readonly rule: string; readonly message: string }[];
}

export interface IgnoredCall {
  readonly index: number;
  readonly type: string;
  readonly reason: string;
}

export interface AcceptedBody {
  readonly success: true;
  readonly accepted: number;
  readonly eventIds: readonly string[];
  readonly ignored?: readonly IgnoredCall[];
  readonly rejected?: readonly RejectedCall[];
}

export type CollectorAnswer =
  | { readonly status: 200 | 202; readonly body: AcceptedBody }
  | { readonly status: 400 | 403; readonly body: ErrorBody };

export function answerTo(verdicts: readonly CallVerdict[]): CollectorAnswer {
  const eventIds: string[] = [];
  const ignored: IgnoredCall[] = [];
  const rejected: RejectedCall[] = [];
  let forbidden = 0;
  let deadLettered = 0;
  for (const v of verdicts) {
    switch (v.kind) {
      case 'accepted':
        eventIds.push(v.touchpoint.eventId);
        break;
      case 'ignored':
        ignored.push({ index: v.index, type: v.type, reason: v.reason });
        break;
      case 'invalid':
        deadLettered += 1;
        rejected.push({ index: v.index, outcome: 'dead-lettered', problems: v.problems });
        break;
      case 'forbidden':
        forbidden += 1;
        rejected.push({ index: v.index, outcome: 'forbidden', problems: v.problems });
        break;
      default: {
        const unreachable: never = v;
        throw new Error(`unknown verdict ${JSON.stringify(unreachable)}`);
      }
    }
  }
  if (eventIds.length > 0 || ignored.length > 0) {
    const body: AcceptedBody = {
      success: true,
      accepted: eventIds.length,
      eventIds,
      ...(ignored.length > 0 ? { ignored } : {}),
      ...(rejected.length > 0 ? { rejected } : {}),
    };
    return { status: eventIds.length > 0 ? 202 : 200, body };
  }
  const problems = rejected.flatMap((r) => r.problems);
  const calls = verdicts.length;
  const parts = [
    ...(forbidden > 0 ? [`${forbidden} of ${calls} call(s) forbidden for this write key`] : []),
    ...(deadLettered > 0
      ? [`${deadLettered} of ${calls} call(s) invalid, kept on the dead-letter topic with their problems`]
      : []),
  ];
  const detail = `${parts.join('; ')}; none was produced`;
  return forbidden > 0
    ? { status: 403, body: errorBody('FORBIDDEN', { detail, problems }) }
    : { status: 400, body: errorBody('INVALID_REQUEST', { detail, problems }) };
}
