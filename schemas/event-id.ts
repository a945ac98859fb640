/**
 * Event ids. A touchpoint's eventId is its idempotency key downstream, so it must be the same every time
 * the same event arrives: the sender's own id when it has one (Segment's messageId, Stripe's event id,
 * SendGrid's sg_event_id, Typeform's response token, a CSV row's key columns), else a hash of the event's
 * content. Every edge derives ids here, and so does `ciclo clv refit` for the predictions it feeds back.
 *
 * Each way in mints under a prefix of its own (`seg:` the collector, `stripe:`, `sendgrid:`, `typeform:`,
 * `csv:<source>:`, `cdnow:`, `clv:`, `sim-` the simulator), and an id a sender chose is never used as it
 * is: the collector scopes a messageId by `seg:` and the write key's source (`collectorEventId`), so no
 * client, least of all a browser holding a public key, can send an id another source mints and shadow
 * its event in dedupe.
 */
import { createHash } from 'node:crypto';

/** The characters an eventId may contain (the touchpoint contract's rule, touchpoint.ts). */
export const EVENT_ID_PATTERN = /^[A-Za-z0-9._:@-]+$/;
export const EVENT_ID_MAX_LENGTH = 128;

export function isSafeEventId(id: string): boolean {
  return id.length > 0 && id.length <= EVENT_ID_MAX_LENGTH && EVENT_ID_PATTERN.test(id);
}

/** JSON with object keys sorted at every level, so equal content always gives equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** A deterministic id for content that carries no id of its own: `<prefix>:<128 bits of SHA-256>`. */
export function contentEventId(prefix: string, content: unknown): string {
  return `${prefix}:${sha256Hex(canonicalJson(content)).slice(0, 32)}`;
}

/**
 * An eventId derived from a provider's own identifiers, e.g. `stripe:evt_1N...`. Parts that fall outside
 * the contract's character set (SendGrid's base64 sg_event_id has `=`, `+` and `/`) or would make the id too
 * long are replaced by a hash of themselves, so the mapping stays one-to-one and stable.
 */
export function providerEventId(provider: string, ...parts: readonly string[]): string {
  const plain = [provider, ...parts].join(':');
  if (isSafeEventId(plain)) return plain;
  return `${provider}:h.${sha256Hex(canonicalJson(parts)).slice(0, 40)}`;
}

/**
 * The eventId of a Segment call with a messageId, sent with a write key of `source`:
 * `seg:<source>:<messageId>`. The same messageId from the same source is the same event (Segment's
 * idempotency key: a retry dedupes); from another source it is another event, and it can never equal an id
 * of another way in (see the prefixes above). A messageId the contract cannot carry (characters outside
 * EVENT_ID_PATTERN, or too long once scoped) becomes `seg:<source>:h.<hash>`; a messageId that itself
 * starts with `h.` is hashed too, so that no sent id can spell another's hash.
 */
export function collectorEventId(source: string, messageId: string): string {
  const plain = `seg:${source}:${messageId}`;
  if (!messageId.startsWith('h.') && isSafeEventId(plain)) return plain;
  return `seg:${source}:h.${sha256Hex(messageId).slice(0, 40)}`;
}
