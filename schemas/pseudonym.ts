/**
 * Keyed pseudonyms: what ciclo writes where it must name a person without naming them (the email-derived
 * anonymous id, the suppression list, the key ring, forget markers). HMAC-SHA256 under the installation's
 * secret (infra/privacy/installation-secret.ts): an unkeyed hash of an email is reversed by hashing a list of
 * emails (the EDPB's guidelines 01/2025 on pseudonymisation, section 3; the ICO's pseudonymisation guidance
 * says the same of "hashing without a key"), a keyed one only by whoever holds the secret.
 *
 * Pure: the secret is passed in.
 */
import { createHmac } from 'node:crypto';
import { secretKeyOf } from './secret-key';
import type { Touchpoint } from './touchpoint';

/** The length of a pseudonym: 22 base64url characters, 132 bits of the HMAC (collisions: none in 2^60 ids). */
const PSEUDONYM_LENGTH = 22;

/** The keyed pseudonym of an id (any id: customer, anonymous, email-derived). */
export function pseudonymOf(secret: Buffer, id: string): string {
  return createHmac('sha256', secretKeyOf(secret))
    .update(id, 'utf8')
    .digest('base64url')
    .slice(0, PSEUDONYM_LENGTH);
}

/** An email as ids are derived from it: trimmed, lower-cased. */
export function normalizedEmail(email: string): string {
  return email.trim().toLowerCase();
}

/**
 * The anonymous id an email stands for where a provider names a person by email only (SendGrid, Stripe,
 * Typeform): `email:` and the keyed pseudonym of the normalized email. The same email gives the same id on
 * one installation, and an id that cannot be tested against a list of emails without the secret.
 */
export function emailAnonymousId(secret: Buffer, email: string): string {
  return `email:${pseudonymOf(secret, `email:${normalizedEmail(email)}`)}`;
}

/** An email address as an id (what `email:` ids stand for); zod's rule for emails is stricter still. */
const EMAIL_LIKE = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;

export function isEmailLike(id: string): boolean {
  return EMAIL_LIKE.test(id.trim());
}

/**
 * An id as ciclo keeps it: an email sent as an id (a userId, an anonymousId, an alias's previous id, a
 * referee) becomes its email id, so that topics, which are keyed by ids, never hold the address, and a
 * person known by email to a provider and to the site is one id. Any other id stays as sent.
 */
export function keptId(secret: Buffer, id: string): string {
  return isEmailLike(id) ? emailAnonymousId(secret, id) : id;
}

/** The touchpoint with every id it names as `keptId` keeps it (the same object when none changes). */
export function withKeptIds<T extends Touchpoint>(secret: Buffer, tp: T): T {
  const customerId = tp.customerId === undefined ? undefined : keptId(secret, tp.customerId);
  const anonymousId = tp.anonymousId === undefined ? undefined : keptId(secret, tp.anonymousId);
  let payload: Touchpoint['payload'] = tp.payload;
  if (tp.type === 'Aliased') {
    const previousId = keptId(secret, tp.payload.previousId);
    if (previousId !== tp.payload.previousId) payload = { ...tp.payload, previousId };
  } else if (tp.type === 'ReferralMade' && tp.payload.refereeId !== undefined) {
    const refereeId = keptId(secret, tp.payload.refereeId);
    if (refereeId !== tp.payload.refereeId) payload = { ...tp.payload, refereeId };
  }
  if (customerId === tp.customerId && anonymousId === tp.anonymousId && payload === tp.payload) return tp;
  return {
    ...tp,
    ...(customerId !== undefined ? { customerId } : {}),
    ...(anonymousId !== undefined ? { anonymousId } : {}),
    payload,
  };
}
