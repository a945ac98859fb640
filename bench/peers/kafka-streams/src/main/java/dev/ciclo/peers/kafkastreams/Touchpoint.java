package dev.ciclo.peers.kafkastreams;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericRecord;

/**
 * The fields of a ciclo touchpoint (schemas/touchpoint.ts) that the five-stage model reads, taken from the
 * Avro record. Everything else in the record (context, line items, source) is left unread: the peer keeps no
 * channel attribution, which no five-stage rule reads.
 *
 * @param customerId the customer's id, or null for an anonymous visitor's touchpoint
 * @param anonymousId the visitor's id, or null
 * @param type the touchpoint type, e.g. "PurchaseCompleted"
 * @param occurredAt event time, ms since the epoch
 * @param receivedAt when ciclo accepted the event, ms since the epoch
 * @param amountMinor PurchaseCompleted, RefundIssued: the amount in minor units; else null
 * @param currency PurchaseCompleted, RefundIssued: ISO 4217 code; else null
 * @param nps SurveyAnswered: the NPS answer (0-10) when given; else null
 * @param ticketId SupportTicketOpened, SupportTicketResolved: the ticket; else null
 * @param probabilityAlive ClvPredicted: P(alive) from ciclo's CLV fit; else null
 */
public record Touchpoint(
    String eventId,
    String type,
    String customerId,
    String anonymousId,
    long occurredAt,
    long receivedAt,
    Long amountMinor,
    String currency,
    Integer nps,
    String ticketId,
    Double probabilityAlive) {

  /** The id the touchpoint folds into: the customer, else the anonymous visitor (topics.ts touchpointKey). */
  public String profileId() {
    return customerId != null ? customerId : anonymousId;
  }

  /**
   * A decoded touchpoint record (any registered version of the contract: fields are read by name, and a
   * field the writer's version lacks reads as null).
   */
  public static Touchpoint fromAvro(GenericRecord r) {
    Object payload = field(r, "payload");
    GenericRecord p = payload instanceof GenericRecord g ? g : null;
    Object amount = p == null ? null : field(p, "amountMinor");
    Object nps = p == null ? null : field(p, "nps");
    Object pAlive = p == null ? null : field(p, "probabilityAlive");
    return new Touchpoint(
        text(field(r, "eventId")),
        text(field(r, "type")),
        text(field(r, "customerId")),
        text(field(r, "anonymousId")),
        ((Number) field(r, "occurredAt")).longValue(),
        ((Number) field(r, "receivedAt")).longValue(),
        amount == null ? null : ((Number) amount).longValue(),
        p == null ? null : text(field(p, "currency")),
        nps == null ? null : ((Number) nps).intValue(),
        p == null ? null : text(field(p, "ticketId")),
        pAlive == null ? null : ((Number) pAlive).doubleValue());
  }

  /** A field by name, null when the record's schema has no such field (GenericRecord.get would throw). */
  private static Object field(GenericRecord r, String name) {
    Schema.Field f = r.getSchema().getField(name);
    return f == null ? null : r.get(f.pos());
  }

  /** Avro strings decode as Utf8 and enums as EnumSymbol: both print as their text. */
  private static String text(Object value) {
    return value == null ? null : value.toString();
  }
}
