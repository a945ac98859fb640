import { createHmac, generateKeyPairSync, sign } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { emailAnonymousId } from '../../schemas/pseudonym';
import { loopbackInject } from '../../test/support/loopback';
import { sentTouchpoints } from '../edge/fakes';
import { TEST_NOW, testCollector } from '../server/fakes';
import { parseSendgridPublicKey, webhooksConfig } from './config';
import { TEST_PSEUDONYM_SECRET } from './fakes';

const STRIPE_SECRET = 'whsec_test_0a1b2c3d4e5f';
const TYPEFORM_SECRET = '8f2d0c4b6a1e3f5d7c9b';
const sendgridKeys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });

/** Fixture files are sent byte for byte, as the provider sent them: the signature covers those bytes. */
const fixture = (name: string): Buffer => fs.readFileSync(path.join(__dirname, 'fixtures', name));

// Each provider's documented signing, written out here independently of the code under test.
const stripeSignature = (body: Buffer, t = Math.floor(TEST_NOW / 1000), secret = STRIPE_SECRET): string =>
  `t=${t},v1=${createHmac('sha256', secret).update(`${t}.`).update(body).digest('hex')}`;
const typeformSignature = (body: Buffer, secret = TYPEFORM_SECRET): string =>
  `sha256=${createHmac('sha256', secret).update(body).digest('base64')}`;
const sendgridHeaders = (body: Buffer, timestamp = '1773480600'): Record<string, string> => ({
  'x-twilio-email-event-webhook-timestamp': timestamp,
  'x-twilio-email-event-webhook-signature': sign(
    'sha256',
    Buffer.concat([Buffer.from(timestamp), body]),
    sendgridKeys.privateKey,
  ).toString('base64'),
});

const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

function setup() {
  const { app, producer, logs } = testCollector({
    config: { sendTimeoutMs: 50 },
    webhooks: webhooksConfig({
      stripe: { secrets: [STRIPE_SECRET] },
      toleranceSeconds: 300,
      pseudonymSecret: TEST_PSEUDONYM_SECRET,
      typeform: { secrets: [TYPEFORM_SECRET] },
      sendgrid: {
        publicKeys: [
          parseSendgridPublicKey(
            sendgridKeys.publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
          ),
        ],
      },
    }),
  });
  apps.push(app);
  const post = (url: string, body: Buffer, headers: Record<string, string>) =>
    loopbackInject(app, {
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json', ...headers },
      payload: body,
    });
  return { app, producer, post, logs };
}

describe('POST /webhooks/stripe', () => {
  const body = fixture('stripe/checkout.session.completed.json');

  it('verifies the signature over the raw bytes, produces the purchase, and answers 202', async () => {
    const { producer, post } = setup();
    const res = await post('/webhooks/stripe', body, { 'stripe-signature': stripeSignature(body) });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({
      success: true,
      accepted: 1,
      eventIds: ['stripe:evt_1PqR7sLkdIwHu7ix5tNvb0Ck'],
      ignored: [],
    });
    expect(producer.sent[0]!.messages[0]!.key).toBe('cus_8c1f2a');
    expect(sentTouchpoints(producer)[0]).toMatchObject({ type: 'PurchaseCompleted', receivedAt: TEST_NOW });
  });

  it('gives a redelivery the same eventId', async () => {
    const { producer, post } = setup();
    await post('/webhooks/stripe', body, { 'stripe-signature': stripeSignature(body) });
    await post('/webhooks/stripe', body, {
      'stripe-signature': stripeSignature(body, Math.floor(TEST_NOW / 1000) - 60),
    });
    const ids = sentTouchpoints(producer).map((tp) => tp.eventId);
    expect(ids).toEqual(['stripe:evt_1PqR7sLkdIwHu7ix5tNvb0Ck', 'stripe:evt_1PqR7sLkdIwHu7ix5tNvb0Ck']);
  });

  it.each([
    ['no signature', {}],
    ['another secret', { 'stripe-signature': stripeSignature(body, undefined, 'whsec_other') }],
    ['a stale timestamp', { 'stripe-signature': stripeSignature(body, Math.floor(TEST_NOW / 1000) - 3600) }],
  ])('answers 401 and produces nothing for %s', async (_case, headers: Record<string, string>) => {
    const { producer, post } = setup();
    const res = await post('/webhooks/stripe', body, headers);
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ success: false, code: 'SIGNATURE_INVALID', produced: 0 });
    expect(producer.sent).toEqual([]);
  });

  it('answers 401 for a body changed after signing (re-serialised JSON)', async () => {
    const { producer, post } = setup();
    const reserialised = Buffer.from(JSON.stringify(JSON.parse(body.toString('utf8'))));
    const res = await post('/webhooks/stripe', reserialised, { 'stripe-signature': stripeSignature(body) });
    expect(res.statusCode).toBe(401);
    expect(producer.sent).toEqual([]);
  });

  it('logs bad signatures at most once per 10 s, however many arrive', async () => {
    const { post, logs } = setup();
    for (let i = 0; i < 20; i++)
      expect((await post('/webhooks/stripe', body, { 'stripe-signature': `t=1,v1=${i}` })).statusCode).toBe(
        401,
      );
    const lines = logs()
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === 'webhook signature rejected');
    expect(lines).toHaveLength(1);
  });

  it('answers 200 for an event type it does not record, saying so', async () => {
    const { producer, post } = setup();
    const ignored = fixture('stripe/payment_intent.created.json');
    const res = await post('/webhooks/stripe', ignored, { 'stripe-signature': stripeSignature(ignored) });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      accepted: 0,
      ignored: [
        { id: 'evt_3PqT1aLkdIwHu7ix0PiCreat', reason: 'event type payment_intent.created is not mapped' },
      ],
    });
    expect(producer.sent).toEqual([]);
  });

  it('answers 400 for a signed body that is not JSON, and 503 with Retry-After when Kafka is down', async () => {
    const { producer, post } = setup();
    const notJson = Buffer.from('not json');
    const bad = await post('/webhooks/stripe', notJson, { 'stripe-signature': stripeSignature(notJson) });
    expect(bad.statusCode).toBe(400);
    producer.behaviour = 'reject';
    const down = await post('/webhooks/stripe', body, { 'stripe-signature': stripeSignature(body) });
    expect(down.statusCode).toBe(503);
    expect(down.headers['retry-after']).toBe('5');
  });
});

