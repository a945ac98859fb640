package dev.ciclo.peers.kafkastreams;

import java.time.Duration;
import java.util.Properties;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.AutoOffsetReset;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.TopologyConfig;
import org.apache.kafka.streams.state.KeyValueBytesStoreSupplier;
import org.apache.kafka.streams.state.Stores;

/**
 * touchpoints (String key, Confluent Avro value) -> LifecycleProcessor with its two changelogged stores ->
 * stage changes (String key, JSON value). No repartition: the input is keyed by customer already, so each
 * customer's touchpoints are in one partition, and its state in that partition's task.
 */
public final class LifecycleTopology {
  /** Which store implementation backs the two stores; either is changelogged to Kafka. */
  public enum StoreKind {
    /** RocksDB on local disk, Kafka Streams' default and what a user writes first. */
    ROCKSDB,
    /** A heap map restored from the changelog at start: the closest to ciclo's processor, which keeps state in memory. */
    IN_MEMORY
  }

  private LifecycleTopology() {}

  /** `config`: the application's Kafka Streams settings, of which the topology takes its own (TopologyConfig). */
  public static Topology build(
      String inputTopic,
      String outputTopic,
      StoreKind stores,
      Duration punctuateEvery,
      SchemaLookup schemas,
      Properties config) {
    Topology topology = new Topology(new TopologyConfig(new StreamsConfig(config)));
    topology.addSource(
        // From the start of the topic when the application has no committed offsets yet (a new run).
        AutoOffsetReset.earliest(),
        "touchpoints",
        new EventTimeExtractor(),
        new StringDeserializer(),
        new TouchpointDeserializer(schemas),
        inputTopic);
    topology.addProcessor("lifecycle", () -> new LifecycleProcessor(punctuateEvery), "touchpoints");
    topology.addStateStore(
        Stores.keyValueStoreBuilder(
            supplier(stores, LifecycleProcessor.CUSTOMERS_STORE), Serdes.String(), CustomerState.serde()),
        "lifecycle");
    topology.addStateStore(
        Stores.keyValueStoreBuilder(
            supplier(stores, LifecycleProcessor.DEADLINES_STORE), Serdes.Bytes(), Serdes.ByteArray()),
        "lifecycle");
    topology.addSink(
        "stage-changes", outputTopic, new StringSerializer(), new StringSerializer(), "lifecycle");
    return topology;
  }

  private static KeyValueBytesStoreSupplier supplier(StoreKind kind, String name) {
    return switch (kind) {
      case ROCKSDB -> Stores.persistentKeyValueStore(name);
      case IN_MEMORY -> Stores.inMemoryKeyValueStore(name);
    };
  }
}
