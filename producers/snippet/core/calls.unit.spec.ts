import { isSafeEventId } from '../../../schemas/event-id';
import { judgeSegmentRequest } from '../../collector/request';
import { makeCall, pageFields, pageInfo, type CallEnv } from './calls';

const page = pageInfo(
  {
    href: 'https://shop.example.com/records?utm_source=newsletter&utm_campaign=spring#top',
    pathname: '/records',
    search: '?utm_source=newsletter&utm_campaign=spring',
  },
  'https://news.example.com/',
  'Records',
);
const env = (messageId: string, userId?: string): CallEnv => ({
  messageId,
  now: Date.parse('2026-03-14T09:30:00Z'),
  anonymousId: 'anon-1',
  userId,
  page,
  userAgent: 'Mozilla/5.0',
  locale: 'pt-PT',
});

describe('pageFields', () => {
  it('follows analytics.js signatures', () => {
    expect(pageFields([], page)).not.toHaveProperty('name');
    expect(pageFields(['Home'], page)).toMatchObject({ name: 'Home' });
    expect(pageFields(['Docs', 'Install', { step: 1 }], page)).toMatchObject({
      category: 'Docs',
      name: 'Install',
      properties: { step: 1, path: '/records' },
    });
    expect(pageFields([{ title: 'Mine' }], page).properties).toMatchObject({
      title: 'Mine',
      path: '/records',
    });
  });
});

describe('calls the snippet makes', () => {
  it('drop the URL fragment and carry UTM parameters as context.campaign', () => {
    const call = makeCall('track', env('ciclo-1'), { event: 'Played' });
    expect(call.context.page.url).toBe(
      'https://shop.example.com/records?utm_source=newsletter&utm_campaign=spring',
    );
    expect(call.context.campaign).toEqual({ source: 'newsletter', name: 'spring' });
    expect(call).toMatchObject({ timestamp: '2026-03-14T09:30:00.000Z', anonymousId: 'anon-1' });
  });

  it('are accepted by the collector as they are, with their messageId (scoped by source) as eventId', () => {
    const messageIds = [1, 2, 3, 4].map((i) => `ciclo-0b6f1d2e-8c4a-4f7e-9a51-3d2c1b0a9f8${i}`);
    expect(messageIds.every(isSafeEventId)).toBe(true);
    const batch = [
      makeCall('page', env(messageIds[0]!), pageFields([], page)),
      makeCall('identify', env(messageIds[1]!, 'cus_1'), {
        userId: 'cus_1',
        traits: { email: 'ana@example.com' },
      }),
      makeCall('track', env(messageIds[2]!, 'cus_1'), { event: 'Video Played', properties: { seconds: 42 } }),
      // A browser key may alias only its own anonymous id (collector/rights.ts).
      makeCall('alias', env(messageIds[3]!, 'cus_1'), { userId: 'cus_1', previousId: 'anon-1' }),
    ];
    const mapped = judgeSegmentRequest(
      'batch',
      JSON.parse(JSON.stringify({ batch, sentAt: '2026-03-14T09:30:01.000Z', writeKey: 'wk' })),
      {
        source: { kind: 'snippet', name: 'web' },
        receivedAt: Date.parse('2026-03-14T09:30:02Z'),
        defaultCurrency: 'EUR',
        urlQueryAllowlist: [],
        ipRetention: 'none',
      },
    );
    if (!mapped.ok) throw new Error(JSON.stringify(mapped.problems));
    expect(mapped.verdicts.map((v) => v.kind)).toEqual(['accepted', 'accepted', 'accepted', 'accepted']);
    expect(mapped.touchpoints.map((tp) => [tp.type, tp.eventId])).toEqual([
      ['PageViewed', `seg:web:${messageIds[0]}`],
      ['Identified', `seg:web:${messageIds[1]}`],
      ['Tracked', `seg:web:${messageIds[2]}`],
      ['Aliased', `seg:web:${messageIds[3]}`],
    ]);
    expect(mapped.touchpoints[0]).toMatchObject({
      anonymousId: 'anon-1',
      // The call's timestamp corrected for the browser's clock by the batch's sentAt: 1 s behind receivedAt.
      occurredAt: Date.parse('2026-03-14T09:30:01Z'),
      payload: { path: '/records', title: 'Records' },
      context: {
        referrer: 'https://news.example.com/',
        utmSource: 'newsletter',
        utmCampaign: 'spring',
        userAgent: 'Mozilla/5.0',
        locale: 'pt-PT',
      },
    });
    expect(mapped.touchpoints[3]).toMatchObject({ customerId: 'cus_1', payload: { previousId: 'anon-1' } });
  });
});
