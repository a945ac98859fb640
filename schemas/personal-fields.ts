/**
 * Which fields of a touchpoint are personal data, kept sealed on Kafka (infra/privacy/seal.ts): what a
 * person wrote or what identifies them beyond an id (email, name, traits, free text, the URL they were on,
 * their browser's user agent and IP). Ids stay clear: topics are keyed by them, and ciclo asks that they be
 * pseudonymous (database ids, not emails; README, Privacy). What stage rules read stays clear too: the
 * referrer (its origin only, producers/edge/url-minimization.ts), UTM parameters, amounts, scores, plans.
 *
 * Pure: `splitPersonal` takes them out, `withPersonal` puts them back.
 */
import type { Touchpoint, TouchpointType } from './touchpoint';

/** Personal fields of the context. */
const PERSONAL_CONTEXT = ['pageUrl', 'userAgent', 'ip'] as const;

/** Personal fields of each payload type that has any. */
const PERSONAL_PAYLOAD: Partial<Record<TouchpointType, readonly string[]>> = {
  PageViewed: ['path', 'title'],
  Identified: ['email', 'name', 'traits'],
  EmailSent: ['url'],
  EmailDelivered: ['url'],
  EmailOpened: ['url'],
  EmailClicked: ['url'],
  EmailBounced: ['url'],
  EmailUnsubscribed: ['url'],
  RefundIssued: ['reason'],
  SubscriptionCancelled: ['reason'],
  SurveyAnswered: ['comment'],
  SupportTicketOpened: ['subject'],
  Tracked: ['properties'],
};

/** A touchpoint's personal fields, as they are sealed: `c` of the context, `p` of the payload. */
export interface PersonalFields {
  c?: Record<string, unknown>;
  p?: Record<string, unknown>;
}

function take(
  from: Readonly<Record<string, unknown>>,
  names: readonly string[],
): {
  rest: Record<string, unknown>;
  taken: Record<string, unknown> | undefined;
} {
  let taken: Record<string, unknown> | undefined;
  const rest: Record<string, unknown> = {};
  for (const k in from) {
    const v = from[k];
    if (v === undefined) continue;
    if (names.includes(k)) (taken ??= {})[k] = v;
    else rest[k] = v;
  }
  return { rest, taken };
}

/** The touchpoint without its personal fields, and those fields (undefined when it has none). */
export function splitPersonal(tp: Touchpoint): { clear: Touchpoint; personal: PersonalFields | undefined } {
  let personal: PersonalFields | undefined;
  let clear = tp;
  if (tp.context) {
    const { rest, taken } = take(tp.context, PERSONAL_CONTEXT);
    if (taken) {
      (personal ??= {}).c = taken;
      const { context: _context, ...others } = clear;
      clear = Object.keys(rest).length > 0 ? { ...others, context: rest } : others;
    }
  }
  const names = PERSONAL_PAYLOAD[tp.type];
  if (names) {
    const { rest, taken } = take(tp.payload, names);
    if (taken) {
      (personal ??= {}).p = taken;
      clear = { ...clear, payload: rest } as Touchpoint;
    }
  }
  return { clear, personal };
}

/** Whether a touchpoint has personal fields to seal. */
export function hasPersonalFields(tp: Touchpoint): boolean {
  if (tp.context && PERSONAL_CONTEXT.some((k) => tp.context?.[k] !== undefined)) return true;
  const names = PERSONAL_PAYLOAD[tp.type];
  const payload = tp.payload as Record<string, unknown>;
  return names !== undefined && names.some((k) => payload[k] !== undefined);
}

/**
 * The touchpoint with its personal fields back, and without `sealed`. Only the fields this module names are
 * taken from `personal`: a sealed value cannot add anything else to a touchpoint.
 */
export function withPersonal(tp: Touchpoint, personal: PersonalFields): Touchpoint {
  const { sealed: _sealed, ...rest } = tp;
  let opened = rest as Touchpoint;
  const context = pick(personal.c, PERSONAL_CONTEXT);
  if (context) opened = { ...opened, context: { ...opened.context, ...context } };
  const names = PERSONAL_PAYLOAD[tp.type];
  const payload = names ? pick(personal.p, names) : undefined;
  if (payload) opened = { ...opened, payload: { ...opened.payload, ...payload } } as Touchpoint;
  return opened;
}

function pick(from: unknown, names: readonly string[]): Record<string, unknown> | undefined {
  if (from === null || typeof from !== 'object') return undefined;
  let picked: Record<string, unknown> | undefined;
  for (const k of names) {
    const v = (from as Record<string, unknown>)[k];
    if (v !== undefined) (picked ??= {})[k] = v;
  }
  return picked;
}
