import { csvTouchpoints, parseCsvMapping } from './csv';

const RECEIVED = Date.parse('2026-12-01T00:00:00Z');

const purchases = parseCsvMapping(
  {
    source: 'shop-export',
    type: 'PurchaseCompleted',
    eventId: { columns: ['order'] },
    customerId: 'customer',
    occurredAt: { column: 'date', format: 'iso' },
    currency: { column: 'cur' },
    payload: { orderId: { column: 'order' }, amountMinor: { column: 'total', as: 'money' } },
  },
  'm.json',
);

describe('CSV import by mapping', () => {
  it('maps rows to touchpoints with ids from the identifying column and money in minor units', () => {
    const text =
      'order,customer,date,total,cur\no-1,c-1,2026-03-01T10:00:00Z,19.99,EUR\no-2,c-2,2026-03-02,1050,JPY\n';
    const { touchpoints, rejected, rows } = csvTouchpoints(text, purchases, RECEIVED);
    expect(rejected).toEqual([]);
    expect(rows).toBe(2);
    expect(touchpoints).toEqual([
      {
        eventId: 'csv:shop-export:PurchaseCompleted:o-1',
        type: 'PurchaseCompleted',
        customerId: 'c-1',
        occurredAt: Date.parse('2026-03-01T10:00:00Z'),
        receivedAt: RECEIVED,
        source: { kind: 'import', name: 'shop-export' },
        payload: { orderId: 'o-1', amountMinor: 1999, currency: 'EUR', lineItems: [] },
      },
      expect.objectContaining({
        eventId: 'csv:shop-export:PurchaseCompleted:o-2',
        occurredAt: Date.parse('2026-03-02T00:00:00Z'),
        payload: { orderId: 'o-2', amountMinor: 1050, currency: 'JPY', lineItems: [] },
      }),
    ]);
  });

  it('rejects bad rows with their line and a reason naming the column, keeping the good ones', () => {
    const text = [
      'order,customer,date,total,cur',
      'o-1,c-1,2026-03-01,lots,EUR',
      'o-2,c-2,yesterday,5,EUR',
      'o-3,,2026-03-01,5,EUR',
      'o-4,c-4,2026-03-01,5,EUR',
    ].join('\n');
    const { touchpoints, rejected } = csvTouchpoints(text, purchases, RECEIVED);
    expect(touchpoints.map((t) => t.eventId)).toEqual(['csv:shop-export:PurchaseCompleted:o-4']);
    expect(rejected.map((r) => r.line)).toEqual([2, 3, 4]);
    expect(rejected[0]!.reason).toMatch(/payload\.amountMinor: column "total"/);
    expect(rejected[0]!.text).toBe('o-1,c-1,2026-03-01,lots,EUR');
    expect(rejected[1]!.reason).toMatch(/occurredAt: column "date": "yesterday"/);
    expect(rejected[2]!.reason).toMatch(/customerId or anonymousId is required/);
  });

  it('without an id column, derives ids from row content: same rows in another order, same ids', () => {
    const mapping = parseCsvMapping(
      {
        type: { column: 'kind', values: { view: 'PageViewed', nps: 'SurveyAnswered' } },
        anonymousId: 'visitor',
        occurredAt: { column: 'ts', format: 'epoch-s' },
        payload: {
          path: { column: 'path', optional: true },
          surveyId: { column: 'survey', optional: true },
          nps: { column: 'score', as: 'integer', optional: true },
        },
      },
      'm.json',
    );
    const header = 'kind,visitor,ts,path,survey,score';
    const rows = ['view,a1,1772000000,/,,', 'view,a1,1772000000,/,,', 'nps,a1,1772000100,,q1,9'];
    const first = csvTouchpoints([header, ...rows].join('\n'), mapping, RECEIVED);
    const again = csvTouchpoints([header, ...[...rows].reverse()].join('\n'), mapping, RECEIVED);
    expect(first.rejected).toEqual([]);
    expect(first.touchpoints).toHaveLength(3);
    // Two identical rows are two events (the second is numbered), not one.
    expect(new Set(first.touchpoints.map((t) => t.eventId)).size).toBe(3);
    expect(new Set(again.touchpoints.map((t) => t.eventId))).toEqual(
      new Set(first.touchpoints.map((t) => t.eventId)),
    );
    expect(first.touchpoints[2]).toMatchObject({
      type: 'SurveyAnswered',
      payload: { surveyId: 'q1', nps: 9 },
    });
    const unknownKind = csvTouchpoints(`${header}\nclick,a1,1772000000,/,,`, mapping, RECEIVED);
    expect(unknownKind.rejected[0]!.reason).toBe('column "kind": "click" is not one of the mapped values');
  });

  it("keeps less of mapped URLs: utm_* and the allowlist's parameters, the referrer's origin; ids as before", () => {
    const views = parseCsvMapping(
      {
        type: 'PageViewed',
        anonymousId: 'visitor',
        occurredAt: { column: 'ts', format: 'epoch-s' },
        context: { pageUrl: { column: 'url' }, referrer: { column: 'ref', optional: true } },
        payload: { path: { column: 'path' } },
      },
      'views.json',
    );
    const text = [
      'visitor,ts,url,ref,path',
      'a1,1772000000,https://shop.example/cart?email=ana%40example.com&utm_source=x&page=2,' +
        'https://www.google.com/search?q=ana+lima,/cart?email=ana%40example.com&utm_source=x',
      'a2,1772000000,https://shop.example/,,/',
    ].join('\n');
    const { touchpoints, rejected } = csvTouchpoints(text, views, RECEIVED);
    expect(rejected).toEqual([]);
    expect(touchpoints.map((t) => [t.anonymousId, t.context, t.payload])).toEqual(
      expect.arrayContaining([
        [
          'a1',
          { pageUrl: 'https://shop.example/cart?utm_source=x', referrer: 'https://www.google.com/' },
          { path: '/cart?utm_source=x' },
        ],
        ['a2', { pageUrl: 'https://shop.example/' }, { path: '/' }],
      ]),
    );
    const allowing = csvTouchpoints(text, views, RECEIVED, ['page']).touchpoints;
    expect(allowing.find((t) => t.anonymousId === 'a1')!.context!.pageUrl).toBe(
      'https://shop.example/cart?utm_source=x&page=2',
    );
    // Ids come from the row as written, whatever of it the touchpoint keeps.
    expect(allowing.map((t) => t.eventId)).toEqual(touchpoints.map((t) => t.eventId));
  });

  it('names each problem of an invalid mapping by its path', () => {
    expect(() => parseCsvMapping({ type: 'Purchase', occurredAt: { column: '' } }, 'bad.json')).toThrow(
      /mapping bad\.json is invalid: .*type.*occurredAt\.column: a column name must not be empty/,
    );
  });
});
