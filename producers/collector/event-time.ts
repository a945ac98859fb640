/**
 * When a Segment call happened, bounded where it enters ciclo. Pure: every time is passed in, in
 * milliseconds since the epoch; no clock, no I/O.
 *
 * 1. Skew correction, as Segment does it (Spec: Common Fields, "Timestamps",
 *    https://segment.com/docs/connections/spec/common/#timestamps): `sentAt` is the sender's clock when it
 *    sent the request and `receivedAt` the collector's when it arrived; the two are taken as the same
 *    instant (a few hundred milliseconds apart at most), so their difference is the sender's clock error,
 *    applied back to the call's own time: timestamp = receivedAt - (sentAt - originalTimestamp). Segment
 *    applies it to every call that carries `sentAt`, from server libraries too (its analytics-node sends
 *    `{ batch, sentAt }` on every request), so ciclo does it for both kinds of write key. Without a readable
 *    `sentAt` nothing is corrected.
 * 2. Then by the kind of key:
 *    - browser (snippet) keys are public, and a browser's clock can be anything: a corrected time outside
 *      [receivedAt - 7 days, receivedAt + 5 minutes] is clamped to receivedAt and counted. Seven days
 *      covers a snippet's queue kept across page loads while offline or while the collector was down; five
 *      minutes covers sentAt and receivedAt not being quite the same instant.
 *    - server (api) keys are secret and their senders own their clocks: old times are backfills and kept as
 *      they are, but one more than a day ahead of receivedAt is a sender's bug (seconds read as
 *      milliseconds, a wrong timezone, a date typed by hand) and is refused, so the sender hears of it.
 *      Accepted, a time ahead would move the processor's event time and fire every customer's deadlines.
 *
 * Worked example: a browser whose clock is 3 years ahead sends a page view with timestamp T+3y and sentAt
 * S+3y; the collector receives it at S (plus latency), so the correction is -3y and the page view happened
 * at T. The same call without sentAt cannot be corrected: T+3y is outside the window, so it happened, as far
 * as ciclo can tell, at receivedAt.
 */

import { EVENT_TIME_AHEAD_TOLERANCE_MS } from '../../schemas/touchpoint';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/** The window a browser key's corrected time must fall in, relative to receivedAt (bounds included). */
export const BROWSER_WINDOW = Object.freeze({ pastMs: 7 * DAY_MS, futureMs: EVENT_TIME_AHEAD_TOLERANCE_MS });

/** How far ahead of receivedAt a server key's corrected time may be (included) before it is refused. */
export const SERVER_MAX_AHEAD_MS = DAY_MS;

export interface CallTimes {
  /** `snippet` for browser (public) write keys, `api` for server (secret) ones. */
  readonly keyKind: 'snippet' | 'api';
  /** The call's `timestamp`; undefined when it has none (it then happened when it was received). */
  readonly timestamp: number | undefined;
  /** The sender's clock when it sent the request; undefined (or not finite) when absent or unreadable. */
  readonly sentAt: number | undefined;
  /** The collector's clock when the request arrived. */
  readonly receivedAt: number;
}

/** Why a browser key's time was replaced by receivedAt. */
export type ClampReason = 'too_old' | 'ahead' | 'not_a_time';

export type EventTime =
  /** `occurredAt` is the call's time, corrected by `skewMs` (receivedAt - sentAt; 0 without sentAt). */
  | { readonly outcome: 'accepted'; readonly occurredAt: number; readonly skewMs: number }
  /** A browser key's corrected time (`correctedAt`) was outside the window: `occurredAt` is receivedAt. */
  | {
      readonly outcome: 'clamped';
      readonly occurredAt: number;
      readonly correctedAt: number;
      readonly skewMs: number;
      readonly reason: ClampReason;
    }
  /** A server key's corrected time is too far ahead, or not a time: the call is refused. */
  | {
      readonly outcome: 'refused';
      readonly rule: 'too_far_ahead' | 'not_a_time';
      readonly correctedAt: number;
      readonly message: string;
    };

/** The correction for the sender's clock: receivedAt - sentAt, or 0 when sentAt is absent or unreadable. */
export function clockSkewMs(sentAt: number | undefined, receivedAt: number): number {
  if (sentAt === undefined || !Number.isFinite(sentAt)) return 0;
  const skew = receivedAt - sentAt;
  return Number.isFinite(skew) ? skew : 0;
}

/** The event time of a call: its timestamp corrected for the sender's clock, then bounded by key kind. */
export function decideEventTime(times: CallTimes): EventTime {
  const { keyKind, timestamp, receivedAt } = times;
  // Without a timestamp the call happened when it arrived, on the collector's clock: nothing to correct.
  if (timestamp === undefined) return { outcome: 'accepted', occurredAt: receivedAt, skewMs: 0 };
  const skewMs = clockSkewMs(times.sentAt, receivedAt);
  const correctedAt = timestamp + skewMs;
  switch (keyKind) {
    case 'snippet': {
      const reason: ClampReason | undefined = !Number.isFinite(correctedAt)
        ? 'not_a_time'
        : correctedAt < receivedAt - BROWSER_WINDOW.pastMs
          ? 'too_old'
          : correctedAt > receivedAt + BROWSER_WINDOW.futureMs
            ? 'ahead'
            : undefined;
      return reason === undefined
        ? { outcome: 'accepted', occurredAt: correctedAt, skewMs }
        : { outcome: 'clamped', occurredAt: receivedAt, correctedAt, skewMs, reason };
    }
    case 'api': {
      if (!Number.isFinite(correctedAt)) {
        return {
          outcome: 'refused',
          rule: 'not_a_time',
          correctedAt,
          message: 'timestamp (corrected by sentAt) is not a time',
        };
      }
      if (correctedAt > receivedAt + SERVER_MAX_AHEAD_MS) {
        return {
          outcome: 'refused',
          rule: 'too_far_ahead',
          correctedAt,
          message:
            `timestamp ${describeTime(correctedAt)}${skewMs !== 0 ? ' (corrected by sentAt)' : ''} is ` +
            `${describeDuration(correctedAt - receivedAt)} ahead of the collector's clock ` +
            `(${describeTime(receivedAt)}); a server key's timestamp may be at most 1 day ahead`,
        };
      }
      return { outcome: 'accepted', occurredAt: correctedAt, skewMs };
    }
    default: {
      const unreachable: never = keyKind;
      throw new Error(`unknown key kind ${String(unreachable)}`);
    }
  }
}

/** ISO 8601 when the time is one a Date can hold, else the milliseconds as they are. */
function describeTime(ms: number): string {
  return Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : `${ms} ms`;
}

/** A positive duration in days, hours and minutes, e.g. "1 d 1 h 0 min". */
function describeDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms >= 1000 * 365 * DAY_MS) return `${ms} ms`;
  const days = Math.floor(ms / DAY_MS);
  const hours = Math.floor((ms % DAY_MS) / HOUR_MS);
  const minutes = Math.floor((ms % HOUR_MS) / MINUTE_MS);
  return `${days > 0 ? `${days} d ` : ''}${hours} h ${minutes} min`;
}
