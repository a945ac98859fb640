/**
 * What the collector has done since it started, in events: received, produced to Kafka, rejected as
 * invalid or unsigned, refused because Kafka could not take them, ignored on purpose (provider events
 * ciclo does not model), and produced with their event time clamped to receivedAt (a browser key's time
 * outside the window even after skew correction, event-time.ts), by the kind of write key. Reported on
 * GET /health.
 */
export interface Counters {
  received: number;
  produced: number;
  invalid: number;
  unauthorized: number;
  unavailable: number;
  ignored: number;
  /** Produced with occurredAt clamped to receivedAt, by source kind (only browser keys are clamped today). */
  clamped: { snippet: number; api: number };
}

export function createCounters(): Counters {
  return {
    received: 0,
    produced: 0,
    invalid: 0,
    unauthorized: 0,
    unavailable: 0,
    ignored: 0,
    clamped: { snippet: 0, api: 0 },
  };
}
