/**
 * Each provider's documented signature scheme, verified over the raw request body bytes exactly as they
 * arrived (any re-serialised JSON would differ). Pure: the current time is passed in. Digests are compared
 * in constant time.
 *
 * - Stripe (https://docs.stripe.com/webhooks#verify-manually): header `Stripe-Signature: t=<unix>,v1=<hex>`
 *   (several v1 during secret rotation); v1 = hex HMAC-SHA256 of `<t>.<raw body>` keyed by the endpoint
 *   secret; a timestamp further than the tolerance (default 300 s) from now is refused against replays.
 * - Typeform (https://www.typeform.com/developers/webhooks/secure-your-webhooks/): header
 *   `Typeform-Signature: sha256=<base64 HMAC-SHA256 of the raw body keyed by the webhook secret>`.
 * - SendGrid Signed Event Webhook (https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features):
 *   header `X-Twilio-Email-Event-Webhook-Signature` is a base64 DER ECDSA (P-256, SHA-256) signature of
 *   `X-Twilio-Email-Event-Webhook-Timestamp` + raw body, verified with the account's public key.
 */
import { createHmac, timingSafeEqual, verify, type KeyObject } from 'node:crypto';

export type Verification = { readonly ok: true } | { readonly ok: false; readonly reason: string };

const OK: Verification = { ok: true };
const fail = (reason: string): Verification => ({ ok: false, reason });

function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export function stripeSignature(secret: string, timestamp: number | string, rawBody: Buffer): string {
  return createHmac('sha256', secret).update(`${timestamp}.`, 'utf8').update(rawBody).digest('hex');
}

export function verifyStripeSignature(input: {
  readonly rawBody: Buffer;
  readonly header: string | undefined;
  readonly secrets: readonly string[];
  readonly nowMs: number;
  readonly toleranceSeconds: number;
}): Verification {
  if (input.secrets.length === 0) return fail('no Stripe signing secret is configured');
  if (!input.header) return fail('Stripe-Signature header is missing');
  let timestamp: string | undefined;
  const signatures: string[] = [];
  for (const item of input.header.split(',')) {
    const eq = item.indexOf('=');
    if (eq < 0) continue;
    const key = item.slice(0, eq).trim();
    const value = item.slice(eq + 1).trim();
    if (key === 't') timestamp = value;
    else if (key === 'v1') signatures.push(value);
  }
  if (timestamp === undefined || !/^\d{1,12}$/.test(timestamp))
    return fail('Stripe-Signature has no timestamp');
  if (signatures.length === 0) return fail('Stripe-Signature has no v1 signature');
  const matched = input.secrets.some((secret) => {
    const expected = Buffer.from(stripeSignature(secret, timestamp, input.rawBody), 'hex');
    return signatures.some((s) => /^[0-9a-f]{64}$/i.test(s) && safeEqual(expected, Buffer.from(s, 'hex')));
  });
  if (!matched) return fail('no Stripe signature matches the body');
  // Checked after the signature, so an attacker learns nothing about timing from a forged header.
  const ageSeconds = Math.abs(Math.floor(input.nowMs / 1000) - Number(timestamp));
  if (ageSeconds > input.toleranceSeconds)
    return fail(`Stripe-Signature timestamp is ${ageSeconds} s from now`);
  return OK;
}

export function typeformSignature(secret: string, rawBody: Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(rawBody).digest('base64')}`;
}

export function verifyTypeformSignature(input: {
  readonly rawBody: Buffer;
  readonly header: string | undefined;
  readonly secrets: readonly string[];
}): Verification {
  if (input.secrets.length === 0) return fail('no Typeform secret is configured');
  if (!input.header) return fail('Typeform-Signature header is missing');
  const received = Buffer.from(input.header.trim(), 'utf8');
  const matched = input.secrets.some((secret) =>
    safeEqual(Buffer.from(typeformSignature(secret, input.rawBody), 'utf8'), received),
  );
  return matched ? OK : fail('Typeform-Signature does not match the body');
}

export function verifySendgridSignature(input: {
  readonly rawBody: Buffer;
  readonly signature: string | undefined;
  readonly timestamp: string | undefined;
  readonly publicKeys: readonly KeyObject[];
}): Verification {
  if (input.publicKeys.length === 0) return fail('no SendGrid verification key is configured');
  if (!input.signature) return fail('X-Twilio-Email-Event-Webhook-Signature header is missing');
  if (!input.timestamp) return fail('X-Twilio-Email-Event-Webhook-Timestamp header is missing');
  const signed = Buffer.concat([Buffer.from(input.timestamp, 'utf8'), input.rawBody]);
  const signature = Buffer.from(input.signature, 'base64');
  const matched = input.publicKeys.some((key) => {
    try {
      return verify('sha256', signed, key, signature);
    } catch {
      return false; // a malformed DER signature is a bad signature, not a server error
    }
  });
  return matched ? OK : fail('X-Twilio-Email-Event-Webhook-Signature does not verify');
}
