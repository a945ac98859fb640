import campaignDelivery from './fixtures/sendgrid/campaign-delivery.json';
import documentedEvents from './fixtures/sendgrid/documented-events.json';
import { createHash } from 'node:crypto';
import { emailAnonymousId } from '../../schemas/pseudonym';
import { TEST_PSEUDONYM_SECRET } from './fakes';
import type { WebhookContext, WebhookMapping } from './outcome';
import { mapSendgridDelivery } from './sendgrid';

const receivedAt = Date.UTC(2026, 2, 14, 10, 0);
const ctx: WebhookContext = { receivedAt, pseudonymSecret: TEST_PSEUDONYM_SECRET, urlQueryAllowlist: [] };
const map = (body: unknown, context = ctx): WebhookMapping => mapSendgridDelivery(body, context);

function mapped(body: unknown, context = ctx) {
  const result = map(body, context);
  if (!result.ok) throw new Error(`expected touchpoints, got ${JSON.stringify(result.problems)}`);
  return result;
}

describe('SendGrid Event Webhook deliveries to email touchpoints', () => {
  it("maps SendGrid's documented example of every event type", () => {
    const { touchpoints, ignored } = mapped(documentedEvents);
    expect(touchpoints.map((tp) => [tp.type, tp.eventId])).toEqual([
      ['EmailSent', 'sendgrid:processed:sg_event_id'],
      ['EmailDelivered', 'sendgrid:delivered:sg_event_id'],
      ['EmailOpened', 'sendgrid:open:sg_event_id'],
      ['EmailClicked', 'sendgrid:click:sg_event_id'],
      ['EmailBounced', 'sendgrid:bounce:sg_event_id'],
      ['EmailUnsubscribed', 'sendgrid:spamreport:sg_event_id'],
      ['EmailUnsubscribed', 'sendgrid:unsubscribe:sg_event_id'],
      ['EmailUnsubscribed', 'sendgrid:group_unsubscribe:sg_event_id'],
    ]);
    expect(ignored.map((i) => i.reason)).toEqual([
      'event deferred is not mapped',
      'event dropped is not mapped',
      'event group_resubscribe is not mapped',
    ]);
    expect(touchpoints[3]).toEqual({
      eventId: 'sendgrid:click:sg_event_id',
      type: 'EmailClicked',
      anonymousId: emailAnonymousId(TEST_PSEUDONYM_SECRET, 'example@test.com'),
      occurredAt: 1513299569_000,
      receivedAt,
      source: { kind: 'webhook', name: 'sendgrid' },
      payload: { campaignId: 'cat facts', messageId: 'sg_message_id', url: 'http://www.sendgrid.com/' },
    });
    expect(touchpoints[4]?.payload).toMatchObject({ bounceType: 'hard' });
    expect(JSON.stringify(touchpoints)).not.toContain('example@test.com');
  });

  it('takes the customer and campaign from custom args; machine opens are not engagement; blocked is a soft bounce', () => {
    const { touchpoints, ignored } = mapped(campaignDelivery);
    expect(touchpoints.map((tp) => [tp.type, tp.customerId ?? tp.anonymousId, tp.payload])).toEqual([
      [
        'EmailDelivered',
        'cus_8c1f2a',
        { campaignId: 'cmp_spring', messageId: '14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0' },
      ],
      [
        'EmailClicked',
        'cus_8c1f2a',
        {
          campaignId: 'cmp_spring',
          messageId: '14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0',
          url: 'https://shop.example/spring',
        },
      ],
      [
        'EmailBounced',
        emailAnonymousId(TEST_PSEUDONYM_SECRET, 'noemail@this.does.not.exist.tld'),
        {
          campaignId: '12345',
          messageId: 'euo2iKxdSayPF4YE4--I7A.recvd-5f54b5d587-pczjm-1-67BADEEA-6.0',
          bounceType: 'soft',
        },
      ],
    ]);
    expect(ignored).toEqual([
      {
        id: 'Ym91bmNlLTQtNTA0ODUxOTUtZXVvMmlLeGRTYXlQRjRZRTQtLUk3QS0w',
        reason: 'machine open (privacy proxy), not engagement',
      },
    ]);
  });

  it('names someone known only by address with a keyed pseudonym: no hash anyone can recompute from it', () => {
    const click = [{ event: 'click', sg_event_id: 'e1', timestamp: 1513299569, email: ' Ana@Example.com' }];
    const id = mapped(click).touchpoints[0]!.anonymousId!;
    expect(id).toBe(emailAnonymousId(TEST_PSEUDONYM_SECRET, 'ana@example.com'));
    // Not the unsalted SHA-256 of the address that ciclo wrote before, whole or cut.
    const unkeyed = createHash('sha256').update('ana@example.com').digest();
    expect(id).not.toContain(unkeyed.toString('hex').slice(0, 16));
    expect(id).not.toContain(unkeyed.toString('base64url').slice(0, 16));
    // Another installation (another secret) names the same address otherwise.
    const elsewhere = map(click, { ...ctx, pseudonymSecret: Buffer.alloc(32, 1) });
    expect(elsewhere.ok && elsewhere.touchpoints[0]!.anonymousId).not.toBe(id);
  });

  it('keeps of a clicked link its scheme, host, port, path, and utm_* and allowed query parameters', () => {
    const click = [
      {
        event: 'click',
        sg_event_id: 'e2',
        timestamp: 1513299569,
        customer_id: 'cus_8c1f2a',
        url: 'https://shop.example/reset?token=t0k3n&email=ana%40example.com&utm_campaign=spring&lang=pt#form',
      },
    ];
    expect(mapped(click).touchpoints[0]!.payload).toMatchObject({
      url: 'https://shop.example/reset?utm_campaign=spring',
    });
    expect(mapped(click, { ...ctx, urlQueryAllowlist: ['lang'] }).touchpoints[0]!.payload).toMatchObject({
      url: 'https://shop.example/reset?utm_campaign=spring&lang=pt',
    });
  });

  it('derives a contract-safe, stable eventId from a base64 sg_event_id', () => {
    const first = mapped(campaignDelivery).touchpoints[0]!.eventId;
    expect(first).toMatch(/^sendgrid:h\.[0-9a-f]{40}$/);
    expect(mapped(JSON.parse(JSON.stringify(campaignDelivery))).touchpoints[0]!.eventId).toBe(first);
  });

  it('reports each bad event by its index in the delivery', () => {
    expect(map([{ event: 'open', timestamp: 1513299569, email: 'a@b.c' }, 'x'])).toEqual({
      ok: false,
      problems: [
        expect.objectContaining({ path: '0.sg_event_id', rule: 'invalid_type' }),
        expect.objectContaining({ path: '1', rule: 'invalid_type' }),
      ],
    });
    expect(map({ event: 'open' })).toMatchObject({
      ok: false,
      problems: [{ path: '', rule: 'invalid_type' }],
    });
    expect(map([{ event: 'open', timestamp: 1513299569, sg_event_id: 'e1' }])).toEqual({
      ok: false,
      problems: [{ path: '0.email', rule: 'custom', message: 'customerId or anonymousId is required' }],
    });
  });
});
