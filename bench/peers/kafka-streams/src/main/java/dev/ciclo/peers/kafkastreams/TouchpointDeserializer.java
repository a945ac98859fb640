package dev.ciclo.peers.kafkastreams;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.avro.AvroRuntimeException;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.DecoderFactory;
import org.apache.kafka.common.serialization.Deserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Touchpoint values in the Confluent wire format, as ciclo writes them (infra/registry/serde.ts): magic byte
 * 0, the writer schema's registry id as a 4-byte big-endian int, then the Avro binary body. The body is read
 * with its writer schema as the reader schema, and the fields the peer needs are taken by name (Touchpoint).
 *
 * <p>Bytes that are not such a record (another magic byte, an id the registry does not know, a body that
 * does not parse) decode as null, which the processor skips and counts; ciclo's processor dead-letters them
 * instead. A registry that cannot be asked is an exception, which stops the stream thread (SchemaLookup).
 *
 * <p>One instance serves every task of every stream thread, so it holds nothing per record: readers are
 * kept per schema id (GenericDatumReader keeps its resolving state per thread) and decoders are made per call.
 */
public final class TouchpointDeserializer implements Deserializer<Touchpoint> {
  private static final Logger LOG = LoggerFactory.getLogger(TouchpointDeserializer.class);
  private static final byte MAGIC_BYTE = 0;
  private static final int HEADER_BYTES = 5;

  private final SchemaLookup schemas;
  private final Map<Integer, GenericDatumReader<GenericRecord>> readers = new ConcurrentHashMap<>();
  private final AtomicLong undecodable = new AtomicLong();

  public TouchpointDeserializer(SchemaLookup schemas) {
    this.schemas = schemas;
  }

  /** How many values did not decode so far. */
  public long undecodable() {
    return undecodable.get();
  }

  @Override
  public Touchpoint deserialize(String topic, byte[] data) {
    if (data == null) return null;
    if (data.length < HEADER_BYTES || data[0] != MAGIC_BYTE)
      return skip(topic, "not the Confluent wire format", null);
    int schemaId = ByteBuffer.wrap(data, 1, 4).getInt();
    GenericDatumReader<GenericRecord> reader = readers.get(schemaId);
    if (reader == null) {
      Schema schema = schemas.schemaById(schemaId);
      if (schema == null) return skip(topic, "schema id " + schemaId + " is not registered", null);
      reader = readers.computeIfAbsent(schemaId, id -> new GenericDatumReader<>(schema));
    }
    try {
      GenericRecord record =
          reader.read(
              null,
              DecoderFactory.get().binaryDecoder(data, HEADER_BYTES, data.length - HEADER_BYTES, null));
      return Touchpoint.fromAvro(record);
    } catch (IOException | AvroRuntimeException | ClassCastException | NullPointerException e) {
      return skip(topic, "Avro body of schema " + schemaId + " does not decode", e);
    }
  }

  private Touchpoint skip(String topic, String why, Exception cause) {
    long n = undecodable.incrementAndGet();
    // The first few in full, then every thousandth: a topic of garbage must not flood the log.
    if (n <= 10 || n % 1000 == 0) LOG.warn("skipped an undecodable record of {} ({} so far): {}", topic, n, why, cause);
    return null;
  }
}
