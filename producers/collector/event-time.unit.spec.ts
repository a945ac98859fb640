import {
  BROWSER_WINDOW,
  clockSkewMs,
  decideEventTime,
  SERVER_MAX_AHEAD_MS,
  type CallTimes,
  type EventTime,
} from './event-time';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const YEAR = 365 * DAY;
const receivedAt = Date.UTC(2026, 11, 6, 9, 30);

/** Given what a call says about its time, when it enters through a key of this kind, then this. */
function decide(keyKind: CallTimes['keyKind'], timestamp?: number, sentAt?: number): EventTime {
  return decideEventTime({ keyKind, timestamp, sentAt, receivedAt });
}

describe('skew correction: occurredAt = timestamp + (receivedAt - sentAt), as Segment computes it', () => {
  it('moves a browser whose clock is 3 years ahead back to now, to the millisecond', () => {
    // The page view happened 40 s before the request left the browser, whose clock is 3 years ahead.
    expect(decide('snippet', receivedAt + 3 * YEAR - 40_000, receivedAt + 3 * YEAR - 250)).toEqual({
      outcome: 'accepted',
      occurredAt: receivedAt - 40_000 + 250,
      skewMs: -3 * YEAR + 250,
    });
  });

  it('moves a clock that is behind forward, and corrects server keys too', () => {
    expect(decide('snippet', receivedAt - 2 * HOUR - 5_000, receivedAt - 2 * HOUR)).toMatchObject({
      outcome: 'accepted',
      occurredAt: receivedAt - 5_000,
    });
    expect(decide('api', receivedAt + 3 * YEAR, receivedAt + 3 * YEAR)).toMatchObject({
      outcome: 'accepted',
      occurredAt: receivedAt,
    });
  });

  it('corrects nothing without a readable sentAt: absent, NaN or infinite', () => {
    for (const sentAt of [undefined, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      expect(clockSkewMs(sentAt, receivedAt)).toBe(0);
      expect(decide('snippet', receivedAt - MINUTE, sentAt)).toEqual({
        outcome: 'accepted',
        occurredAt: receivedAt - MINUTE,
        skewMs: 0,
      });
    }
  });

  it('takes receivedAt, uncorrected, for a call without a timestamp, whatever its sentAt', () => {
    for (const keyKind of ['snippet', 'api'] as const) {
      expect(decide(keyKind, undefined, receivedAt + 3 * YEAR)).toEqual({
        outcome: 'accepted',
        occurredAt: receivedAt,
        skewMs: 0,
      });
    }
  });
});

describe('browser keys: a corrected time outside [receivedAt - 7 d, receivedAt + 5 min] is clamped', () => {
  it('keeps the bounds themselves', () => {
    expect(BROWSER_WINDOW).toEqual({ pastMs: 7 * DAY, futureMs: 5 * MINUTE });
    expect(decide('snippet', receivedAt - 7 * DAY)).toMatchObject({
      outcome: 'accepted',
      occurredAt: receivedAt - 7 * DAY,
    });
    expect(decide('snippet', receivedAt + 5 * MINUTE)).toMatchObject({
      outcome: 'accepted',
      occurredAt: receivedAt + 5 * MINUTE,
    });
  });

  it('clamps one millisecond beyond either bound to receivedAt, saying which way', () => {
    expect(decide('snippet', receivedAt - 7 * DAY - 1)).toEqual({
      outcome: 'clamped',
      occurredAt: receivedAt,
      correctedAt: receivedAt - 7 * DAY - 1,
      skewMs: 0,
      reason: 'too_old',
    });
    expect(decide('snippet', receivedAt + 5 * MINUTE + 1)).toMatchObject({
      outcome: 'clamped',
      occurredAt: receivedAt,
      reason: 'ahead',
    });
  });

  it('clamps a timestamp 3 years ahead sent without sentAt', () => {
    expect(decide('snippet', receivedAt + 3 * YEAR)).toEqual({
      outcome: 'clamped',
      occurredAt: receivedAt,
      correctedAt: receivedAt + 3 * YEAR,
      skewMs: 0,
      reason: 'ahead',
    });
  });

  it('bounds the corrected time, not the timestamp as sent', () => {
    // In the window as sent, but sentAt says the clock is a year behind: the event would be a year ahead.
    expect(decide('snippet', receivedAt, receivedAt - YEAR)).toMatchObject({
      outcome: 'clamped',
      correctedAt: receivedAt + YEAR,
      reason: 'ahead',
    });
    // Queued offline for 10 days by a browser with a correct clock: too old to trust.
    expect(decide('snippet', receivedAt - 10 * DAY, receivedAt - 200)).toMatchObject({
      outcome: 'clamped',
      occurredAt: receivedAt,
      reason: 'too_old',
    });
  });

  it('clamps huge and non-finite times instead of passing them on', () => {
    expect(decide('snippet', Number.MAX_SAFE_INTEGER)).toMatchObject({ outcome: 'clamped', reason: 'ahead' });
    expect(decide('snippet', -Number.MAX_VALUE)).toMatchObject({ outcome: 'clamped', reason: 'too_old' });
    expect(decide('snippet', Number.MAX_VALUE, -Number.MAX_VALUE)).toMatchObject({
      outcome: 'clamped',
      occurredAt: receivedAt,
      reason: 'not_a_time', // MAX_VALUE + MAX_VALUE overflows to Infinity
    });
    expect(decide('snippet', Number.NaN)).toMatchObject({
      outcome: 'clamped',
      occurredAt: receivedAt,
      reason: 'not_a_time',
    });
  });
});

describe('server keys: old times are kept, a time more than 1 day ahead is refused', () => {
  it('keeps a backfill of any age as it is', () => {
    expect(decide('api', Date.UTC(1997, 0, 1))).toEqual({
      outcome: 'accepted',
      occurredAt: Date.UTC(1997, 0, 1),
      skewMs: 0,
    });
  });

  it('keeps exactly 1 day ahead and refuses 1 ms more, naming timestamp and the limit', () => {
    expect(SERVER_MAX_AHEAD_MS).toBe(DAY);
    expect(decide('api', receivedAt + DAY)).toMatchObject({
      outcome: 'accepted',
      occurredAt: receivedAt + DAY,
    });
    expect(decide('api', receivedAt + DAY + 1)).toMatchObject({ outcome: 'refused', rule: 'too_far_ahead' });
  });

  it('refuses 1 day and 1 hour ahead with a message a sender can act on', () => {
    const refused = decide('api', receivedAt + DAY + HOUR);
    expect(refused).toEqual({
      outcome: 'refused',
      rule: 'too_far_ahead',
      correctedAt: receivedAt + DAY + HOUR,
      message:
        "timestamp 2026-12-07T10:30:00.000Z is 1 d 1 h 0 min ahead of the collector's clock " +
        "(2026-12-06T09:30:00.000Z); a server key's timestamp may be at most 1 day ahead",
    });
  });

  it('judges the corrected time: a wrong server clock with sentAt is corrected, not refused', () => {
    expect(decide('api', receivedAt + 3 * YEAR - 10, receivedAt + 3 * YEAR)).toMatchObject({
      outcome: 'accepted',
      occurredAt: receivedAt - 10,
    });
    expect(decide('api', receivedAt + 2 * DAY, receivedAt - 10)).toMatchObject({
      outcome: 'refused',
      message: expect.stringContaining('(corrected by sentAt)') as unknown,
    });
  });

  it('refuses huge and non-finite times', () => {
    expect(decide('api', Number.MAX_SAFE_INTEGER)).toMatchObject({
      outcome: 'refused',
      rule: 'too_far_ahead',
      message: expect.stringContaining(`timestamp ${Number.MAX_SAFE_INTEGER} ms is`) as unknown,
    });
    expect(decide('api', Number.NaN)).toMatchObject({ outcome: 'refused', rule: 'not_a_time' });
    expect(decide('api', Number.MAX_VALUE, -Number.MAX_VALUE)).toMatchObject({
      outcome: 'refused',
      rule: 'not_a_time',
    });
  });
});
