import {
  CUSTOMER_SNAPSHOT_EXAMPLE,
  STAGE_CHANGED_EXAMPLE,
  TOUCHPOINT_EXAMPLES,
} from '../../schemas/examples';
import { TOUCHPOINT_TYPES } from '../../schemas/touchpoint';
import {
  channelOf,
  dateTime,
  toCustomerStateRow,
  toRemovedCustomerRow,
  toStageChangeRow,
  toTouchpointRow,
} from './rows';

const at = Date.UTC(2026, 3, 1, 12, 0, 0);

describe('touchpoint rows', () => {
  it('carry the money of purchases and refunds in minor units with the order id', () => {
    expect(toTouchpointRow(TOUCHPOINT_EXAMPLES.PurchaseCompleted, at)).toMatchObject({
      type: 'PurchaseCompleted',
      order_id: 'ord_1042',
      amount_minor: 3297,
      currency: 'EUR',
      occurred_at: '2026-03-14 09:30:00',
      occurred_at_ms: Date.UTC(2026, 2, 14, 9, 30),
    });
    expect(toTouchpointRow(TOUCHPOINT_EXAMPLES.RefundIssued, at)).toMatchObject({
      order_id: 'ord_1042',
      amount_minor: 999,
    });
  });

  it('spend rows carry channel, campaign and period', () => {
    expect(toTouchpointRow(TOUCHPOINT_EXAMPLES.MarketingSpendRecorded, at)).toMatchObject({
      customer_id: '',
      channel: 'paid-search',
      campaign: 'spring-sale',
      amount_minor: 250000,
      period_start: '2026-03-01 00:00:00',
      period_end: '2026-03-31 00:00:00',
    });
  });

  it('surveys carry NPS and CSAT, -1 when not answered', () => {
    expect(toTouchpointRow(TOUCHPOINT_EXAMPLES.SurveyAnswered, at)).toMatchObject({ nps: 9, csat: -1 });
  });

  it('derive the channel from UTM source, else the referrer host, else direct', () => {
    expect(channelOf(TOUCHPOINT_EXAMPLES.PageViewed)).toBe('newsletter');
    expect(
      channelOf({
        ...TOUCHPOINT_EXAMPLES.PageViewed,
        context: { referrer: 'https://www.google.com/search?q=cd' },
      }),
    ).toBe('google.com');
    expect(channelOf(TOUCHPOINT_EXAMPLES.Aliased)).toBe('direct');
  });

  it('every example maps to a row with the same columns (no column missing for any type)', () => {
    const columns = TOUCHPOINT_TYPES.map((t) =>
      Object.keys(toTouchpointRow(TOUCHPOINT_EXAMPLES[t], at)).sort().join(','),
    );
    expect(new Set(columns).size).toBe(1);
  });
});

describe('output rows', () => {
  it('stage changes keep model, rule, triggering events and sequence', () => {
    expect(toStageChangeRow(STAGE_CHANGED_EXAMPLE, at)).toMatchObject({
      from_stage: 'conversion',
      to_stage: 'retention',
      rule_id: 'second-purchase',
      triggering_event_ids: ['evt_po_0002'],
      sequence: 3,
    });
  });
  it('snapshots map optional fields to neutral values', () => {
    expect(toCustomerStateRow({ ...CUSTOMER_SNAPSHOT_EXAMPLE, latestCsat: undefined }, at)).toMatchObject({
      latest_csat: -1,
      latest_nps: 9,
      unsubscribed: 0,
      net_revenue_minor: 5595,
      merged_into: '',
    });
  });
  it("a merged profile's removal row has every column of a snapshot's, no stage and the survivor", () => {
    const removal = { modelId: 'five-stage', customerId: 'anon-1', sequence: 2, mergedInto: 'cust-1' };
    const row = toRemovedCustomerRow(removal, at);
    expect(Object.keys(row).sort()).toEqual(
      Object.keys(toCustomerStateRow(CUSTOMER_SNAPSHOT_EXAMPLE, at)).sort(),
    );
    expect(row).toMatchObject({
      customer_id: 'anon-1',
      model_id: 'five-stage',
      stage: '',
      sequence: 2,
      merged_into: 'cust-1',
    });
  });
});

describe('dateTime', () => {
  it('formats UTC times as ClickHouse DateTime text, as toISOString does', () => {
    for (const ms of [
      0,
      631152000000,
      1772000000999,
      Date.UTC(2026, 11, 31, 23, 59, 59),
      Date.UTC(1999, 0, 2, 3, 4, 5),
    ])
      expect(dateTime(ms)).toBe(new Date(ms).toISOString().slice(0, 19).replace('T', ' '));
    expect(dateTime(undefined)).toBe('1970-01-01 00:00:00');
  });

  it('agrees with toISOString on times spread over 1990-2100, before and after the day cache clears', () => {
    // More days than the cache holds, each visited twice, so remembered and fresh days are both checked.
    let seed = 7;
    const next = (): number => (seed = (seed * 48271) % 2147483647);
    const from = Date.UTC(1990, 0, 1);
    const span = Date.UTC(2100, 0, 1) - from;
    const times = Array.from({ length: 30_000 }, () => from + Math.floor((next() / 2147483647) * span));
    const wrong = [...times, ...times, -1, -86_400_001, Date.UTC(2000, 1, 29, 23, 59, 59, 999)]
      .map((ms) => [ms, dateTime(ms), new Date(ms).toISOString().slice(0, 19).replace('T', ' ')])
      .filter(([, ours, iso]) => ours !== iso);
    expect(wrong).toEqual([]);
  });
});
