/**
 * What a provider mapping returns, as data: the touchpoints to produce plus the provider events it
 * deliberately does not record (with the reason), or every problem with the payload.
 */
import type { Touchpoint } from '../../schemas/touchpoint';
import type { ValidationProblem } from '../../schemas/validation';
import type { QueryAllowlist } from '../edge/url-minimization';

export interface IgnoredEvent {
  /** The provider's id for the event (Stripe event id, SendGrid sg_event_id, Typeform token). */
  readonly id: string;
  readonly reason: string;
}

export type WebhookMapping =
  | {
      readonly ok: true;
      readonly touchpoints: readonly Touchpoint[];
      readonly ignored: readonly IgnoredEvent[];
    }
  | { readonly ok: false; readonly problems: readonly ValidationProblem[] };

export interface WebhookContext {
  /** When ciclo received the delivery (ms since the epoch). */
  readonly receivedAt: number;
  /**
   * The installation's secret: someone known only by email address gets `emailAnonymousId(secret, email)`
   * (schemas/pseudonym.ts), the same in every provider's events, so they stay together, without the
   * address, or a hash anyone can recompute from it, on Kafka. A later alias can merge it into a customer.
   */
  readonly pseudonymSecret: Buffer;
  /** Query parameters a link keeps besides `utm_*` (../edge/url-minimization.ts), as the collector's. */
  readonly urlQueryAllowlist: QueryAllowlist;
}

export function isRecord(value: unknown): value is Readonly<Record<string, unknown>> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A non-empty string, or undefined. */
export function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}
