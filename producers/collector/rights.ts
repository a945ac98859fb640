/**
 * What each kind of write key may send. A browser snippet's key is public by design (it is in every page's
 * source, as Segment's are), so anything it may send, anyone may send: it may report what a visitor does
 * and nothing a business records about its customers. Server keys (sources not in CICLO_SNIPPET_SOURCES)
 * keep every right; webhooks are authenticated by their providers' signatures and are not judged here.
 *
 * A browser key may send:
 * - page, screen, identify and group;
 * - track of custom events (names no mapper in track-mappers.ts types): `Tracked` touchpoints;
 * - alias of its own anonymousId only (previousId equal to the call's anonymousId): the visitor becoming a
 *   customer. An alias of any other id could merge two known customers.
 *
 * So a browser key may not send purchases, refunds, subscriptions, marketing spend (which CAC and ROI are
 * computed from), survey or NPS answers, tickets, referrals or email events. The check reads the call as
 * sent, before it is mapped: a forbidden call is refused whether or not it is otherwise valid, and nothing
 * of it is written anywhere. Pure.
 */
import type { ValidationProblem } from '../../schemas/validation';
import type { WriteKeyOwner } from './config';
import { isObject } from './draft';
import type { AnyCallType } from './segment';
import { TRACK_MAPPERS } from './track-mappers';

/** The rules a forbidden call breaks, as its problem's `rule`. */
export const FORBIDDEN_RULES = {
  event: 'browser_key_event_forbidden',
  alias: 'browser_key_alias_of_other_id',
} as const;

/** Ids as the call's schema reads them: strings, or numbers as their decimal text. */
function idText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  return typeof value === 'number' && Number.isFinite(value) ? String(value) : undefined;
}

/**
 * Why `owner`'s key may not send this call (a problem at the call's field, relative to the call), or
 * undefined when it may.
 */
export function forbiddenCall(
  owner: WriteKeyOwner,
  type: AnyCallType,
  call: unknown,
): ValidationProblem | undefined {
  if (owner.kind === 'api') return undefined;
  const fields = isObject(call) ? call : {};
  switch (type) {
    case 'page':
    case 'screen':
    case 'identify':
    case 'group':
      return undefined;
    case 'track': {
      const event = fields.event;
      if (typeof event !== 'string' || !Object.hasOwn(TRACK_MAPPERS, event)) return undefined;
      return {
        path: 'event',
        rule: FORBIDDEN_RULES.event,
        message:
          `a browser write key (source "${owner.name}") may track custom events only; "${event}" is ` +
          'recorded for a business from its server: send it with a server key',
      };
    }
    case 'alias': {
      const previousId = idText(fields.previousId);
      const anonymousId = idText(fields.anonymousId);
      if (previousId === undefined || previousId === anonymousId) return undefined;
      return {
        path: 'previousId',
        rule: FORBIDDEN_RULES.alias,
        message:
          `a browser write key (source "${owner.name}") may alias only the call's own anonymousId ` +
          '(previousId equal to anonymousId); an alias of another id could merge two customers: send it ' +
          'with a server key',
      };
    }
    default: {
      const unreachable: never = type;
      throw new Error(`unknown call type ${String(unreachable)}`);
    }
  }
}
