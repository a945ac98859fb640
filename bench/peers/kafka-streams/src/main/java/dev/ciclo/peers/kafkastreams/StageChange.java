package dev.ciclo.peers.kafkastreams;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;

/**
 * A stage change as the peer writes it: small JSON keyed by the customer id. ciclo's own StageChanged is Avro
 * with the model, the triggering events, a sequence and a reason (schemas/outputs.ts); the peer writes what a
 * comparison needs, in JSON, which needs no registry to read.
 *
 * @param fromStage null for a new customer's first change
 * @param occurredAt event time of the change: the touchpoint's, or the inactivity deadline's
 */
public record StageChange(String customerId, String fromStage, String toStage, String ruleId, long occurredAt) {
  private static final JsonFactory JSON = new JsonFactory();

  public String toJson() {
    StringWriter out = new StringWriter(128);
    try (JsonGenerator g = JSON.createGenerator(out)) {
      g.writeStartObject();
      g.writeStringField("customerId", customerId);
      if (fromStage == null) g.writeNullField("fromStage");
      else g.writeStringField("fromStage", fromStage);
      g.writeStringField("toStage", toStage);
      g.writeStringField("ruleId", ruleId);
      g.writeNumberField("occurredAt", occurredAt);
      g.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toString();
  }
}
