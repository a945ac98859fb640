/**
 * Every version `ciclo stack` installs, pinned in one place. Bump here and nowhere else; docker-compose.yml
 * names the matching official images.
 */
export const STACK_VERSIONS = {
  /** Apache Kafka in KRaft mode, assembled from Maven Central jars (kafka_2.13 and its runtime deps). */
  kafka: '4.4.0',
  /** log4j2 binding for Kafka's slf4j 1.7 logging. */
  log4j: '2.24.3',
  /**
   * Hortonworks Schema Registry (Apache-2.0) from Maven Central, serving the Confluent API at
   * /api/v1/confluent. Karapace is not on PyPI, and Apicurio's jars are incomplete in the Maven Central this
   * machine reaches (see registry-service.ts); this is the real registry that can be installed here.
   */
  hortonworksRegistry: '0.9.1',
  /** For docker-compose and testcontainers, where images can be pulled: Karapace, the original choice. */
  karapaceImage: 'ghcr.io/aiven-open/karapace:4.1.0',
  /**
   * HikariCP, the registry's JDBC pool: 0.9.1 depends on HikariCP-java6 2.2.5, whose runtime proxies fail
   * Java 17's verifier (VerifyError in ConnectionJavassistProxy); 4.x is its Java 8+ line, same API.
   */
  hikariCp: '4.0.3',
  /** Debian's PostgreSQL, where the registry keeps its schemas (the newest major installed is used). */
  postgresqlDebianPackage: 'postgresql',
  /** Debian bookworm's ClickHouse server package: old (18.16), which is why our SQL stays portable. */
  clickhouseDebianPackage: 'clickhouse-server',
  /**
   * Apache ZooKeeper for replicated ClickHouse, from Maven Central. Stay on 3.8: 3.9's connect handshake is
   * one byte longer than ClickHouse's client accepts (zookeeper-service.ts).
   */
  zookeeper: '3.8.6',
  /** Minimum Java for Kafka 4.x brokers. */
  javaMajor: 17,
} as const;

export const STACK_PORTS = {
  kafka: 9092,
  kafkaController: 9093,
  schemaRegistry: 8081,
  schemaRegistryAdmin: 8082,
  postgresql: 15432,
  clickhouseHttp: 8123,
  clickhouseNative: 9000,
  /** Replicas fetch parts from each other over this port (interserver_http_port). */
  clickhouseInterserver: 9009,
  /** ZooKeeper, for replicated ClickHouse only. */
  zookeeper: 2181,
} as const;
