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

/** The length of a pseudonym: 22 base64url characters, 132 bits of the HMAC (collisions: none in 2^60 ids). */
const PSEUDONYM_LENGTH = 22;

/** The keyed pseudonym of an id (any id: customer, anonymous, email-derived). */
export function pseudonymOf(secret: Buffer, id: string): string {
  return createHmac('sha256', secret).update(id, 'utf8').digest('base64url').slice(0, PSEUDONYM_LENGTH);
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
