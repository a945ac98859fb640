/**
 * What the collector has done since it started, in events: received, produced to Kafka, rejected as
 * invalid or unsigned, refused because Kafka could not take them, and ignored on purpose (provider events
 * ciclo does not model). Reported on GET /health.
 */
export interface Counters {
  received: number;
  produced: number;
  invalid: number;
  unauthorized: number;
  unavailable: number;
  ignored: number;
}

export function createCounters(): Counters {
  return { received: 0, produced: 0, invalid: 0, unauthorized: 0, unavailable: 0, ignored: 0 };
}
