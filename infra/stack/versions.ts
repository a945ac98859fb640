/**
 * Every version `ciclo stack` installs, pinned in one place. Bump here and nowhere else; docker-compose.yml
 * names the matching official images.
 */
export const STACK_VERSIONS = {
  /** Apache Kafka in KRaft mode, assembled from Maven Central jars (kafka_2.13 and its runtime deps). */
  kafka: '4.4.0',
  /** log4j2 binding for Kafka's slf4j 1.7 logging. */
  log4j: '2.24.3',
  /** Apicurio Registry, serving the Confluent Schema Registry API; built from Maven Central (see registry.ts). */
  apicurioRegistry: '3.3.3',
  /** Debian bookworm's ClickHouse server package: old (18.16), which is why our SQL stays portable. */
  clickhouseDebianPackage: 'clickhouse-server',
  /** Minimum Java for Kafka 4.x brokers. */
  javaMajor: 17,
} as const;

export const STACK_PORTS = {
  kafka: 9092,
  kafkaController: 9093,
  schemaRegistry: 8081,
  clickhouseHttp: 8123,
  clickhouseNative: 9000,
} as const;
