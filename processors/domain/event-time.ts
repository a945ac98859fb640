/**
 * How far a touchpoint's event time may run ahead of the record that carries it. The collector bounds a
 * browser's clock where it enters (producers/collector); this is the same bound once more, for whatever
 * reaches the topic by another way (a producer of one's own, an old collector): one record with a clock
 * years ahead would otherwise take its lane's watermark there, and fire every customer's inactivity
 * deadlines of those years at once.
 *
 * The bound is Segment's for client clocks, 5 minutes ahead of receipt (Segment docs, "Timestamps, Time
 * Zones, and Clock Skew"); an event time past it is taken as the record's own time.
 */
import { EVENT_TIME_AHEAD_TOLERANCE_MS, type Touchpoint } from '../../schemas/touchpoint';

/**
 * The touchpoint itself, or a copy whose event time is its reference time when it ran ahead of that by more
 * than EVENT_TIME_AHEAD_TOLERANCE_MS. The reference is the earlier of the touchpoint's receivedAt and its record's
 * timestamp: a replay from a file, which has no records, bounds by receivedAt as the live processor does, and
 * a producer that wrote a receivedAt of its own is still bounded by when Kafka got the record.
 */
export function boundEventTime(tp: Touchpoint, recordTimestamp: number | undefined): Touchpoint {
  const reference = recordTimestamp === undefined ? tp.receivedAt : Math.min(recordTimestamp, tp.receivedAt);
  return tp.occurredAt > reference + EVENT_TIME_AHEAD_TOLERANCE_MS ? { ...tp, occurredAt: reference } : tp;
}
