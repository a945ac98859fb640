package dev.ciclo.peers.kafkastreams;

import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;

/**
 * The Kafka Streams peer of ciclo's lifecycle processor (five-stage model), for the bench: reads ciclo's
 * touchpoints, writes stage changes (see the README beside this source). Prints `kafka-streams peer:
 * RUNNING` on stdout once every task is running, which is what the bench waits for. SIGTERM or SIGINT
 * closes it cleanly (the open transaction committed or aborted, stores flushed) and it exits as the signal
 * says (143, 130); it exits 1 when a stream thread failed, 2 on invalid arguments.
 */
public final class KafkaStreamsPeer {
  private KafkaStreamsPeer() {}

  public static void main(String[] args) throws InterruptedException {
    PeerConfig config;
    try {
      config = PeerConfig.parse(args, System.getenv());
    } catch (PeerConfig.Invalid e) {
      System.err.println(e.getMessage());
      System.err.print(PeerConfig.USAGE);
      System.exit(2);
      return;
    }
    Properties streamsConfig = config.streamsConfig();
    KafkaStreams streams =
        new KafkaStreams(
            LifecycleTopology.build(
                config.inputTopic(),
                config.outputTopic(),
                config.store(),
                config.punctuateEvery(),
                new SchemaLookup.Registry(config.registryUrl()),
                streamsConfig),
            streamsConfig);

    CountDownLatch stopped = new CountDownLatch(1);
    AtomicBoolean failed = new AtomicBoolean();
    // A failed thread stops the whole client rather than being replaced: the bench must see a failure.
    streams.setUncaughtExceptionHandler(
        e -> {
          failed.set(true);
          System.err.println("kafka-streams peer: stream thread failed: " + e);
          return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
    streams.setStateListener(
        (now, before) -> {
          System.out.println("kafka-streams peer: " + now);
          if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.NOT_RUNNING) stopped.countDown();
        });
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  streams.close();
                  stopped.countDown();
                },
                "peer-shutdown"));
    streams.start();
    stopped.await();
    streams.close();
    System.exit(failed.get() ? 1 : 0);
  }
}
