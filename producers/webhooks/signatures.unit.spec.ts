import { createHmac, generateKeyPairSync, sign } from 'node:crypto';
import signedSample from './fixtures/sendgrid/signed-sample.json';
import { parseSendgridPublicKey } from './config';
import {
  checkSignedTimestamp,
  verifySendgridSignature,
  verifyStripeSignature,
  verifyTypeformSignature,
  type Verification,
} from './signatures';

const body = Buffer.from('{"id":"evt_1","object":"event","type":"charge.succeeded"}\n', 'utf8');
const now = Date.UTC(2026, 2, 14, 9, 30);
const t = Math.floor(now / 1000);
const secret = 'whsec_test_5f0e6b0c3f1d4c2a9e8b7a6d5c4b3a2f';

/** Stripe's documented scheme, written out independently of the code under test. */
function stripeHeader(opts: { secret?: string; timestamp?: number; payload?: Buffer } = {}): string {
  const ts = opts.timestamp ?? t;
  const signed = Buffer.concat([Buffer.from(`${ts}.`), opts.payload ?? body]);
  return `t=${ts},v1=${createHmac('sha256', opts.secret ?? secret)
    .update(signed)
    .digest('hex')}`;
}

const stripe = (
  header: string | undefined,
  extra: { secrets?: string[]; nowMs?: number; rawBody?: Buffer } = {},
): Verification =>
  verifyStripeSignature({
    rawBody: extra.rawBody ?? body,
    header,
    secrets: extra.secrets ?? [secret],
    nowMs: extra.nowMs ?? now,
    toleranceSeconds: 300,
  });

describe('Stripe-Signature', () => {
  it('accepts a v1 HMAC-SHA256 of "<t>.<raw body>" within the tolerance', () => {
    expect(stripe(stripeHeader())).toEqual({ ok: true });
    expect(stripe(stripeHeader(), { nowMs: now + 299_000 })).toEqual({ ok: true });
  });

  it('accepts any matching v1 and any configured secret, as during secret rotation', () => {
    const old = stripeHeader({ secret: 'whsec_old' }).split(',')[1];
    expect(stripe(`${stripeHeader()},${old},v0=deadbeef`)).toEqual({ ok: true });
    expect(stripe(stripeHeader({ secret: 'whsec_new' }), { secrets: [secret, 'whsec_new'] })).toEqual({
      ok: true,
    });
  });

  it('refuses a changed body, another secret, and missing or malformed headers', () => {
    expect(stripe(stripeHeader(), { rawBody: Buffer.from(body.toString().trim()) })).toMatchObject({
      ok: false,
    });
    expect(stripe(stripeHeader({ secret: 'whsec_other' }))).toEqual({
      ok: false,
      reason: 'no Stripe signature matches the body',
    });
    expect(stripe(undefined)).toEqual({ ok: false, reason: 'Stripe-Signature header is missing' });
    expect(stripe(`v1=${'a'.repeat(64)}`)).toEqual({
      ok: false,
      reason: 'Stripe-Signature has no timestamp',
    });
    expect(stripe(`t=${t}`)).toEqual({ ok: false, reason: 'Stripe-Signature has no v1 signature' });
    expect(stripe(`t=${t},v1=not-hex`)).toMatchObject({ ok: false });
    expect(stripe(stripeHeader(), { secrets: [] })).toEqual({
      ok: false,
      reason: 'no Stripe signing secret is configured',
    });
  });

  it('refuses a valid signature outside the tolerance, either way (replays, clock games)', () => {
    expect(stripe(stripeHeader({ timestamp: t - 301 }))).toEqual({
      ok: false,
      reason: 'Stripe-Signature timestamp is 301 s from now',
    });
    expect(stripe(stripeHeader({ timestamp: t + 3600 }))).toMatchObject({ ok: false });
  });
});

describe('Typeform-Signature', () => {
  const tfSecret = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';
  const header = (s = tfSecret, payload = body): string =>
    `sha256=${createHmac('sha256', s).update(payload).digest('base64')}`;
  const typeform = (h: string | undefined, rawBody = body, secrets = [tfSecret]): Verification =>
    verifyTypeformSignature({ rawBody, header: h, secrets });

  it('accepts sha256=<base64 HMAC-SHA256 of the raw body>', () => {
    expect(typeform(header())).toEqual({ ok: true });
  });

  it('refuses another secret, a changed body (even a dropped trailing newline) and a missing header', () => {
    expect(typeform(header('other'))).toMatchObject({ ok: false });
    expect(typeform(header(), Buffer.from(body.toString().trimEnd()))).toMatchObject({ ok: false });
    expect(typeform(header().replace('sha256=', 'sha1='))).toMatchObject({ ok: false });
    expect(typeform(undefined)).toEqual({ ok: false, reason: 'Typeform-Signature header is missing' });
    expect(typeform(header(), body, [])).toEqual({ ok: false, reason: 'no Typeform secret is configured' });
  });
});

