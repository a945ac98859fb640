import { forbiddenCall, FORBIDDEN_RULES } from './rights';
import { TRACK_MAPPERS } from './track-mappers';

const browser = { name: 'web', kind: 'snippet' } as const;
const server = { name: 'shop', kind: 'api' } as const;

describe('what a browser key may send', () => {
  it('page, screen, identify, group and custom track events', () => {
    expect(forbiddenCall(browser, 'page', { anonymousId: 'a' })).toBeUndefined();
    expect(forbiddenCall(browser, 'screen', { anonymousId: 'a' })).toBeUndefined();
    expect(forbiddenCall(browser, 'identify', { userId: 'u', anonymousId: 'a' })).toBeUndefined();
    expect(forbiddenCall(browser, 'group', { userId: 'u', groupId: 'g' })).toBeUndefined();
    expect(forbiddenCall(browser, 'track', { event: 'Video Played' })).toBeUndefined();
    // A name that only looks like a spec event is a custom event: it becomes Tracked, not a purchase.
    expect(forbiddenCall(browser, 'track', { event: 'order completed' })).toBeUndefined();
  });

  it('no spec event ciclo types: purchases, refunds, subscriptions, spend, surveys and the rest', () => {
    for (const event of Object.keys(TRACK_MAPPERS))
      expect(forbiddenCall(browser, 'track', { event, properties: {} })).toEqual({
        path: 'event',
        rule: FORBIDDEN_RULES.event,
        message: expect.stringContaining(`"${event}" is recorded for a business from its server`) as unknown,
      });
    expect(Object.keys(TRACK_MAPPERS)).toEqual(
      expect.arrayContaining([
        'Order Completed',
        'Order Refunded',
        'Subscription Started',
        'Marketing Spend Recorded',
        'Survey Answered',
      ]),
    );
  });

  it('an alias of its own anonymousId only, numeric ids compared as the collector reads them', () => {
    expect(
      forbiddenCall(browser, 'alias', { userId: 'u', anonymousId: 'a1', previousId: 'a1' }),
    ).toBeUndefined();
    expect(
      forbiddenCall(browser, 'alias', { userId: 'u', anonymousId: 42, previousId: '42' }),
    ).toBeUndefined();
    for (const call of [
      { userId: 'u', anonymousId: 'a1', previousId: 'cus_other' },
      { userId: 'u', previousId: 'a1' },
    ])
      expect(forbiddenCall(browser, 'alias', call)).toMatchObject({
        path: 'previousId',
        rule: FORBIDDEN_RULES.alias,
      });
    // Without a previousId the call is invalid, not forbidden: the contract says why.
    expect(forbiddenCall(browser, 'alias', { userId: 'u' })).toBeUndefined();
  });
});

describe('what a server key may send', () => {
  it('everything', () => {
    expect(forbiddenCall(server, 'track', { event: 'Order Completed' })).toBeUndefined();
    expect(forbiddenCall(server, 'track', { event: 'Marketing Spend Recorded' })).toBeUndefined();
    expect(forbiddenCall(server, 'alias', { userId: 'u', previousId: 'cus_other' })).toBeUndefined();
  });
});
