/**
 * What the collector has done since it started, in events (calls, webhook events): received, produced to
 * Kafka, rejected as invalid (a collector call's dead letter is written, and counted again under
 * `deadLettered` once Kafka has it), forbidden for the write key that sent them, unauthorized (no or an
 * unknown write key, a bad webhook signature), rate-limited, refused because Kafka could not take them,
 * ignored on purpose (provider events ciclo does not model, Segment `group` calls), and produced with their
 * event time clamped to receivedAt (a browser key's time outside the window even after skew correction,
 * event-time.ts), by the kind of write key. Reported on GET /health.
 */
export interface Counters {
  received: number;
  produced: number;
  invalid: number;
  deadLettered: number;
  forbidden: number;
  unauthorized: number;
  rateLimited: number;
  unavailable: number;
  ignored: number;
  /** Dropped because an id of theirs was forgotten (`ciclo forget`, the suppression list). */
  suppressed: number;
  /** Produced with occurredAt clamped to receivedAt, by source kind (only browser keys are clamped today). */
  clamped: { snippet: number; api: number };
}

export function createCounters(): Counters {
  return {
    received: 0,
    produced: 0,
    invalid: 0,
    deadLettered: 0,
    forbidden: 0,
    unauthorized: 0,
    rateLimited: 0,
    unavailable: 0,
    ignored: 0,
    suppressed: 0,
    clamped: { snippet: 0, api: 0 },
  };
}