describe('POST /webhooks/sendgrid', () => {
  const body = fixture('sendgrid/documented-events.json');

  it("verifies the ECDSA signature and produces the mapped events of SendGrid's documented delivery", async () => {
    const { producer, post } = setup();
    const res = await post('/webhooks/sendgrid', body, sendgridHeaders(body));
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ accepted: 8, ignored: [{}, {}, {}] });
    expect(producer.sent[0]!.messages).toHaveLength(8);
    // Addresses without a customer arg become the installation's keyed pseudonym, as config gives it.
    expect(sentTouchpoints(producer)[0]!.anonymousId).toBe(
      emailAnonymousId(TEST_PSEUDONYM_SECRET, 'example@test.com'),
    );
  });

  it('answers 401 for a signature over another timestamp, producing nothing', async () => {
    const { producer, post } = setup();
    const headers = { ...sendgridHeaders(body), 'x-twilio-email-event-webhook-timestamp': '1773480601' };
    expect((await post('/webhooks/sendgrid', body, headers)).statusCode).toBe(401);
    expect(producer.sent).toEqual([]);
  });

  it('answers 401 to a validly signed delivery replayed after the window, producing nothing', async () => {
    const { producer, post } = setup();
    const tenMinutesAgo = String(Math.floor(TEST_NOW / 1000) - 600);
    const res = await post('/webhooks/sendgrid', body, sendgridHeaders(body, tenMinutesAgo));
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ code: 'SIGNATURE_INVALID' });
    expect(res.json<{ detail: string }>().detail).toMatch(/600 s from now/);
    expect(producer.sent).toEqual([]);
  });
});

describe('POST /webhooks/typeform', () => {
  const body = fixture('typeform/nps_response.json');

  it('verifies Typeform-Signature and produces the survey answer', async () => {
    const { producer, post } = setup();
    const res = await post('/webhooks/typeform', body, { 'typeform-signature': typeformSignature(body) });
    expect(res.statusCode).toBe(202);
    expect(sentTouchpoints(producer)).toMatchObject([
      { type: 'SurveyAnswered', customerId: 'cus_8c1f2a', payload: { surveyId: 'nps_q1', nps: 9 } },
    ]);
  });

  it('answers 401 for a missing or wrong signature', async () => {
    const { producer, post } = setup();
    expect((await post('/webhooks/typeform', body, {})).statusCode).toBe(401);
    expect(
      (await post('/webhooks/typeform', body, { 'typeform-signature': typeformSignature(body, 'x') }))
        .statusCode,
    ).toBe(401);
    expect(producer.sent).toEqual([]);
  });
});

describe('webhooks without configured secrets', () => {
  it('answer 401: an unverifiable delivery is never accepted', async () => {
    const { app } = testCollector();
    apps.push(app);
    const body = fixture('typeform/nps_response.json');
    const res = await loopbackInject(app, {
      method: 'POST',
      url: '/webhooks/typeform',
      headers: { 'content-type': 'application/json', 'typeform-signature': typeformSignature(body) },
      payload: body,
    });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ detail: 'no Typeform secret is configured' });
  });
});