describe('X-Twilio-Email-Event-Webhook-Signature', () => {
  it("verifies SendGrid's own published test vector", () => {
    const publicKeys = [parseSendgridPublicKey(signedSample.publicKey)];
    const input = {
      rawBody: Buffer.from(signedSample.payload, 'utf8'),
      signature: signedSample.signature,
      timestamp: signedSample.timestamp,
      publicKeys,
      // The vector was signed on 2020-05-06: verified as of then.
      nowMs: Number(signedSample.timestamp) * 1000,
      toleranceSeconds: 300,
    };
    expect(verifySendgridSignature(input)).toEqual({ ok: true });
    expect(verifySendgridSignature({ ...input, rawBody: Buffer.from('payload') })).toMatchObject({
      ok: false,
    });
    expect(verifySendgridSignature({ ...input, timestamp: 'timestamp' })).toMatchObject({ ok: false });
  });

  it('verifies an ECDSA P-256 signature of timestamp + raw body with the configured key', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey;
    const timestamp = String(t);
    const signature = sign('sha256', Buffer.concat([Buffer.from(timestamp), body]), privateKey).toString(
      'base64',
    );
    const base64Der = publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
    const verifyWith = (keys = [parseSendgridPublicKey(base64Der)], sig: string | undefined = signature) =>
      verifySendgridSignature({
        rawBody: body,
        signature: sig,
        timestamp,
        publicKeys: keys,
        nowMs: now,
        toleranceSeconds: 300,
      });

    expect(verifyWith()).toEqual({ ok: true });
    expect(verifyWith([other, parseSendgridPublicKey(base64Der)])).toEqual({ ok: true });
    expect(verifyWith([other])).toMatchObject({ ok: false });
    expect(verifyWith(undefined, 'bm90IGEgc2lnbmF0dXJl')).toMatchObject({ ok: false });
    expect(
      verifySendgridSignature({
        rawBody: body,
        signature: undefined,
        timestamp,
        publicKeys: [other],
        nowMs: now,
        toleranceSeconds: 300,
      }),
    ).toEqual({
      ok: false,
      reason: 'X-Twilio-Email-Event-Webhook-Signature header is missing',
    });
    expect(verifyWith([])).toEqual({ ok: false, reason: 'no SendGrid verification key is configured' });
  });
});

describe('the replay window of signed timestamps', () => {
  it('refuses a validly signed SendGrid delivery once its timestamp is older (or newer) than the tolerance', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const publicKeys = [publicKey];
    const signedAt = (timestamp: string) => ({
      rawBody: body,
      timestamp,
      signature: sign('sha256', Buffer.concat([Buffer.from(timestamp), body]), privateKey).toString('base64'),
      publicKeys,
      nowMs: now,
      toleranceSeconds: 300,
    });
    expect(verifySendgridSignature(signedAt(String(t - 300)))).toEqual({ ok: true });
    expect(verifySendgridSignature(signedAt(String(t - 301)))).toEqual({
      ok: false,
      reason: 'X-Twilio-Email-Event-Webhook-Timestamp is 301 s from now',
    });
    expect(verifySendgridSignature(signedAt(String(t - 86_400)))).toMatchObject({ ok: false });
    expect(verifySendgridSignature(signedAt(String(t + 301)))).toMatchObject({ ok: false });
    // SendGrid's own published vector is from 2020: a replay of it today is refused.
    const replayed = verifySendgridSignature({
      rawBody: Buffer.from(signedSample.payload, 'utf8'),
      signature: signedSample.signature,
      timestamp: signedSample.timestamp,
      publicKeys: [parseSendgridPublicKey(signedSample.publicKey)],
      nowMs: now,
      toleranceSeconds: 300,
    });
    expect(replayed.ok ? '' : replayed.reason).toMatch(
      /^X-Twilio-Email-Event-Webhook-Timestamp is \d+ s from now$/,
    );
  });

  it('is one rule for every provider: a Unix time in seconds within the tolerance either way', () => {
    expect(checkSignedTimestamp(String(t), now, 300, 'h')).toEqual({ ok: true });
    expect(checkSignedTimestamp(String(t - 301), now, 300, 'h')).toEqual({
      ok: false,
      reason: 'h is 301 s from now',
    });
    expect(checkSignedTimestamp(String(t + 301), now, 300, 'h')).toMatchObject({ ok: false });
    expect(checkSignedTimestamp(`${t}000`, now, 300, 'h')).toMatchObject({ ok: false }); // milliseconds
    expect(checkSignedTimestamp('soon', now, 300, 'h')).toEqual({
      ok: false,
      reason: 'h is not a Unix time in seconds',
    });
  });
});
