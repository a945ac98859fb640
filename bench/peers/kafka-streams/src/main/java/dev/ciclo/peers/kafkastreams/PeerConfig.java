package dev.ciclo.peers.kafkastreams;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.streams.StreamsConfig;

/**
 * The peer's settings, from `--name value` arguments, with ciclo's environment variables for the two
 * endpoints (KAFKA_BROKERS, SCHEMA_REGISTRY_URL). Parsed once; every problem is reported at once.
 */
public record PeerConfig(
    String bootstrapServers,
    String registryUrl,
    String inputTopic,
    String outputTopic,
    String applicationId,
    String stateDir,
    int numStreamThreads,
    Long commitIntervalMs,
    int replicationFactor,
    LifecycleTopology.StoreKind store,
    Duration punctuateEvery,
    Map<String, String> extraStreamsProperties) {

  public static final String USAGE =
      """
      usage: java -cp <classpath> dev.ciclo.peers.kafkastreams.KafkaStreamsPeer \\
        --input-topic <touchpoints topic> --output-topic <stage changes topic> --application-id <id>
        [--bootstrap-servers host:port,...]   default $KAFKA_BROKERS, else 127.0.0.1:9092
        [--registry-url <url>]                default $SCHEMA_REGISTRY_URL, else http://127.0.0.1:8081/api/v1/confluent
        [--state-dir <dir>]                   default Kafka Streams' (<tmp>/kafka-streams)
        [--num-stream-threads <n>]            default 1
        [--commit-interval-ms <ms>]           default Kafka Streams' for exactly-once: 100
        [--replication-factor <n>]            of the changelog topics, default 1 (one broker)
        [--store rocksdb|in-memory]           default rocksdb
        [--punctuate-interval-ms <ms>]        stream time between inactivity scans, default 60000
        [--streams-property key=value]...     any other Kafka Streams setting
      """;

  /** Thrown with every problem found, one a line. */
  public static final class Invalid extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Invalid(List<String> problems) {
      super(String.join("\n", problems));
    }
  }

  public static PeerConfig parse(String[] args, Map<String, String> env) {
    List<String> problems = new ArrayList<>();
    Map<String, String> named = new LinkedHashMap<>();
    Map<String, String> streams = new LinkedHashMap<>();
    for (int i = 0; i < args.length; i++) {
      String flag = args[i];
      if (!flag.startsWith("--") || i + 1 >= args.length) {
        problems.add("expected --name value, got " + flag);
        continue;
      }
      String value = args[++i];
      if (flag.equals("--streams-property")) {
        int eq = value.indexOf('=');
        if (eq <= 0) problems.add("--streams-property takes key=value, got " + value);
        else streams.put(value.substring(0, eq), value.substring(eq + 1));
      } else named.put(flag.substring(2), value);
    }
    String bootstrap = named.remove("bootstrap-servers");
    String registry = named.remove("registry-url");
    String input = named.remove("input-topic");
    String output = named.remove("output-topic");
    String appId = named.remove("application-id");
    String stateDir = named.remove("state-dir");
    int threads = positive(named.remove("num-stream-threads"), 1, "num-stream-threads", problems);
    String commit = named.remove("commit-interval-ms");
    int replication = positive(named.remove("replication-factor"), 1, "replication-factor", problems);
    String store = named.remove("store");
    int punctuate = positive(named.remove("punctuate-interval-ms"), 60_000, "punctuate-interval-ms", problems);
    for (String unknown : named.keySet()) problems.add("unknown option --" + unknown);
    if (input == null) problems.add("--input-topic is required");
    if (output == null) problems.add("--output-topic is required");
    if (appId == null) problems.add("--application-id is required");
    LifecycleTopology.StoreKind kind = LifecycleTopology.StoreKind.ROCKSDB;
    if (store != null) {
      switch (store.toLowerCase(Locale.ROOT)) {
        case "rocksdb" -> kind = LifecycleTopology.StoreKind.ROCKSDB;
        case "in-memory" -> kind = LifecycleTopology.StoreKind.IN_MEMORY;
        default -> problems.add("--store is rocksdb or in-memory, got " + store);
      }
    }
    Long commitMs = null;
    if (commit != null) commitMs = (long) positive(commit, 0, "commit-interval-ms", problems);
    if (!problems.isEmpty()) throw new Invalid(problems);
    return new PeerConfig(
        bootstrap != null ? bootstrap : env.getOrDefault("KAFKA_BROKERS", "127.0.0.1:9092"),
        registry != null
            ? registry
            : env.getOrDefault("SCHEMA_REGISTRY_URL", "http://127.0.0.1:8081/api/v1/confluent"),
        input,
        output,
        appId,
        stateDir,
        threads,
        commitMs,
        replication,
        kind,
        Duration.ofMillis(punctuate),
        Map.copyOf(streams));
  }

  private static int positive(String value, int fallback, String name, List<String> problems) {
    if (value == null) return fallback;
    try {
      int n = Integer.parseInt(value);
      if (n > 0) return n;
    } catch (NumberFormatException e) {
      // reported below
    }
    problems.add("--" + name + " must be a positive integer, got " + value);
    return fallback;
  }

  /** The Kafka Streams configuration: exactly-once v2, and what the options say. */
  public Properties streamsConfig() {
    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
    p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
    p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, numStreamThreads);
    p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, replicationFactor);
    // Unset, Kafka Streams commits every 100 ms under exactly-once (30 s otherwise).
    if (commitIntervalMs != null) p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, commitIntervalMs);
    if (stateDir != null) p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
    // The topology has no global stores; set as Kafka Streams 4.x asks, which it warns about at every start.
    p.put("processing.exception.handler.global.enabled", "true");
    p.putAll(extraStreamsProperties);
    return p;
  }
}
