/**
 * Each provider's documented signature scheme, verified over the raw request body bytes exactly as they
 * arrived (any re-serialised JSON would differ). Pure: the current time is passed in. Digests are compared
 * in constant time.
 *
 * - Stripe (https://docs.stripe.com/webhooks#verify-manually): header `Stripe-Signature: t=<unix>,v1=<hex>`
 *   (several v1 during secret rotation); v1 = hex HMAC-SHA256 of `<t>.<raw body>` keyed by the endpoint
 *   secret.
 * - Typeform (https://www.typeform.com/developers/webhooks/secure-your-webhooks/): header
 *   `Typeform-Signature: sha256=<base64 HMAC-SHA256 of the raw body keyed by the webhook secret>`.
 * - SendGrid Signed Event Webhook (https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features):
 *   header `X-Twilio-Email-Event-Webhook-Signature` is a base64 DER ECDSA (P-256, SHA-256) signature of
 *   `X-Twilio-Email-Event-Webhook-Timestamp` + raw body, verified with the account's public key.
 *
 * A signed timestamp (Stripe's and SendGrid's) is held to one replay window, `checkSignedTimestamp`: a
 * valid signature is refused once its timestamp is further from now than the tolerance (300 s by default,
 * Stripe's libraries' default; SendGrid documents none), so a captured delivery cannot be replayed later.
 */
import { createHmac, timingSafeEqual, verify, type KeyObject } from 'node:crypto';

export type Verification = { readonly ok: true } | { readonly ok: false; readonly reason: string };

const OK: Verification = { ok: true };
const fail = (reason: string): Verification => ({ ok: false, reason });

function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The replay window: a signed Unix timestamp (seconds) at most `toleranceSeconds` from now, either way.
 * Checked only after the signature matched, so a forged header learns nothing from the answer's timing.
 */
export function checkSignedTimestamp(
  timestamp: string,
  nowMs: number,
  toleranceSeconds: number,
  header: string,
): Verification {
  if (!/^\d{1,12}$/.test(timestamp)) return fail(`${header} is not a Unix time in seconds`);
  const ageSeconds = Math.abs(Math.floor(nowMs / 1000) - Number(timestamp));
  return ageSeconds > toleranceSeconds ? fail(`${header} is ${ageSeconds} s from now`) : OK;
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
  return checkSignedTimestamp(timestamp, input.nowMs, input.toleranceSeconds, 'Stripe-Signature timestamp');
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
  readonly nowMs: number;
  readonly toleranceSeconds: number;
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
  if (!matched) return fail('X-Twilio-Email-Event-Webhook-Signature does not verify');
  return checkSignedTimestamp(
    input.timestamp,
    input.nowMs,
    input.toleranceSeconds,
    'X-Twilio-Email-Event-Webhook-Timestamp',
  );
}
