package dev.ciclo.peers.kafkastreams;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.Comparator;
import java.util.Map;
import java.util.Properties;
import org.apache.avro.Schema;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.test.TestRecord;

/**
 * Runs the peer's topology in Kafka Streams' TopologyTestDriver, with no broker and no registry: the records
 * of a file go in, the stage changes come out on stdout, one JSON object a line, in the order written.
 * bench/peers/kafka-streams.int.spec.ts writes the records (ciclo's own Avro encoding of touchpoints) and
 * compares what comes out with ciclo's replay of the same touchpoints.
 *
 * <p>Arguments: {@code <schema.json> <schema id> <records.jsonl> [rocksdb|in-memory] [punctuate interval
 * ms, default 60000]}. A record line is
 * {@code {"key": "...", "value": "<base64 wire-format bytes>", "timestamp": <ms>, "headers": {"name":
 * "value"}}}; the timestamp (the Kafka record's) and headers are optional.
 */
public final class SelfCheck {
  private static final String INPUT = "touchpoints";
  private static final String OUTPUT = "stage-changes";

  private SelfCheck() {}

  public static void main(String[] args) throws IOException {
    if (args.length < 3) {
      System.err.println(
          "usage: SelfCheck <schema.json> <schema id> <records.jsonl> [rocksdb|in-memory] [punctuate ms]");
      System.exit(2);
    }
    Schema schema = new Schema.Parser().parse(Files.readString(Path.of(args[0])));
    int schemaId = Integer.parseInt(args[1]);
    LifecycleTopology.StoreKind stores =
        args.length > 3 && args[3].equals("in-memory")
            ? LifecycleTopology.StoreKind.IN_MEMORY
            : LifecycleTopology.StoreKind.ROCKSDB;
    Duration punctuateEvery = Duration.ofMillis(args.length > 4 ? Long.parseLong(args[4]) : 60_000);
    Path stateDir = Files.createTempDirectory("ciclo-kafka-streams-selfcheck");
    Properties props = new Properties();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, "ciclo-kafka-streams-selfcheck");
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
    props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
    props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
    props.put("processing.exception.handler.global.enabled", "true"); // as the peer (PeerConfig)

    ObjectMapper json = new ObjectMapper();
    PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
    int records = 0;
    int changes = 0;
    try (TopologyTestDriver driver =
            new TopologyTestDriver(
                LifecycleTopology.build(
                    INPUT,
                    OUTPUT,
                    stores,
                    punctuateEvery,
                    SchemaLookup.of(Map.of(schemaId, schema)),
                    props),
                props);
        BufferedReader lines = Files.newBufferedReader(Path.of(args[2]))) {
      TestInputTopic<String, byte[]> in =
          driver.createInputTopic(INPUT, new StringSerializer(), new ByteArraySerializer());
      TestOutputTopic<String, String> stageChanges =
          driver.createOutputTopic(OUTPUT, new StringDeserializer(), new StringDeserializer());
      for (String line = lines.readLine(); line != null; line = lines.readLine()) {
        if (line.isBlank()) continue;
        JsonNode r = json.readTree(line);
        RecordHeaders headers = new RecordHeaders();
        JsonNode h = r.get("headers");
        if (h != null)
          for (Map.Entry<String, JsonNode> e : h.properties())
            headers.add(e.getKey(), e.getValue().asText().getBytes(StandardCharsets.UTF_8));
        Long timestamp = r.hasNonNull("timestamp") ? r.get("timestamp").asLong() : null;
        byte[] value = Base64.getDecoder().decode(r.get("value").asText());
        in.pipeInput(new TestRecord<>(r.get("key").asText(), value, headers, timestamp));
        records++;
        // Drained as it goes, so the output's order is the order changes were written in.
        for (String change : stageChanges.readValuesToList()) {
          out.println(change);
          changes++;
        }
      }
    } finally {
      deleteTree(stateDir);
    }
    out.flush();
    System.err.printf("self-check: %d records in, %d stage changes out (%s stores)%n", records, changes, stores);
  }

  private static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) return;
    try (var paths = Files.walk(dir)) {
      paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }
}
