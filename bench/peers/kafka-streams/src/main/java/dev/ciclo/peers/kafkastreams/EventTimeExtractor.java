package dev.ciclo.peers.kafkastreams;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.streams.processor.TimestampExtractor;

/**
 * Stream time is event time: a touchpoint's occurredAt, not the Kafka record's timestamp (when it was
 * produced). The stream-time punctuator fires inactivity deadlines against it, as ciclo's partition clock
 * does, so a year of history replayed in a minute fires a year of deadlines.
 *
 * <p>The time is bounded as ciclo's processor bounds it (processors/domain/event-time.ts): an occurredAt more
 * than 5 minutes past the earlier of receivedAt and the record's timestamp is taken as that reference, so a
 * wrong clock years ahead cannot fire every customer's deadlines at once.
 *
 * <p>Records that fold into no customer (undecodable, or a business fact such as marketing spend) keep the
 * partition's time, as they move no clock in ciclo either; before the partition has a time that is -1,
 * and Kafka Streams drops a record of negative time, which the processor would have skipped anyway.
 */
public final class EventTimeExtractor implements TimestampExtractor {
  /** schemas/touchpoint.ts EVENT_TIME_AHEAD_TOLERANCE_MS. */
  static final long EVENT_TIME_AHEAD_TOLERANCE_MS = 5 * 60_000L;

  @Override
  public long extract(ConsumerRecord<Object, Object> record, long partitionTime) {
    if (!(record.value() instanceof Touchpoint tp) || tp.profileId() == null) return partitionTime;
    return boundedEventTime(tp, record.timestamp());
  }

  static long boundedEventTime(Touchpoint tp, long recordTimestamp) {
    long reference = recordTimestamp < 0 ? tp.receivedAt() : Math.min(recordTimestamp, tp.receivedAt());
    return tp.occurredAt() > reference + EVENT_TIME_AHEAD_TOLERANCE_MS ? reference : tp.occurredAt();
  }
}
