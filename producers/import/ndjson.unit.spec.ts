import { ndjsonTouchpoints } from './ndjson';
import { withKeptUrls } from './rows';

const RECEIVED = Date.parse('2026-12-01T00:00:00Z');
const AT = RECEIVED - 24 * 3600 * 1000;

const line = (fields: Record<string, unknown>): string =>
  JSON.stringify({
    eventId: 'e-1',
    type: 'PageViewed',
    anonymousId: 'a-1',
    occurredAt: AT,
    receivedAt: AT,
    source: { kind: 'import', name: 'spec' },
    payload: {},
    ...fields,
  });

describe('NDJSON import: URLs keep less, as the collector keeps them', () => {
  it("keeps a page URL's and a path's utm_* parameters only, and a referrer's origin", () => {
    const { touchpoints, rejected } = ndjsonTouchpoints(
      line({
        context: {
          pageUrl: 'https://ana:pw@shop.example/cart?email=ana%40example.com&utm_source=x#pay',
          referrer: 'https://mail.example/inbox/ana@example.com?q=order',
          utmSource: 'x',
        },
        payload: { path: '/cart?email=ana%40example.com&utm_source=x', title: 'Cart' },
      }),
      RECEIVED,
    );
    expect(rejected).toEqual([]);
    expect(touchpoints).toEqual([
      expect.objectContaining({
        eventId: 'e-1',
        context: {
          pageUrl: 'https://shop.example/cart?utm_source=x',
          referrer: 'https://mail.example/',
          utmSource: 'x',
        },
        payload: { path: '/cart?utm_source=x', title: 'Cart' },
      }),
    ]);
  });

  it("keeps the allowlist's parameters too, in a clicked email link as in a page URL", () => {
    const clicked = line({
      type: 'EmailClicked',
      customerId: 'c-1',
      context: { pageUrl: 'https://shop.example/?page=2&session=s1' },
      payload: {
        campaignId: 'spring',
        url: 'https://shop.example/sale?subscriber=ana%40example.com&lang=pt&utm_campaign=spring',
      },
    });
    const [kept] = ndjsonTouchpoints(clicked, RECEIVED, ['lang', 'page']).touchpoints;
    expect(kept).toMatchObject({
      context: { pageUrl: 'https://shop.example/?page=2' },
      payload: { campaignId: 'spring', url: 'https://shop.example/sale?lang=pt&utm_campaign=spring' },
    });
    const [none] = ndjsonTouchpoints(clicked, RECEIVED).touchpoints;
    expect(none!.payload).toMatchObject({ url: 'https://shop.example/sale?utm_campaign=spring' });
  });

  it('leaves touchpoints with nothing to drop as they are, and non-strings to the contract', () => {
    const plain = line({
      context: { pageUrl: 'https://shop.example/jazz', referrer: 'https://www.google.com/' },
      payload: { path: '/jazz' },
    });
    expect(ndjsonTouchpoints(plain, RECEIVED).touchpoints).toEqual([JSON.parse(plain)]);
    const parsed = JSON.parse(plain) as unknown;
    expect(withKeptUrls(parsed, [])).toBe(parsed);

    const { rejected } = ndjsonTouchpoints(line({ context: { pageUrl: 42 } }), RECEIVED);
    expect(rejected[0]!.reason).toMatch(/context\.pageUrl/);
    // Other types' fields are not URLs of the touchpoint's: a Tracked property stays as sent.
    expect(
      withKeptUrls({ type: 'Tracked', payload: { path: '/a?b=1', url: 'https://x.example/?b=1' } }, []),
    ).toEqual({ type: 'Tracked', payload: { path: '/a?b=1', url: 'https://x.example/?b=1' } });
    for (const notATouchpoint of [null, 'text', 7, [1]])
      expect(withKeptUrls(notATouchpoint, [])).toBe(notATouchpoint);
  });
});
